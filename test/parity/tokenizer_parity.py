"""Our tokenizers (trainer/tokenizer/load-tokenizer.ts) against Hugging Face's own, family by family.

Builds small tokenizer files itself (a SentencePiece Unigram and BPE model trained with the sentencepiece
module on generated text, a byte-level BPE vocab.json + merges.txt learned here, BERT's vocab from
assets/bert-base-uncased), loads them with transformers' tokenizers (slow ones: no Rust `tokenizers` on
these machines) and compares input_ids / token_type_ids / attention_mask with ours on singles, pairs,
truncation, unicode, accents, whitespace and empty strings; RoBERTa-style position ids against
transformers' create_position_ids_from_input_ids. Prints texts compared and mismatches per family.

² No slow tokenizer gives these: ModernBERT has none (reference: the slow byte-level BPE's pieces in
ModernBERT's template); RoBERTa's add_prefix_space is prefixed per part between special tokens by the
Rust library and once per text by the slow tokenizer (reference: the slow pieces with the Rust rule).

Pair truncation, longest_first: the Rust library (fast tokenizers, AutoTokenizer's default) and the slow
Python tokenizers split an over-long pair differently when both sides must be cut (the odd token goes to
the longer side in Rust, to the first in Python). Ours follows Rust, as the BERT path does, so for those
cases the reference is HF's pieces and HF's build_inputs_with_special_tokens with Rust's split; the
report also counts how many of them the slow tokenizer's own split agrees with.

    apt-get install -y python3-sentencepiece python3-regex python3-protobuf python3-torch
    . ../shared/hfref/env.sh && /usr/bin/python3 test/parity/tokenizer_parity.py
"""

import base64
import json
import os
import random
import subprocess
import sys
import tempfile

import regex
import sentencepiece as spm
import torch
from transformers import (
    BertTokenizer,
    DebertaV2Tokenizer,
    DistilBertTokenizer,
    ElectraTokenizer,
    RobertaTokenizer,
    XLMRobertaTokenizer,
)
from transformers.models.roberta.modeling_roberta import create_position_ids_from_input_ids
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WORDS = (
    "the a of to and in is was for on that with as by at from it an be this are or his her which "
    "model token language training data text pair sentence adapter learning fine tune neural network "
    "don't it's we're they'll I've she'd can't won't hello world running jumped unbelievable "
    "café naïve façade Ångström résumé coöperate Zürich São Paulo El Niño crème brûlée "
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ ① ﬁ ½ Ⅻ ㎞ "
    "日本語 中文 한국어 русский Ελληνικά ΣΟΦΟΣ العربية हिन्दी ไทย 🙂 👍🏽 😀 "
    "2024 3.14 $100 50% e-mail x@y.z #tag (paren) [bracket] {brace} \"quoted\" 'single' ... --- !!! ???"
).split(" ")


def sentence(rng, lo=1, hi=14):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def corpus(n=3000):
    rng = random.Random(1)
    return [sentence(rng, 3, 20) for _ in range(n)]


def texts(n=120):
    """Singles and pairs: generated sentences, whitespace and unicode edge cases, empty strings."""
    rng = random.Random(7)
    special = [
        "",
        " ",
        "   leading and trailing   ",
        "tabs\tand\nnewlines\r\nmixed",
        "double  spaces   inside    here",
        "\u00a0non-breaking\u00a0space and\u3000ideographic space",
        "Héllo WÖRLD ÀÉÎÕÜ",
        "e\u0301 composed vs é precomposed",
        "ＦＵＬＬＷＩＤＴＨ ＡＳＣＩＩ １２３",
        "emoji only 🙂🙂🙂 👍🏽",
        "𠀀𠀁 astral CJK 𪜀",
        "zero\u200bwidth\u200djoiner",
        "control\u0007char and \ufeffbom",
        "ΣΟΦΟΣ ΟΔΟΣ",
        "ß straße İstanbul",
        "unknownchar ☃ ⚙ ∰",
        "a" * 80,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        # special tokens written in the text: each family's own are kept whole
        "fill the <mask> in, and the [MASK] too",
        "<s>starts</s> and <pad> <unk>",
        "[CLS] x [SEP] y [PAD] z [UNK]",
        "lower [mask] is text",
    ]
    singles = special + [sentence(rng) for _ in range(n)]
    pairs = [(a, b) for a, b in zip(special, reversed(special))]
    pairs += [(sentence(rng), sentence(rng)) for _ in range(n)]
    pairs += [("", sentence(rng)), (sentence(rng), ""), ("", "")]
    return singles, pairs


