/** The index of the largest value (the first of equals), in one pass: no spread of a label-sized array into Math.max. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
