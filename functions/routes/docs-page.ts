/**
 * The /docs page: the OpenAPI document as one self-contained HTML page (no script, no CDN: it works
 * offline and inside a VPC). Each route with its parameters and JSON body fields (bounds, defaults,
 * descriptions), the body schemas it names listed once below; /openapi.json stays the full description.
 */

/** The parts of an OpenAPI 3.0 schema the page shows. */
interface Schema {
  $ref?: string;
  type?: string;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  example?: unknown;
  items?: Schema;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
}

interface Operation {
  summary?: string;
  description?: string;
  parameters?: { name?: string; in?: string; required?: boolean; description?: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, unknown>;
}

export interface DocsInput {
  info: { title: string; description?: string };
  paths?: Record<string, Partial<Record<'get' | 'post' | 'put' | 'delete', Operation>>>;
  components?: { schemas?: Record<string, Schema> };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const code = (s: string) => `<code>${escapeHtml(s)}</code>`;
const refName = (ref: string) => ref.replace('#/components/schemas/', '');

/** A schema in a few words: its type (or the schema it names) and bounds, e.g. `number, 0 < x ≤ 1`. */
function shape(s: Schema): string {
  if (s.$ref) return `<a href="#schema-${escapeHtml(refName(s.$ref))}">${escapeHtml(refName(s.$ref))}</a>`;
  if (s.anyOf) return s.anyOf.map(shape).join(' or ');
  if (s.enum) return s.enum.map((v) => code(String(v))).join(' | ');
  if (s.type === 'array') return `list of ${s.items ? shape(s.items) : 'values'}`;
  const bounds = [
    s.minimum !== undefined ? `${s.minimum} ${s.exclusiveMinimum ? '<' : '≤'} x` : '',
    s.maximum !== undefined ? `${s.minimum === undefined ? 'x ' : ' '}${s.exclusiveMaximum ? '<' : '≤'} ${s.maximum}` : '',
  ].join('');
  const length = s.maxLength !== undefined ? `${s.minLength ?? 0}-${s.maxLength} characters` : '';
  return [escapeHtml(s.type ?? 'any'), escapeHtml(bounds), length].filter(Boolean).join(', ');
}

function fieldRows(s: Schema): string {
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {})
    .map(
      ([name, f]) =>
        `<tr><td>${code(name)}${required.has(name) ? ' (required)' : ''}</td><td>${shape(f)}</td><td>${escapeHtml(
          f.description ?? f.anyOf?.find((a) => a.description)?.description ?? '',
        )}</td></tr>`,
    )
    .join('');
}

const table = (head: string, rows: string) => (rows ? `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>` : '');

export function docsPage(doc: DocsInput): string {
  const schemas = doc.components?.schemas ?? {};
  const named = new Set<string>();
  const sections: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'delete'] as const) {
      const op = item[method];
      if (!op) continue;
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<tr><td>${code(p.name ?? '')} (${escapeHtml(p.in ?? '')}${p.required ? ', required' : ''})</td><td>${p.schema ? shape(p.schema) : ''}</td><td>${escapeHtml(p.description ?? '')}</td></tr>`,
        )
        .join('');
      const body = op.requestBody?.content?.['application/json']?.schema;
      if (body?.$ref) named.add(refName(body.$ref));
      sections.push(
        `<section><h2>${code(`${method.toUpperCase()} ${path}`)}</h2><p>${escapeHtml(op.summary ?? '')}</p>` +
          (op.description ? `<p>${escapeHtml(op.description)}</p>` : '') +
          table('<th>Parameter</th><th>Type</th><th></th>', params) +
          (body ? `<p>JSON body: ${shape(body)}</p>` : '') +
          `<p>Responses: ${Object.keys(op.responses ?? {})
            .map(escapeHtml)
            .join(', ')}</p></section>`,
      );
    }
  }
  // The body schemas, and the schemas their fields name (Hyperparameters inside FinetuneRequest).
  for (const name of [...named]) for (const f of Object.values(schemas[name]?.properties ?? {})) if (f.$ref) named.add(refName(f.$ref));
  const bodies = [...named]
    .filter((name) => schemas[name])
    .map(
      (name) =>
        `<section id="schema-${escapeHtml(name)}"><h2>${escapeHtml(name)}</h2>${
          schemas[name].description ? `<p>${escapeHtml(schemas[name].description ?? '')}</p>` : ''
        }${table('<th>Field</th><th>Type</th><th></th>', fieldRows(schemas[name]))}</section>`,
    );
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<link rel="icon" href="data:,"><title>${escapeHtml(doc.info.title)} API</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}' +
    'h2{font-size:1rem;margin-top:2rem}table{border-collapse:collapse;width:100%;font-size:.9rem}' +
    'td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}td:first-child{white-space:nowrap}code{overflow-wrap:anywhere}</style></head><body>' +
    `<h1>${escapeHtml(doc.info.title)} API</h1><p>${escapeHtml(doc.info.description ?? '')}</p>` +
    `<p>Every route but ${code('/healthz')} and this documentation needs ${code('Authorization: Bearer <key>')}. ` +
    `The machine-readable description is <a href="openapi.json">${code('/openapi.json')}</a>.</p>` +
    `${sections.join('')}${bodies.length > 0 ? `<h1>Request bodies</h1>${bodies.join('')}` : ''}</body></html>`
  );
}
