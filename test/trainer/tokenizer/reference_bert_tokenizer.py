#!/usr/bin/env python3
"""An independent reference for BERT WordPiece tokenization: the algorithm of the original BERT release
(BasicTokenizer, then WordpieceTokenizer), written out again in plain Python with no third-party package,
so that the TypeScript tokenizer can be checked against something that shares none of its code.

    /usr/bin/python3 reference_bert_tokenizer.py --vocab VOCAB.txt [--cased] [--max-seq-len N] < rows.jsonl

Reads JSONL rows {"text": ..., "text_pair": ... (optional)} on stdin and writes, one line per row in the
same order, {"input_ids": [...], "token_type_ids": [...]}: [CLS] A [SEP] (B [SEP]). With --max-seq-len
the word pieces are cut longest-first as Hugging Face's fast (Rust) tokenizer does; without it nothing is
cut.

Steps (uncased): drop NUL, U+FFFD and control characters (Cc/Cf except tab, CR, LF) and turn whitespace
(space, tab, CR, LF, Zs) into spaces; put spaces around CJK ideographs; split on whitespace; lower-case
each word, decompose it (NFD) and drop non-spacing marks (Mn); split every punctuation character
(ASCII symbols and the P* categories) off as its own word; then per word, greedy longest-match-first
WordPiece with '##' continuations, [UNK] for a word longer than 100 characters or with a piece that
matches nothing.
"""
import argparse
import json
import sys
import unicodedata

MAX_CHARS_PER_WORD = 100

# CJK Unified Ideographs blocks (and compatibility blocks) as listed in the original BERT code.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(cp):
    for lo, hi in _CJK_RANGES:
        if lo <= cp <= hi:
            return True
    return False


def is_space(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False  # counted as whitespace
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punct(ch):
    cp = ord(ch)
    # Every non-alphanumeric printable ASCII character counts, '$', '^', '`' included (they are S*, not P*).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            vocab[line.rstrip("\n")] = i  # a repeated token keeps its last line
    return vocab


class Reference:
    def __init__(self, vocab, lowercase=True):
        self.vocab = vocab
        self.lowercase = lowercase
        self.unk = vocab["[UNK]"]
        self.cls = vocab["[CLS]"]
        self.sep = vocab["[SEP]"]

    def _clean(self, text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            out.append(" " if is_space(ch) else ch)
        return "".join(out)

    def _space_cjk(self, text):
        out = []
        for ch in text:
            if is_cjk(ord(ch)):
                out.append(" " + ch + " ")
            else:
                out.append(ch)
        return "".join(out)

    @staticmethod
    def _strip_accents(word):
        return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")

    @staticmethod
    def _split_punct(word):
        pieces = []
        current = []
        for ch in word:
            if is_punct(ch):
                if current:
                    pieces.append("".join(current))
                    current = []
                pieces.append(ch)
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
        return pieces

    def basic_words(self, text):
        text = self._space_cjk(self._clean(text))
        words = []
        for word in text.split():
            if self.lowercase:
                word = self._strip_accents(word.lower())
            words.extend(self._split_punct(word))
        return [w for w in words if w]

    def wordpiece(self, word):
        if len(word) > MAX_CHARS_PER_WORD:
            return [self.unk]
        ids = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]  # one unmatched piece makes the whole word unknown
            ids.append(found)
            start = end
        return ids

    def pieces(self, text):
        ids = []
        for word in self.basic_words(text):
            ids.extend(self.wordpiece(word))
        return ids

    def encode(self, text, text_pair=None, max_seq_len=None):
        a = self.pieces(text)
        if text_pair is None:
            if max_seq_len is not None:
                a = a[: max(0, max_seq_len - 2)]
            ids = [self.cls] + a + [self.sep]
            return ids, [0] * len(ids)
        b = self.pieces(text_pair)
        if max_seq_len is not None:
            na, nb = longest_first(len(a), len(b), max_seq_len - 3)
            a, b = a[:na], b[:nb]
        first = [self.cls] + a + [self.sep]
        second = b + [self.sep]
        return first + second, [0] * len(first) + [1] * len(second)


def longest_first(n_first, n_second, budget):
    """The lengths kept by the Rust tokenizer's longest-first rule."""
    if n_first + n_second <= budget:
        return n_first, n_second
    shorter, longer = min(n_first, n_second), max(n_first, n_second)
    if 2 * shorter <= budget:  # only the longer one is cut
        kept_short, kept_long = shorter, budget - shorter
        return (kept_short, kept_long) if n_first <= n_second else (kept_long, kept_short)
    # Both are cut: the shorter gets budget // 2, the longer the rest; the first counts as shorter on a tie.
    half = budget // 2
    if n_first > n_second:
        return budget - half, half
    return half, budget - half


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--cased", action="store_true", help="no lower-casing and no accent stripping")
    parser.add_argument("--max-seq-len", type=int, default=None)
    args = parser.parse_args()
    ref = Reference(load_vocab(args.vocab), lowercase=not args.cased)
    stdin = open(sys.stdin.fileno(), encoding="utf-8", newline="\n")
    out = sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        ids, types = ref.encode(row["text"], row.get("text_pair"), args.max_seq_len)
        out.write(json.dumps({"input_ids": ids, "token_type_ids": types}, separators=(",", ":")) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
