/**
 * SentencePiece's own normalizer (normalizer.cc), as the slow transformers tokenizers run it through the
 * sentencepiece library: the model's precompiled character map (a Darts double-array trie over UTF-8
 * bytes, longest rule first), then remove_extra_whitespaces (no leading, trailing or repeated spaces),
 * add_dummy_prefix and escape_whitespaces (' ' -> '▁'). User-defined pieces pass through unnormalized.
 * tokenizers.js approximates the character map with NFKC plus a fixed table, which differs on e.g.
 * U+200D (zero-width joiner): this reads the model's real map.
 */
import { TokenizerError } from './bert-tokenizer-core.ts';

const SPACE = 0x20;
const META = [0xe2, 0x96, 0x81]; // '▁'

export interface NormalizerSettings {
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/** A precompiled_charsmap: uint32 trie size, the trie's uint32 units, then NUL-terminated replacements. */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly replacements: Uint8Array;

  constructor(file: string, blob: Uint8Array) {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = blob.length >= 4 ? view.getUint32(0, true) : -1;
    if (trieBytes < 4 || trieBytes % 4 !== 0 || 4 + trieBytes > blob.length)
      throw new TokenizerError(
        `${file}: the normalizer's precompiled_charsmap is malformed (trie of ${trieBytes} bytes in ${blob.length})`,
      );
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.replacements = blob.subarray(4 + trieBytes);
  }

  /** The longest rule matching bytes[at...]: [bytes consumed, replacement], or undefined. */
  longestMatch(bytes: Uint8Array, at: number): [number, Uint8Array] | undefined {
    const u = this.units;
    const offset = (unit: number) => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    let node = offset(u[0]);
    let best: [number, number] | undefined;
    for (let i = at; i < bytes.length; i++) {
      node ^= bytes[i];
      const unit = u[node];
      // label = unit & (leaf bit | 0xFF); a leaf unit never equals a byte.
      if (unit === undefined || (unit & 0x800000ff) >>> 0 !== bytes[i]) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) best = [i + 1 - at, u[node] & 0x7fffffff];
    }
    if (best === undefined) return undefined;
    const start = best[1];
    let end = start;
    while (end < this.replacements.length && this.replacements[end] !== 0) end++;
    return [best[0], this.replacements.subarray(start, end)];
  }
}

function utf8Length(first: number): number {
  if (first < 0x80) return 1;
  if (first >= 0xf0) return 4;
  if (first >= 0xe0) return 3;
  return 2;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Normalizes text as sentencepiece's Normalizer::Normalize; '' when nothing is left. */
export function sentencePieceNormalize(
  text: string,
  charsmap: PrecompiledCharsmap | undefined,
  settings: NormalizerSettings,
  userDefined: readonly string[] = [],
): string {
  const input = encoder.encode(text);
  const user = userDefined.map((s) => encoder.encode(s)).sort((a, b) => b.length - a.length);
  const prefix = (at: number): [number, Uint8Array] => {
    for (const u of user) if (u.length > 0 && u.every((b, k) => input[at + k] === b)) return [u.length, u];
    const rule = charsmap?.longestMatch(input, at);
    if (rule) return rule;
    const n = Math.min(utf8Length(input[at]), input.length - at);
    return [n, input.subarray(at, at + n)];
  };
  const isSpace = (s: Uint8Array) => s.length === 1 && s[0] === SPACE;
  let at = 0;
  if (settings.removeExtraWhitespaces) {
    while (at < input.length) {
      const [n, s] = prefix(at);
      if (!isSpace(s)) break;
      at += n;
    }
  }
  if (at >= input.length) return '';
  const out: number[] = [];
  const space = () => {
    if (settings.escapeWhitespaces) out.push(...META);
    else out.push(SPACE);
  };
  if (settings.addDummyPrefix) space();
  let prevSpace = settings.removeExtraWhitespaces;
  while (at < input.length) {
    const [n, s] = prefix(at);
    let k = 0;
    if (prevSpace && settings.removeExtraWhitespaces) while (k < s.length && s[k] === SPACE) k++;
    if (k < s.length) {
      for (; k < s.length; k++) {
        if (s[k] === SPACE && settings.escapeWhitespaces) out.push(...META);
        else out.push(s[k]);
      }
      prevSpace = s[s.length - 1] === SPACE;
    }
    at += n;
  }
  if (settings.removeExtraWhitespaces) {
    const tail = settings.escapeWhitespaces ? META : [SPACE];
    while (out.length >= tail.length && tail.every((b, k) => out[out.length - tail.length + k] === b)) out.length -= tail.length;
  }
  return decoder.decode(Uint8Array.from(out));
}

/** Only the character map, rule by rule over the text (the Precompiled step of a tokenizer.json normalizer). */
export function applyCharsmap(text: string, charsmap: PrecompiledCharsmap): string {
  const input = encoder.encode(text);
  const out: number[] = [];
  for (let at = 0; at < input.length; ) {
    const rule = charsmap.longestMatch(input, at);
    if (rule) {
      out.push(...rule[1]);
      at += rule[0];
    } else {
      const n = Math.min(utf8Length(input[at]), input.length - at);
      for (let k = 0; k < n; k++) out.push(input[at + k]);
      at += n;
    }
  }
  return decoder.decode(Uint8Array.from(out));
}

/**
 * DebertaV2Tokenizer's split_by_punct: every punctuation character (Unicode P*, and all ASCII that is
 * neither letter, digit nor space) is a word of its own; the runs between are words.
 */
export function splitOnPunctuation(text: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (const ch of text) {
    if (/[!-/:-@[-`{-~]|\p{P}/u.test(ch)) {
      if (current !== undefined) words.push(current);
      words.push(ch);
      current = undefined;
    } else current = (current ?? '') + ch;
  }
  if (current !== undefined) words.push(current);
  return words;
}
