/**
 * The in-browser runtime (functions/edge/, serving/web.ts), where the app serves it: the shell
 * names its script in a meta tag (functions/console/route.ts). The script (onnxruntime-web and the graph
 * builder, far over the console's budget) is imported on first use only, from the same origin, and
 * exposes `window.adapterStore`. One predictor per key, kept for the page's life (sessions and base reused).
 */
import { API_ROOT, getKey } from './api.ts';
import type { Prediction } from './types.ts';

/** The part of serving/web.ts the console calls (the UI's tsconfig sees no trainer code). */
interface EdgePredictor {
  predict(req: { task: string; version?: string; inputs: string[] }): Promise<{ predictions: Prediction[] }>;
  close(): Promise<void>;
}
interface EdgeRuntime {
  createWebPredictor(o: { apiUrl: string; apiKey?: string }): EdgePredictor;
}

/** The runtime's script URL, or null when this server does not serve it. */
export function edgeScript(): string | null {
  const path = document.querySelector<HTMLMetaElement>('meta[name="adapter-store-edge"]')?.content;
  return path ? API_ROOT + path : null;
}

let runtime: Promise<EdgeRuntime> | null = null;
let predictor: { key: string; p: EdgePredictor } | null = null;

function loadRuntime(src: string): Promise<EdgeRuntime> {
  runtime ??= import(/* the edge bundle, built apart */ src).then(() => {
    const rt = (window as unknown as { adapterStore?: EdgeRuntime }).adapterStore;
    if (!rt) throw new Error(`${src} did not expose window.adapterStore`);
    return rt;
  });
  runtime.catch(() => {
    runtime = null; // try again on the next click
  });
  return runtime;
}

/** Classifies `text` in this page; the first call loads the runtime and the base (then cached). */
export async function predictInBrowser(task: string, version: string, text: string): Promise<Prediction> {
  const src = edgeScript();
  if (!src) throw new Error('this server does not serve the in-browser runtime');
  const rt = await loadRuntime(src);
  const key = getKey() ?? '';
  if (predictor?.key !== key) {
    void predictor?.p.close();
    predictor = { key, p: rt.createWebPredictor({ apiUrl: location.origin + API_ROOT, apiKey: key }) };
  }
  const r = await predictor.p.predict({ task, version, inputs: [text] });
  return r.predictions[0];
}
