// Module resolution hook for redirect-onnxruntime.mjs.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function resolve(specifier, context, next) {
  const copy = process.env.TEST_ONNXRUNTIME_NODE;
  if (specifier === 'onnxruntime-node' && copy) return { url: pathToFileURL(join(copy, 'dist', 'index.js')).href, shortCircuit: true };
  return next(specifier, context);
}
