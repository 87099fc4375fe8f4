/**
 * The README and the docs/ pages as a reader follows them: every relative link (and #anchor) resolves,
 * docs/index.md lists every page, the README stays a front door, and no page points at files outside
 * the repository.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const REPO = resolve(import.meta.dirname, '..', '..');
const DOCS = join(REPO, 'docs');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

const pages = [join(REPO, 'README.md'), ...markdownFiles(DOCS)];

/** The text outside fenced code blocks (links and headings in code are not links or headings). */
function prose(path: string): string {
  return readFileSync(path, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(path: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, title] of prose(path).matchAll(/^#{1,6}\s+(.*)$/gm)) {
    const slug = title
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

test('every relative link and anchor in the README and docs/ resolves', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const [, url] of prose(page).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(url)) continue; // https:, mailto: ...
      checked++;
      const [path, fragment] = url.split('#');
      const target = path ? resolve(dirname(page), path) : page;
      const where = `${relative(REPO, page)}: ${url}`;
      if (!existsSync(target)) broken.push(`${where} (no such file)`);
      else if (fragment && target.endsWith('.md') && !anchors(target).has(fragment)) broken.push(`${where} (no such heading)`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links found`);
  assert.deepEqual(broken, []);
});

test('docs/index.md links every page of docs/', () => {
  const index = readFileSync(join(DOCS, 'index.md'), 'utf8');
  const linked = new Set([...index.matchAll(/\]\(([^)#\s]+\.md)\)/g)].map(([, p]) => resolve(DOCS, p)));
  const unlisted = markdownFiles(DOCS)
    .filter((p) => p !== join(DOCS, 'index.md') && !linked.has(p))
    .map((p) => relative(REPO, p));
  assert.deepEqual(unlisted, []);
});

test('the README is a front door: at most 250 lines, the manual in docs/', () => {
  const lines = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n').length;
  assert.ok(lines <= 250, `README.md has ${lines} lines; move reference text to a docs/ page`);
});

test('no page points at files outside the repository', () => {
  const outside = pages.filter((p) => /\.\.\/shared\b/.test(readFileSync(p, 'utf8'))).map((p) => relative(REPO, p));
  assert.deepEqual(outside, []);
});
