/** The API's OpenAPI document, fetched once per page load: the form's bounds and which routes exist. */
import { getJson } from './api.ts';
import type { OpenApiDoc } from './form-schema.ts';

export type Doc = OpenApiDoc & { paths?: Record<string, unknown> };

let doc: Promise<Doc> | null = null;

export function openApi(): Promise<Doc> {
  doc ??= getJson<Doc>('/openapi.json').catch((err: unknown) => {
    doc = null; // try again next time
    throw err;
  });
  return doc;
}

export async function hasRoute(path: string): Promise<boolean> {
  return Object.hasOwn((await openApi()).paths ?? {}, path);
}
