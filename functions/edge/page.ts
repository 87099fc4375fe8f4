/**
 * The script of the /edge page (bundled by functions/edge/assets.ts): runs adapters in this page with
 * serving/web.ts against the store that served it, and exposes the runtime as
 * `window.adapterStore` for scripts (and the browser test). The page has no DOM typings here: the few
 * elements it touches are typed below.
 */
import { tapEngines } from '../../serving/tap.ts';
import { createWebPredictor, type WebPredictor } from '../../serving/web.ts';

interface Field {
  value: string;
}
interface Doc {
  getElementById(
    id: string,
  ): (Field & { textContent: string | null; addEventListener(t: string, f: (e: { preventDefault(): void }) => void): void }) | null;
}

const page = globalThis as unknown as { document?: Doc; location: { origin: string }; adapterStore?: unknown };
page.adapterStore = { createWebPredictor, tapEngines };

let predictor: WebPredictor | null = null;
let predictorKey = '';
const doc = page.document;
const form = doc?.getElementById('predict');
const out = doc?.getElementById('out');
form?.addEventListener('submit', (e) => {
  e.preventDefault();
  const value = (id: string) => doc?.getElementById(id)?.value.trim() ?? '';
  const key = value('key');
  if (!predictor || key !== predictorKey) {
    void predictor?.close();
    predictor = createWebPredictor({ apiUrl: page.location.origin, apiKey: key });
    predictorKey = key;
  }
  const inputs = value('texts')
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (out) out.textContent = 'running...';
  const t0 = performance.now();
  predictor
    .predict({ task: value('task'), version: value('version') || undefined, inputs })
    .then((r) => {
      if (out) out.textContent = `${JSON.stringify(r, null, 2)}\n\n${(performance.now() - t0).toFixed(0)} ms in this page`;
    })
    .catch((err: unknown) => {
      if (out) out.textContent = `error: ${(err as Error).message}`;
    });
});
