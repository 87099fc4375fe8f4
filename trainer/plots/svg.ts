/** The few SVG pieces the sweep plot and the ablation heat map share: escaping, number labels, a colour scale. */

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** `<tag a="1" ...>` children `</tag>`, with attribute values escaped. */
export function el(tag: string, attrs: Record<string, string | number>, children = ''): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  return children === '' ? `<${tag}${a}/>` : `<${tag}${a}>${children}</${tag}>`;
}

export function text(x: number, y: number, body: string, attrs: Record<string, string | number> = {}): string {
  return el('text', { x: round(x), y: round(y), ...attrs }, escapeXml(body));
}

/** A standalone SVG file; `title` is its accessible name (screen readers, tooltips, the image's alt in Markdown viewers). */
export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${el(
    'svg',
    { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'sans-serif', 'font-size': 11 },
    `\n${[el('title', {}, escapeXml(title)), ...body].join('\n')}\n`,
  )}\n`;
}

export const round = (v: number) => Math.round(v * 100) / 100;

/** A metric value as printed in a figure: 3 significant decimals, no exponent for ordinary values. */
export function formatValue(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(3) : v.toExponential(1);
}

// Viridis at 5 stops (matplotlib's): perceptually even, readable in grey, the paper's kind of scale.
const VIRIDIS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The colour of t in [0, 1] (clamped) on the viridis scale, as #rrggbb. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Dark text on the light end of viridis, white on the dark end. */
export const textColourOn = (t: number) => (t > 0.6 ? '#000000' : '#ffffff');
