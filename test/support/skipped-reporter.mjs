// A node:test reporter that writes one JSON line per test that did not run (skipped or todo), for
// test/run.mjs to name them and, under CI, fail the run: a skipped check is a check that did not happen.
// It also writes one line per test that ran, so the runner can tell "nothing skipped" from "nothing ran".

export default async function* skippedReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { name, file, line, skip, todo } = event.data;
    if (skip !== undefined || todo !== undefined) {
      const why = skip !== undefined ? skip : todo;
      yield `${JSON.stringify({ name, file, line, kind: skip !== undefined ? 'skipped' : 'todo', reason: typeof why === 'string' ? why : '' })}\n`;
    } else yield `${JSON.stringify({ ran: name })}\n`;
  }
}