# ---------------------------------------------------------------------------------------------- files


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (the byte-level BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


GPT2_PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def learn_byte_bpe(lines, n_merges):
    """A tiny byte-level BPE: the most frequent adjacent pair merged, n_merges times."""
    b2u = bytes_to_unicode()
    words = {}
    for line in lines:
        for w in GPT2_PAT.findall(line):
            key = tuple(b2u[b] for b in w.encode("utf-8"))
            words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w, c in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + c
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        merged = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        words = merged
    return merges


def write_byte_bpe(dir_, lines, specials_first, specials_last):
    os.makedirs(dir_, exist_ok=True)
    merges = learn_byte_bpe(lines, 300)
    vocab = {}
    for t in specials_first:
        vocab[t] = len(vocab)
    for ch in bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for t in specials_last:
        vocab[t] = len(vocab)
    with open(os.path.join(dir_, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(dir_, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return vocab, merges


def train_spm(dir_, name, lines, model_type, extra):
    os.makedirs(dir_, exist_ok=True)
    src = os.path.join(dir_, "corpus.txt")
    with open(src, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    spm.SentencePieceTrainer.train(
        input=src,
        model_prefix=os.path.join(dir_, "m"),
        vocab_size=400,
        model_type=model_type,
        hard_vocab_limit=False,
        minloglevel=2,
        **extra,
    )
    os.remove(src)
    os.remove(os.path.join(dir_, "m.vocab"))
    os.replace(os.path.join(dir_, "m.model"), os.path.join(dir_, name))


def spm_tokenizer_json(model_file, out_file, flavour):
    """The tokenizer.json transformers' XLMRobertaConverter / DebertaV2Converter save (written here by hand:
    no Rust `tokenizers` on these machines), from the model's protobuf read with google.protobuf."""
    from transformers.utils.sentencepiece_model_pb2_new import ModelProto

    proto = ModelProto()
    with open(model_file, "rb") as f:
        proto.ParseFromString(f.read())
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
    if flavour == "xlm-roberta":
        vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
        vocab += [[p.piece, p.score] for p in proto.pieces[3:]] + [["<mask>", 0.0]]
        unk_id = 3
        normalizer = [{"type": "Precompiled", "precompiled_charsmap": charsmap}, {"type": "Strip", "strip_left": False, "strip_right": True}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]
        specials = {"<s>": True, "<pad>": True, "</s>": True, "<unk>": True, "<mask>": True}
        pre = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    else:
        vocab = [[p.piece, p.score] for p in proto.pieces]
        unk_id = proto.trainer_spec.unk_id
        normalizer = [{"type": "Strip", "strip_left": True, "strip_right": True}, {"type": "Precompiled", "precompiled_charsmap": charsmap}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]
        specials = {p.piece: p.type == 3 for p in proto.pieces if p.type in (3, 4)}
        specials.update({t: True for t in ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]})
        pre = {"type": "Sequence", "pretokenizers": [{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}]}
    index = {}
    for i, (piece, _) in enumerate(vocab):
        index.setdefault(piece, i)
    for t in specials:  # special tokens the model lacks follow its pieces, as PreTrainedTokenizer adds them
        index.setdefault(t, len(vocab) + sum(1 for v in index.values() if v >= len(vocab)))
    added = [{"id": index[t], "content": t, "single_word": False, "lstrip": t == "<mask>", "rstrip": False, "normalized": False, "special": sp} for t, sp in specials.items()]
    write_json(out_file, {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": sorted(added, key=lambda t: t["id"]),
        "normalizer": {"type": "Sequence", "normalizers": normalizer}, "pre_tokenizer": pre, "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": unk_id, "vocab": vocab, "byte_fallback": False},
    })


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


# ------------------------------------------------------------------------------------------ compare


def rust_longest_first(n1, n2, budget):
    """The Rust library's longest-first split (tokenizers/src/utils/truncation.rs), as lengths kept."""
    if n1 + n2 <= budget:
        return n1, n2
    swap = n1 > n2
    shorter = n2 if swap else n1
    keep_longer = shorter if shorter > budget else max(shorter, budget - shorter)
    keep_shorter = shorter
    if keep_shorter + keep_longer > budget:
        keep_shorter = budget // 2
        keep_longer = keep_shorter + budget % 2
    return (keep_longer, keep_shorter) if swap else (keep_shorter, keep_longer)


class Family:
    """A family's reference: a transformers tokenizer, or HF pieces framed by a template (ModernBERT)."""

    def __init__(self, name, family, dir_, hf, template=None, prefix_space_per_part=False):
        self.name, self.family, self.dir, self.hf, self.template = name, family, dir_, hf, template
        # add_prefix_space the Rust way (ByteLevel pre-tokenizer): a space before each part between special
        # tokens that does not start with ' '. The slow tokenizer prefixes the whole text unless it starts
        # with any whitespace (str.isspace), before cutting out special tokens.
        self.prefix_space_per_part = prefix_space_per_part

    def pieces(self, text):
        if not self.prefix_space_per_part:
            return self.hf.encode(text, add_special_tokens=False)
        hf, out = self.hf, []
        parts = hf.tokens_trie.split(text)
        for i, part in enumerate(parts):
            if part in hf.all_special_tokens:
                out.append(hf.convert_tokens_to_ids(part))
                continue
            if i + 1 < len(parts) and parts[i + 1] == hf.mask_token:
                part = part.rstrip()  # <mask> is lstrip
            if part == "":
                continue
            if not part.startswith(" "):
                part = " " + part
            out += hf.encode(part, add_special_tokens=False)
        return out

    def frame(self, a, b=None):
        if self.template is None:
            ids = self.hf.build_inputs_with_special_tokens(a, b)
            types = self.hf.create_token_type_ids_from_sequences(a, b)
            return ids, types
        cls, sep = self.template
        if b is None:
            return [cls] + a + [sep], [0] * (len(a) + 2)
        return [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)

    def n_special(self, pair):
        return len(self.frame([], [] if pair else None)[0])

    def reference(self, case, max_len):
        """(ids, types, mask, slow_agrees): what HF gives for the case."""
        text, pair, strategy = case["text"], case.get("pair"), case.get("truncation", "longest_first")
        a = self.pieces(text)
        b = None if pair is None else self.pieces(pair)
        budget = max_len - self.n_special(pair is not None)
        if b is None:
            ids, types = self.frame(a[:budget])
        elif strategy == "only_second":
            if len(a) + len(b) > budget and len(a) >= budget:
                raise ValueError("only_second: the first text leaves no room")  # the Rust library's error
            ids, types = self.frame(a, b[: budget - len(a)])
        else:
            na, nb = rust_longest_first(len(a), len(b), budget)
            ids, types = self.frame(a[:na], b[:nb])
        slow_agrees = None
        if self.template is None and not self.prefix_space_per_part:
            enc = self.hf(
                text,
                pair,
                truncation=strategy if pair is not None else True,
                max_length=max_len,
                return_token_type_ids=True,
                return_attention_mask=True,
            )
            slow_agrees = enc["input_ids"] == ids and enc["token_type_ids"] == types
            if not (pair is not None and strategy == "longest_first"):
                # Everything but longest-first pairs is compared with the slow tokenizer's own output.
                ids, types = enc["input_ids"], enc["token_type_ids"]
                assert enc["attention_mask"] == [1] * len(ids)
        return ids, types, [1] * len(ids), slow_agrees


def run_ours(jobs, work):
    path = os.path.join(work, "job.json")
    write_json(path, {"jobs": jobs})
    subprocess.run(["node", "--import", "tsx", "test/parity/tokenizer_encode.ts", path], cwd=ROOT, check=True)
    with open(path.replace(".json", ".ours.json"), encoding="utf-8") as f:
        return json.load(f)


def main():
    work = tempfile.mkdtemp(prefix="tokenizer-parity-")
    lines = corpus()
    fams = []

    bert_dir = os.path.join(work, "bert")
    os.makedirs(bert_dir)
    with open(os.path.join(ROOT, "assets/bert-base-uncased/vocab.txt"), encoding="utf-8") as f:
        vocab_txt = f.read()
    with open(os.path.join(bert_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write(vocab_txt)
    for name, cls in [("bert", BertTokenizer), ("distilbert", DistilBertTokenizer), ("electra", ElectraTokenizer)]:
        fams.append(Family(name, name, bert_dir, cls(os.path.join(bert_dir, "vocab.txt"))))

    rob_dir = os.path.join(work, "roberta")
    write_byte_bpe(rob_dir, lines, ["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    fams.append(Family("roberta (vocab.json + merges.txt)", "roberta", rob_dir, RobertaTokenizer(os.path.join(rob_dir, "vocab.json"), os.path.join(rob_dir, "merges.txt"))))

    rob_prefix = os.path.join(work, "roberta-prefix")
    os.makedirs(rob_prefix)
    for f in ["vocab.json", "merges.txt"]:
        with open(os.path.join(rob_dir, f), encoding="utf-8") as src, open(os.path.join(rob_prefix, f), "w", encoding="utf-8") as dst:
            dst.write(src.read())
    write_json(os.path.join(rob_prefix, "tokenizer_config.json"), {"add_prefix_space": True})
    # Reference: the slow tokenizer's pieces (without its own prefixing) with the Rust prefix rule.
    rob_plain = RobertaTokenizer(os.path.join(rob_prefix, "vocab.json"), os.path.join(rob_prefix, "merges.txt"))
    fams.append(Family("roberta (add_prefix_space)²", "roberta", rob_prefix, rob_plain, prefix_space_per_part=True))

    # ModernBERT ships only a tokenizer.json (byte-level BPE, [CLS] A [SEP] B [SEP]): written here in the
    # Rust library's format; its reference is the slow byte-level BPE's pieces in ModernBERT's template.
    mb_dir = os.path.join(work, "modernbert")
    mb_vocab, mb_merges = write_byte_bpe(mb_dir, lines, ["[PAD]", "[UNK]", "[CLS]", "[SEP]"], ["[MASK]"])
    mb_hf = RobertaTokenizer(os.path.join(mb_dir, "vocab.json"), os.path.join(mb_dir, "merges.txt"), bos_token="[CLS]", eos_token="[SEP]", sep_token="[SEP]", cls_token="[CLS]", unk_token="[UNK]", pad_token="[PAD]", mask_token="[MASK]")
    added = [{"id": mb_vocab[t], "content": t, "single_word": False, "lstrip": t == "[MASK]", "rstrip": False, "normalized": False, "special": True} for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]]
    write_json(os.path.join(mb_dir, "tokenizer.json"), {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                           "special_tokens": {t: {"id": t, "ids": [mb_vocab[t]], "tokens": [t]} for t in ["[CLS]", "[SEP]"]}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": mb_vocab, "merges": [[a, b] for a, b in mb_merges]},
    })
    os.remove(os.path.join(mb_dir, "vocab.json"))
    os.remove(os.path.join(mb_dir, "merges.txt"))
    fams.append(Family("modernbert (tokenizer.json, BPE)²", "modernbert", mb_dir, mb_hf, template=(mb_vocab["[CLS]"], mb_vocab["[SEP]"])))

    xlmr_dir = os.path.join(work, "xlm-roberta")
    train_spm(xlmr_dir, "sentencepiece.bpe.model", lines, "unigram", {})
    fams.append(Family("xlm-roberta (sentencepiece Unigram)", "xlm-roberta", xlmr_dir, XLMRobertaTokenizer(os.path.join(xlmr_dir, "sentencepiece.bpe.model"))))

    deberta_extra = dict(pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]", eos_id=2, eos_piece="[SEP]", unk_id=3, unk_piece="[UNK]", user_defined_symbols=["[MASK]"])
    for kind in ["unigram", "bpe"]:
        d = os.path.join(work, f"deberta-v2-{kind}")
        # The Unigram one as DeBERTa-v3's spm.model: no [MASK] piece (the tokenizer appends it).
        extra = {k: v for k, v in deberta_extra.items() if kind == "bpe" or k != "user_defined_symbols"}
        train_spm(d, "spm.model", lines, kind, extra)
        fams.append(Family(f"deberta-v2 (spm.model, {kind})", "deberta-v2", d, DebertaV2Tokenizer(os.path.join(d, "spm.model"))))
    d = os.path.join(work, "deberta-v2-bytes")
    train_spm(d, "spm.model", lines[:300], "bpe", dict(deberta_extra, byte_fallback=True))
    fams.append(Family("deberta-v2 (spm.model, bpe, byte_fallback)", "deberta-v2", d, DebertaV2Tokenizer(os.path.join(d, "spm.model"))))
    d = os.path.join(work, "xlm-roberta-bytes")
    train_spm(d, "sentencepiece.bpe.model", lines[:300], "unigram", {"byte_fallback": True})
    fams.append(Family("xlm-roberta (Unigram, byte_fallback)", "xlm-roberta", d, XLMRobertaTokenizer(os.path.join(d, "sentencepiece.bpe.model"))))
    # tokenizer.json as the converters save it (Unigram with a Precompiled normalizer), beside the model
    # the slow reference reads.
    for flavour, src in [("xlm-roberta", xlmr_dir), ("deberta-v2", os.path.join(work, "deberta-v2-unigram"))]:
        d = os.path.join(work, f"{flavour}-json")
        os.makedirs(d)
        model_file = os.path.join(src, "sentencepiece.bpe.model" if flavour == "xlm-roberta" else "spm.model")
        spm_tokenizer_json(model_file, os.path.join(d, "tokenizer.json"), flavour)
        hf = XLMRobertaTokenizer(model_file) if flavour == "xlm-roberta" else DebertaV2Tokenizer(model_file)
        fams.append(Family(f"{flavour} (tokenizer.json, Unigram)", flavour, d, hf))
    d = os.path.join(work, "deberta-v2-lower")
    train_spm(d, "spm.model", lines, "unigram", deberta_extra)
    write_json(os.path.join(d, "tokenizer_config.json"), {"do_lower_case": True, "split_by_punct": True})
    fams.append(Family("deberta-v2 (spm.model, lower-case, split_by_punct)", "deberta-v2", d, DebertaV2Tokenizer(os.path.join(d, "spm.model"), do_lower_case=True, split_by_punct=True)))

    singles, pairs = texts()
    untruncated = [{"text": t} for t in singles] + [{"text": a, "pair": b} for a, b in pairs]
    truncated = [{"text": t} for t in singles] + [{"text": a, "pair": b} for a, b in pairs]
    only_second = [{"text": a, "pair": b, "truncation": "only_second"} for a, b in pairs if len(a) < len(b) // 2]
    plans = [(1024, untruncated), (9, truncated), (16, truncated), (24, only_second)]
    jobs = [{"dir": f.dir, "family": f.family, "maxSeqLen": m, "cases": cases} for f in fams for m, cases in plans]
    ours = run_ours(jobs, work)

    failed = False
    print(f"{'family':52} {'format (ours)':44} {'texts':>6} {'mismatch':>8} {'slow split differs':>18}")
    for fi, f in enumerate(fams):
        compared = mismatches = slow_differs = slow_compared = 0
        fmt = None
        for pi, (max_len, cases) in enumerate(plans):
            got = ours[fi * len(plans) + pi]
            fmt = got["format"]
            for case, enc in zip(cases, got["encodings"]):
                compared += 1
                try:
                    ids, types, mask, slow_agrees = f.reference(case, max_len)
                except Exception as e:  # HF refuses (only_second with no room): ours must refuse too
                    if "error" not in enc:
                        mismatches += 1
                        print(f"  {f.name}: HF refused ({e}) but ours encoded {case}")
                    continue
                if slow_agrees is not None:
                    slow_compared += 1
                if slow_agrees is False:
                    slow_differs += 1
                ok = "error" not in enc and enc["input_ids"] == ids and enc["token_type_ids"] == types and enc["attention_mask"] == mask
                if ok and f.family in ("roberta", "xlm-roberta"):
                    pad = f.hf.pad_token_id
                    padded = torch.tensor([ids + [pad] * 3])
                    ok = enc["position_ids"] == create_position_ids_from_input_ids(padded, pad)[0].tolist()
                if not ok:
                    mismatches += 1
                    if mismatches <= 5:
                        print(f"  MISMATCH {f.name} max_len={max_len} {json.dumps(case, ensure_ascii=False)[:160]}\n    hf:   {ids}\n    ours: {enc.get('input_ids', enc)}")
        failed = failed or mismatches > 0
        differs = slow_differs if slow_compared else "-"
        print(f"{f.name:52} {fmt:44} {compared:6} {mismatches:8} {differs:>18}")
    print(f"files in {work}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
