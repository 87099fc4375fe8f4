/**
 * The console end to end in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core;
 * no browser download) against `npm start`'s server: sign in, a refused dataset with its line number,
 * the sample dataset dropped on the page, a fine-tune from the generated form, the job followed to the
 * end with its loss curve drawn, the adapter page, "Try it" where the API predicts (and "Run in this
 * browser", the edge runtime, with the server's probabilities), a download that hashes to the manifest;
 * the polish of issue 20 (Sign out hidden before sign-in, the smoothed loss beside the validation metric,
 * final vs selected scores, defaults and bases in the form, a sweep's progress in points, snippets that fit
 * a phone and name the README's KEY) and the majority-class warning.
 * Screenshots (PNG, checked for their pixel size) go to a temporary folder whose path the test prints;
 * with UPDATE_CONSOLE_SCREENSHOTS=1 they are also copied to docs/.
 * No console error is allowed on any page: a CSP violation would be one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { type LocalServer, startLocalServer } from '../../support/local-server.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const SAMPLE = readFileSync(join(REPO, 'examples', 'sentiment.jsonl'), 'utf8');

/** Width and height from a PNG's IHDR chunk, after checking its signature. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.ok(b.length > 1000, `${file} is a real image (${b.length} bytes)`);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is a PNG`);
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

const servers: LocalServer[] = [];
after(() => {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
});

test('the console: sign in, upload, fine-tune, watch the loss curve, open the adapter, try it, download', {
  skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}`,
}, async (t) => {
  const store = mkdtempSync(join(tmpdir(), 'console-store-'));
  const out = mkdtempSync(join(tmpdir(), 'console-e2e-'));
  t.diagnostic(`screenshots and the download: ${out}`);
  const server = await startLocalServer({ store, env: { ADAPTER_STORE_THREADS: '1' } });
  servers.push(server);
  const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
  const doc = (await (await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
    paths: Record<string, unknown>;
  };
  const canPredict = '/adapters/{task}/predict' in doc.paths;

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const shots: { file: string; width: number; height: number }[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    // The edge runtime asks for a base's optional tokenizer files; the absent ones answer 404, which the
    // browser logs itself: only those are let through.
    const optionalBaseFile = /\/models\/[^/]+\/files\/(vocab\.txt|tokenizer\.json|tokenizer_config\.json)$/;
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (/status of 404/.test(m.text()) && optionalBaseFile.test(m.location().url)) return;
      errors.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const shot = async (p: Page, name: string, width: number, height: number) => {
      const file = join(out, `console-${name}.png`);
      await p.screenshot({ path: file });
      shots.push({ file, width, height });
    };

    // Sign in: the shell loads without a key; a wrong key is refused, the right one kept.
    await page.goto(`${server.url}/console`);
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), false, 'no "Sign out" before signing in');
    assert.equal(await page.evaluate('document.activeElement?.id'), 'api-key', 'the key field has the focus');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Sign in', 'Tab reaches the button');
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('That key is not valid here.').waitFor();
    errors.length = 0; // the refused key's 401 is logged by the browser itself
    await page.getByLabel('API key').fill(key);
    await page.getByLabel('API key').press('Enter');
    await page.getByRole('heading', { name: 'Adapters' }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('adapter-store.api-key')"), key);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), true, '"Sign out" once signed in');

    // A refused dataset names its line; then the sample, dropped on the page.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'New fine-tune' }).click();
    await page.getByLabel('Dataset file').setInputFiles({
      name: 'bad.jsonl',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from('{"text":"fine","label":"positive"}\n{"text":"no label here"}\n'),
    });
    await page.getByTestId('dataset-status').getByText('Line 2:').waitFor();
    // A drop as the browser makes it: a DataTransfer holding the file (built in the page, whose globals these are).
    const files = await page.evaluateHandle(
      `(() => { const dt = new DataTransfer(); dt.items.add(new File([${JSON.stringify(SAMPLE)}], 'sentiment.jsonl', { type: 'application/x-ndjson' })); return dt; })()`,
    );
    await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: files });
    await page.getByTestId('dataset-status').getByText('400 rows').waitFor();
    errors.length = 0; // the refused upload's 400 is logged by the browser itself

    // The form comes from the OpenAPI bounds and defaults: each field shows both.
    const hp = doc as unknown as { components: { schemas: { Hyperparameters: { properties: Record<string, { default?: unknown }> } } } };
    const lrDefault = String(hp.components.schemas.Hyperparameters.properties.lr.default);
    assert.notEqual(lrDefault, 'undefined', '/openapi.json states the default lr');
    assert.equal(
      await page.getByLabel('lr', { exact: true }).getAttribute('placeholder'),
      lrDefault,
      'the empty lr field shows its default',
    );
    assert.match(
      (await page.locator('#hp-lr-hint').textContent()) ?? '',
      new RegExp(`default ${lrDefault.replace('.', '\\.')} · 0 < x ≤ 1`),
    );
    assert.match((await page.locator('#hp-epochs-hint').textContent()) ?? '', /default \d+ · 1 ≤ x ≤ \d+/);
    // The base model is picked from the store's bases (GET /models), the default preselected.
    const bases = (await (await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
      data: { name: string; default: boolean }[];
    };
    await page.locator('#base-model option[value]:not([value=""])').first().waitFor({ state: 'attached' });
    assert.deepEqual(
      await page.locator('#base-model option').evaluateAll((os) => os.map((o) => o.getAttribute('value'))),
      bases.data.map((b) => b.name),
    );
    assert.equal(await page.getByLabel('Base model').inputValue(), bases.data.find((b) => b.default)?.name);

    // An out-of-bounds lr is refused before any request.
    await page.getByLabel('Task name').fill('console-demo');
    await page.getByLabel('lr', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Start fine-tune' }).click();
    await page.getByText('lr must be ≤ 1').waitFor();
    await page.getByLabel('lr', { exact: true }).fill('0.003');
    assert.equal(await page.getByText('lr must be ≤ 1').count(), 0, 'the corrected field clears its message');
    await page.getByLabel('epochs', { exact: true }).fill('10');
    await page.getByLabel('batchSize', { exact: true }).fill('16');
    await page.getByLabel('validationSplit', { exact: true }).fill('0.2');
    // The picture shows the job step: the base picker and the fields with their defaults and bounds.
    await page.evaluate("document.getElementById('step-job').scrollIntoView()");
    await shot(page, 'new-finetune', 1280, 800);
    await page.getByRole('button', { name: 'Start fine-tune' }).click();

    // The job page follows it to the end and draws its loss curve.
    await page.waitForURL(/#\/jobs\/ft-/);
    await page.locator('.badge.succeeded').waitFor({ timeout: 100_000 });
    await page.locator('[data-final="true"] [data-testid="loss-chart"] path.line').waitFor();
    const points = Number(await page.getByTestId('loss-chart').getAttribute('data-points'));
    assert.ok(points >= 10, `the loss curve has every step (${points} points)`);
    // Smoothed: the moving average over the raw values drawn faint behind it (two different paths).
    const lossPaths = await page
      .locator('[data-final="true"] [data-testid="loss-chart"] path')
      .evaluateAll((ps) => ps.map((p) => [p.getAttribute('class'), p.getAttribute('d')]));
    assert.deepEqual(
      lossPaths.map(([c]) => c),
      ['raw', 'line'],
    );
    assert.notEqual(lossPaths[0][1], lossPaths[1][1], 'the smoothed curve is not the raw one');
    // The validation metric beside it: one point per evaluation.
    await page.locator('[data-testid="validation-chart"] path.line').waitFor();
    assert.ok(Number(await page.getByTestId('validation-chart').getAttribute('data-points')) >= 2, 'the validation metric is plotted');
    const selectedStep = /step (\d+)/.exec((await page.locator('dt', { hasText: 'selected checkpoint' }).textContent()) ?? '')?.[1];
    assert.ok(selectedStep, 'the selected row names its step');
    assert.equal(
      await page.locator('[data-testid="validation-chart"] circle.marker').getAttribute('data-x'),
      selectedStep,
      'the selected checkpoint is marked on the validation curve',
    );
    // Final vs selected: the published (selected) score is the adapter's; a different final one is labelled apart.
    const published = (await (
      await fetch(`${server.url}/adapters/console-demo`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { manifest: { metrics: { accuracy: number } } };
    const selected = page.getByTestId('validation-selected');
    assert.equal(Number(await selected.getAttribute('data-accuracy')), published.manifest.metrics.accuracy);
    const finalRow = page.getByTestId('validation-final');
    if ((await finalRow.count()) > 0) {
      assert.match((await page.locator('dt', { hasText: 'final evaluation' }).textContent()) ?? '', /not published/);
      assert.notEqual(await finalRow.getAttribute('data-accuracy'), await selected.getAttribute('data-accuracy'));
    } else {
      assert.match((await page.locator('dt', { hasText: 'selected checkpoint' }).textContent()) ?? '', /also the final evaluation/);
    }
    assert.equal(await page.getByTestId('progress').getAttribute('value'), '1');
    if ('/finetune/{jobId}/events' in doc.paths) {
      // The events route: the job's log, newest first, from created to succeeded with step metrics.
      await page.locator('.events li').filter({ hasText: 'succeeded' }).first().waitFor();
      assert.ok((await page.locator('.events li').filter({ hasText: 'metrics' }).count()) > 0, 'step metrics events are listed');
      assert.ok((await page.locator('.events li').filter({ hasText: 'created' }).count()) > 0, 'the created event is listed');
    }
    await shot(page, 'job', 1280, 800);

    // The jobs list shows it.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('row').filter({ hasText: 'console-demo' }).getByText('succeeded').waitFor();
    await page.goBack();

    // The adapter: manifest, curves, snippets.
    await page.getByTestId('adapter-link').click();
    await page.getByRole('heading', { name: 'Adapter console-demo' }).waitFor();
    await page.locator('[data-testid="loss-chart"] path.line').waitFor();
    await page.locator('[data-testid="lr-chart"] path.line').waitFor();
    // The validation metric here too, the published checkpoint marked.
    await page.locator('[data-testid="validation-chart"] circle.marker').waitFor();
    await page.getByText('curl: download').waitFor();
    // The snippets read the key from the variable the README's worked example sets.
    const snippets = (await page.locator('.snippet pre').allTextContents()).join('\n');
    assert.match(snippets, /Bearer \$KEY"/);
    assert.match(snippets, /os\.environ\['KEY'\]/);
    assert.doesNotMatch(snippets, /ADAPTER_STORE_KEY/);
    assert.match((await page.getByTestId('key-hint').textContent()) ?? '', /export KEY=\$\(cat \.adapter-store\/api-key\)/);
    assert.match(readFileSync(join(REPO, 'README.md'), 'utf8'), /^KEY=\$\(cat \.adapter-store\/api-key\)$/m, 'the README sets KEY');
    if (canPredict) {
      await page.getByLabel('Text to classify').fill('a wonderful, moving film');
      await page.getByRole('button', { name: 'Classify' }).click();
      await page.getByTestId('prediction').waitFor();
      // The same text in this page (npm start serves the edge runtime): the same probabilities.
      await page.getByRole('button', { name: 'Run in this browser' }).click();
      await page.getByTestId('prediction-browser').waitFor({ timeout: 120_000 });
      const probs = async (testId: string) =>
        (await page.evaluate(
          `Object.fromEntries([...document.querySelectorAll('[data-testid="${testId}"] li')].map((li) => [li.dataset.label, Number(li.dataset.prob)]))`,
        )) as Record<string, number>;
      const onServer = await probs('prediction');
      const inBrowser = await probs('prediction-browser');
      assert.deepEqual(Object.keys(inBrowser).sort(), Object.keys(onServer).sort(), 'the same labels');
      assert.ok(Object.keys(onServer).length >= 2, 'probabilities are listed');
      for (const [label, p] of Object.entries(onServer))
        assert.ok(Math.abs(inBrowser[label] - p) <= 1e-4, `${label}: ${inBrowser[label]} in the browser, ${p} on the server`);
      t.diagnostic(
        `Try it: server ${await page.getByTestId('prediction').getAttribute('data-ms')} ms, browser (first run) ${await page.getByTestId('prediction-browser').getAttribute('data-ms')} ms`,
      );
    } else {
      assert.equal(await page.getByRole('heading', { name: 'Try it' }).count(), 0, 'no "Try it" without a predict route');
    }
    // The picture shows the curves (loss, validation, learning rate) and "Try it" below them.
    await page.evaluate("document.getElementById('curves-title').scrollIntoView()");
    await shot(page, 'adapter', 1280, 800);

    // Download: the bytes hash to the manifest's sha256.
    const manifest = (await (
      await fetch(`${server.url}/adapters/console-demo`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { manifest: { files: { name: string; sha256: string }[] } };
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download adapter.safetensors' }).click(),
    ]);
    const saved = join(out, 'adapter.safetensors');
    await download.saveAs(saved);
    assert.equal(download.suggestedFilename(), 'adapter.safetensors');
    assert.equal(
      createHash('sha256').update(readFileSync(saved)).digest('hex'),
      manifest.manifest.files.find((f) => f.name === 'adapter.safetensors')!.sha256,
    );

    // Cancel from the job page: a long job (started through the API) ends cancelled.
    const auth = { authorization: `Bearer ${key}` };
    const uploaded = (await (
      await fetch(`${server.url}/datasets?name=sentiment.jsonl`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: SAMPLE,
      })
    ).json()) as { datasetUri: string };
    const long = (await (
      await fetch(`${server.url}/finetune`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'console-long', datasetUri: uploaded.datasetUri, hyperparameters: { epochs: 100 } }),
      })
    ).json()) as { jobId: string };
    await page.goto(`${server.url}/console#/jobs/${long.jobId}`);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.badge.cancelled').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).count(), 0, 'a cancelled job has no cancel button');
    await page.goBack();
    await page.getByRole('heading', { name: 'Adapter console-demo' }).waitFor();

    // A sweep (started through the API): the job page lists its points and marks the published one.
    const sweep = (await (
      await fetch(`${server.url}/finetune`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          task: 'console-sweep',
          datasetUri: uploaded.datasetUri,
          hyperparameters: { epochs: 1, lr: [3e-3, 1e-3], validationSplit: 0.2 },
        }),
      })
    ).json()) as { jobId: string };
    await page.goto(`${server.url}/console#/jobs/${sweep.jobId}`);
    const rows = page.getByTestId('sweep-points').locator('tbody tr');
    await page.getByTestId('sweep-points').locator('tr.best').waitFor({ timeout: 120_000 });
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.locator('.badge.succeeded').count(), 2);
    assert.match((await page.getByTestId('sweep-points').locator('tr.best').textContent()) ?? '', /★/);
    // A sweep's progress counts points, not the steps of all of them.
    await page.getByTestId('progress-text').getByText('2 / 2 points done').waitFor();
    assert.doesNotMatch((await page.getByTestId('progress-text').textContent()) ?? '', /steps/);
    await shot(page, 'sweep', 1280, 800);
    // At phone width the table scrolls inside the page; the page itself does not overflow.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) <= 0, 'the sweep page fits a phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // The majority-class guardrail: every row the same text, 3 in 4 "positive": the adapter can only
    // answer one label, so it is published flagged, and the job and adapter pages say so.
    const constantRows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ text: 'the same words', label: i % 4 ? 'positive' : 'negative' }),
    );
    const constant = (await (
      await fetch(`${server.url}/datasets?name=constant.jsonl`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: `${constantRows.join('\n')}\n`,
      })
    ).json()) as { datasetUri: string };
    const flagged = (await (
      await fetch(`${server.url}/finetune`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          task: 'console-constant',
          datasetUri: constant.datasetUri,
          hyperparameters: { epochs: 3, batchSize: 8, validationSplit: 0.25 },
        }),
      })
    ).json()) as { jobId: string };
    await page.goto(`${server.url}/console#/jobs/${flagged.jobId}`);
    await page.locator('.badge.succeeded').waitFor({ timeout: 100_000 });
    await page.getByTestId('below-majority').getByText('No better than the majority class.').waitFor();
    assert.match((await page.getByTestId('below-majority').textContent()) ?? '', /"positive"/);
    await shot(page, 'job-below-majority', 1280, 800);
    // The jobs list flags it too, and counts the sweep in points.
    await page.goto(`${server.url}/console#/jobs`);
    await page.getByRole('row').filter({ hasText: 'console-constant' }).getByText('below majority').waitFor();
    await page.getByRole('row').filter({ hasText: 'console-sweep' }).getByText('2 / 2 points done').waitFor();
    assert.equal(await page.getByRole('row').filter({ hasText: 'console-demo' }).getByText('below majority').count(), 0);
    await page.goto(`${server.url}/console#/jobs/${flagged.jobId}`);
    await page.getByTestId('below-majority').waitFor();
    await page.getByTestId('adapter-link').click();
    await page.getByRole('heading', { name: 'Adapter console-constant' }).waitFor();
    await page.getByTestId('below-majority').getByText('No better than the majority class.').waitFor();

    await page.goto(`${server.url}/console#/adapters/console-demo`);
    await page.getByRole('heading', { name: 'Adapter console-demo' }).waitFor();
    assert.equal(await page.getByTestId('below-majority').count(), 0, 'a learned adapter carries no warning');

    // Phone width: nothing overflows sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate('window.scrollTo(0, 0)');
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    // Each code snippet stays inside its box: nothing scrolls or spills sideways.
    const spills = (await page.evaluate(
      `[...document.querySelectorAll('.snippet pre')].map((p) => ({ over: p.scrollWidth - p.clientWidth, right: p.getBoundingClientRect().right }))`,
    )) as { over: number; right: number }[];
    assert.ok(spills.length >= 3, 'the snippets are on the page');
    for (const sp of spills) assert.ok(sp.over <= 0 && sp.right <= 390, `a snippet spills: ${JSON.stringify(sp)}`);
    await shot(page, 'adapter-phone', 390, 844);

    assert.deepEqual(errors, [], 'no console errors (a CSP violation would be one)');
  } finally {
    await browser.close();
    assert.equal(await server.stop('SIGTERM'), 0);
  }
  for (const s of shots) assert.deepEqual(pngSize(s.file), { width: s.width, height: s.height }, s.file);
  if (process.env.UPDATE_CONSOLE_SCREENSHOTS === '1') {
    for (const s of shots) copyFileSync(s.file, join(REPO, 'docs', s.file.split('/').pop()!));
  }
});
