/**
 * A cheap character bound before tokenizing: a text cut after `maxWords` words, where a word is a run
 * between BERT's whitespace (space, tab, CR, LF, Unicode Zs) holding at least one letter, digit,
 * punctuation or symbol. Each such word gives at least one token (a word only of stripped marks or
 * control characters may give none, and is not counted), so a text of more words than the adapter's
 * maxSeqLen tokens loses nothing the tokenizer would keep; one linear scan, no tokenizer.
 */
const WORD = /[^ \t\n\r\p{Zs}]+/gu;
const TOKEN_CHAR = /[\p{L}\p{N}\p{P}\p{S}]/u;

export function usableText(text: string, maxWords: number): string {
  if (text.length <= maxWords) return text; // fewer characters than words allowed: nothing to cut
  let words = 0;
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m !== null; m = WORD.exec(text)) {
    if (!TOKEN_CHAR.test(m[0])) continue;
    if (++words > maxWords) return text.slice(0, m.index);
  }
  return text;
}
