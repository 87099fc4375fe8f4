/**
 * The fine-tune form's fields, read from the API's own OpenAPI document (components.schemas.Hyperparameters):
 * the bounds the form shows and checks are the ones the API enforces. Pure (no DOM): tested in Node.
 */

export type FieldKind = 'integer' | 'number' | 'enum' | 'boolean' | 'string' | 'integer-list' | 'string-list';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  description?: string;
  /** Bounds of a number (or of each item of a list). */
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  options?: string[];
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  example?: string;
  /** What an empty field means (the document's `default`), as the form shows it. */
  defaultValue?: string;
}

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  pattern?: string;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  example?: unknown;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  $ref?: string;
}

export interface OpenApiDoc {
  components?: { schemas?: Record<string, JsonSchema> };
}

/** Bounds in OpenAPI 3.0 (boolean exclusive flags) or 3.1 (numeric exclusive bounds) style. */
function bounds(s: JsonSchema): Pick<FieldSpec, 'min' | 'max' | 'minExclusive' | 'maxExclusive'> {
  const out: Pick<FieldSpec, 'min' | 'max' | 'minExclusive' | 'maxExclusive'> = {};
  if (typeof s.exclusiveMinimum === 'number') Object.assign(out, { min: s.exclusiveMinimum, minExclusive: true });
  else if (s.minimum !== undefined) Object.assign(out, { min: s.minimum, minExclusive: s.exclusiveMinimum === true });
  if (typeof s.exclusiveMaximum === 'number') Object.assign(out, { max: s.exclusiveMaximum, maxExclusive: true });
  else if (s.maximum !== undefined) Object.assign(out, { max: s.maximum, maxExclusive: s.exclusiveMaximum === true });
  return out;
}

function kindOf(s: JsonSchema): FieldKind | null {
  if (s.enum) return 'enum';
  if (s.type === 'integer' || s.type === 'number' || s.type === 'boolean' || s.type === 'string') return s.type;
  if (s.type === 'array' && s.items?.type === 'integer') return 'integer-list';
  if (s.type === 'array' && s.items?.type === 'string') return 'string-list';
  return null;
}

/** The hyperparameter fields, in the schema's order; unknown shapes are left out (the API still checks them). */
export function hyperparameterFields(doc: OpenApiDoc): FieldSpec[] {
  const schema = doc.components?.schemas?.Hyperparameters;
  if (!schema?.properties) throw new Error('the OpenAPI document has no Hyperparameters schema');
  const fields: FieldSpec[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    // A sweep key is "one value, or a list of values to sweep" (anyOf): the form asks for the one value.
    const s = property.anyOf?.find((branch) => kindOf(branch) !== null && branch.type !== 'array') ?? property;
    const kind = kindOf(s);
    if (!kind) continue;
    const list = kind === 'integer-list' || kind === 'string-list';
    fields.push({
      name,
      kind,
      ...((property.description ?? s.description) ? { description: property.description ?? s.description } : {}),
      ...bounds(list ? (s.items ?? {}) : s),
      ...(s.enum ? { options: s.enum.map(String) } : {}),
      ...(s.pattern ? { pattern: s.pattern } : {}),
      ...(s.minItems !== undefined ? { minItems: s.minItems } : {}),
      ...(s.maxItems !== undefined ? { maxItems: s.maxItems } : {}),
      ...(s.example !== undefined ? { example: Array.isArray(s.example) ? s.example.join(', ') : String(s.example) } : {}),
      ...((property.default ?? s.default) !== undefined ? { defaultValue: shown(property.default ?? s.default) } : {}),
    });
  }
  return fields;
}

const shown = (v: unknown): string => (Array.isArray(v) ? v.join(', ') : String(v));

/** "default 0.0001 · 0 < x ≤ 1": what an empty field means and the bounds, as the form's hint shows them. */
export function describeField(f: FieldSpec): string {
  return [f.defaultValue !== undefined ? `default ${f.defaultValue}` : 'no default', describeBounds(f)].filter(Boolean).join(' · ');
}

/** "1 ≤ x ≤ 100", "0 < x < 1": the bounds as the form shows them. */
export function describeBounds(f: FieldSpec): string {
  if (f.min === undefined && f.max === undefined) return '';
  const lo = f.min === undefined ? '' : `${f.min} ${f.minExclusive ? '<' : '≤'} `;
  const hi = f.max === undefined ? '' : ` ${f.maxExclusive ? '<' : '≤'} ${f.max}`;
  return `${lo}x${hi}`;
}

function checkNumber(f: FieldSpec, n: number, what: string): string | null {
  if (!Number.isFinite(n)) return `${what} must be a number`;
  if ((f.kind === 'integer' || f.kind === 'integer-list') && !Number.isInteger(n)) return `${what} must be a whole number`;
  if (f.min !== undefined && (f.minExclusive ? n <= f.min : n < f.min)) return `${what} must be ${f.minExclusive ? '>' : '≥'} ${f.min}`;
  if (f.max !== undefined && (f.maxExclusive ? n >= f.max : n > f.max)) return `${what} must be ${f.maxExclusive ? '<' : '≤'} ${f.max}`;
  return null;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** A field's text (or checkbox state) as the JSON value the API takes; '' means "not set". */
export function parseField(f: FieldSpec, raw: string): Parsed {
  const text = raw.trim();
  if (text === '') return { ok: true, value: undefined };
  switch (f.kind) {
    case 'integer':
    case 'number': {
      const n = Number(text);
      const error = checkNumber(f, n, f.name);
      return error ? { ok: false, error } : { ok: true, value: n };
    }
    case 'boolean':
      return text === 'true' || text === 'false'
        ? { ok: true, value: text === 'true' }
        : { ok: false, error: `${f.name} must be true or false` };
    case 'enum':
      return f.options?.includes(text)
        ? { ok: true, value: text }
        : { ok: false, error: `${f.name} must be one of ${f.options?.join(', ')}` };
    case 'string':
      return f.pattern && !new RegExp(f.pattern).test(text)
        ? { ok: false, error: `${f.name} must match ${f.pattern}${f.example ? ` (e.g. ${f.example})` : ''}` }
        : { ok: true, value: text };
    case 'integer-list':
    case 'string-list': {
      const items = text.split(',').map((x) => x.trim());
      if (f.minItems !== undefined && items.length < f.minItems)
        return { ok: false, error: `${f.name} needs at least ${f.minItems} items` };
      if (f.maxItems !== undefined && items.length > f.maxItems) return { ok: false, error: `${f.name} takes at most ${f.maxItems} items` };
      if (f.kind === 'string-list') {
        if (items.some((x) => x === '')) return { ok: false, error: `${f.name}: empty item` };
        return { ok: true, value: items };
      }
      const nums = items.map(Number);
      for (const n of nums) {
        const error = checkNumber(f, n, `each of ${f.name}`);
        if (error) return { ok: false, error };
      }
      return { ok: true, value: nums };
    }
  }
}
