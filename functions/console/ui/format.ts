/** Small display helpers. */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const num = (v: number | null | undefined, digits = 4): string => (typeof v === 'number' ? v.toFixed(digits) : '—');

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');

export const percent = (v: number): string => `${(100 * v).toFixed(v < 0.01 ? 2 : 1)} %`;
