#!/usr/bin/env python3
"""PyTorch reference of mspec's masked-LM training of `specs/tiny-bert.model` (BERT-style MLM).

Plain PyTorch, no transformers library. Everything that is random in mspec is reproduced bit
for bit, so the two runs differ only by floating-point summation order:

* data: char-level Moby-Dick (vocabulary = sorted distinct characters of the whole text, then
  [MASK] as the last id), split 90/10 by position (runtime/data/dataset.ts);
* initial weights: read from the file `node bench/compare-mlm.mjs init FILE` writes (mspec's
  own init rule, runtime/init.ts, for the spec's seed), so the init rule is mspec's by definition;
* training windows: runtime/data/batches.ts sampleBatch (xoshiro128** seeded through
  splitmix32 and FNV-1a, runtime/random.ts), ported below;
* masks: runtime/data/masking.ts (the PCG hash of runtime/counter-rng.ts), ported below:
  round(mask_prob * T) positions per window, 80% [MASK] / 10% random ordinary token / 10% kept,
  targets -1 elsewhere (ignored by the loss);
* validation: the same evenly spaced windows, masked once with the eval stream.

Model (specs/tiny-bert.model): token + learned position embeddings, LayerNorm; 2 post-LN
encoder layers (bidirectional 4-head attention with biases, GELU (erf) MLP 256); BERT's MLM
head: dense + GELU + LayerNorm, then the tied projection plus a bias. Recipe: AdamW(2e-3,
(0.9, 0.98), eps 1e-8, weight decay 0.01 on >= 2-D parameters), clip 1.0, linear schedule
(warmup 40, min_lr 1e-4, mspec's runtime/train/schedule.ts), batch 32 x 64, 600 steps,
evaluation every 50 steps over 8 fixed validation batches (masked-token loss and accuracy).

Usage:  /usr/bin/python3 scripts/reference/train_mlm.py --init INIT.safetensors [--steps N] [--out FILE]
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.join(ROOT, 'node_modules', '@stdlib', 'datasets-moby-dick', 'data', 'data.txt')

# Recipe (specs/tiny-bert.model).
CONTEXT = 64
D_MODEL = 64
LAYERS = 2
HEADS = 4
LN_EPS = 1e-12
BATCH = 32
STEPS = 600
SEED = 1337
MASK_PROB = 0.15
LR = 2e-3
BETAS = (0.9, 0.98)
EPS = 1e-8
WEIGHT_DECAY = 0.01
WARMUP = 40
MIN_LR = 1e-4
CLIP = 1.0
EVAL_EVERY = 50
EVAL_BATCHES = 8
VAL_FRACTION = 0.1

M32 = 0xFFFFFFFF


# ---------------------------------------------------------------- runtime/random.ts

def splitmix32(state):
    state[0] = (state[0] + 0x9E3779B9) & M32
    z = state[0]
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
    return (z ^ (z >> 16)) & M32


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Xoshiro128ss:
    def __init__(self, seed):
        sm = [seed & M32]
        self.s = [splitmix32(sm) for _ in range(4)]
        if not any(self.s):
            self.s[0] = 1

    def next_u32(self):
        a, b, c, d = self.s
        result = (rotl((b * 5) & M32, 7) * 9) & M32
        t = (b << 9) & M32
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = rotl(d, 11)
        self.s = [a, b, c, d]
        return result


def derive_seed(seed, label):
    h = 0x811C9DC5 ^ (seed & M32)
    for ch in label:  # UTF-16 code units in mspec; the labels are ASCII
        h = ((h ^ ord(ch)) * 0x01000193) & M32
    return splitmix32([h])


def random_int(rng, n):
    W = 2 ** 32
    limit = W - (W % n)
    while True:
        u = rng.next_u32()
        if u < limit:
            return u % n


# ---------------------------------------------------------------- runtime/counter-rng.ts, runtime/data/masking.ts

def pcg_hash(v):
    s = (v * 747796405 + 2891336453) & M32
    w = (((s >> ((s >> 28) + 4)) ^ s) * 277803737) & M32
    return ((w >> 22) ^ w) & M32


def dropout_key(seed, step, stream):
    return pcg_hash((pcg_hash((pcg_hash(seed & M32) + step) & M32) + stream) & M32)


def dropout_bits(key, i):
    return pcg_hash(key ^ pcg_hash(i & M32))


def fnv1a(name):
    h = 0x811C9DC5
    for byte in name.encode('utf-8'):
        h = ((h ^ byte) * 0x01000193) & M32
    return h


TRAIN_STREAM = fnv1a('mlm.train')
EVAL_STREAM = fnv1a('mlm.eval')
MASK_BELOW = 3435973837  # round(0.8 * 2^32)
RANDOM_BELOW = 3865470566  # round(0.9 * 2^32)


def mask_batch(x, mask_id, ordinary, stream, counter):
    """x: (B, T) long. Returns (inputs, targets) as in masking.ts maskBatch."""
    B, T = x.shape
    key = dropout_key(SEED, counter, stream)
    m = min(T, max(1, round_half_up(MASK_PROB * T)))
    flat = x.reshape(-1).tolist()
    inputs = list(flat)
    targets = [-1] * len(flat)
    for row in range(B):
        base = row * T
        order = sorted(range(T), key=lambda t: (dropout_bits(key, 3 * (base + t)), t))
        for t in order[:m]:
            i = base + t
            targets[i] = flat[i]
            action = dropout_bits(key, 3 * i + 1)
            if action < MASK_BELOW:
                inputs[i] = mask_id
            elif action < RANDOM_BELOW:
                inputs[i] = dropout_bits(key, 3 * i + 2) % ordinary
    return torch.tensor(inputs).view(B, T), torch.tensor(targets).view(B, T)


def round_half_up(v):
    # JS Math.round
    return int(math.floor(v + 0.5))


# ---------------------------------------------------------------- data

def load_data():
    with open(DATA, encoding='utf-8', newline='') as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = len(data)
    n_train = int(math.floor(n * (1 - VAL_FRACTION)))
    return chars, data[:n_train], data[n_train:]


def train_windows(train, k):
    rng = Xoshiro128ss(derive_seed(SEED, f'batch:{k}'))
    starts = len(train) - CONTEXT
    offs = [random_int(rng, starts) for _ in range(BATCH)]
    return torch.stack([train[o:o + CONTEXT] for o in offs])


def eval_windows(val):
    windows = BATCH * EVAL_BATCHES
    span = len(val) - CONTEXT - 1
    offsets = [(2 * j * span + (windows - 1)) // (2 * (windows - 1)) for j in range(windows)]
    return [torch.stack([val[o:o + CONTEXT] for o in offsets[c * BATCH:(c + 1) * BATCH]]) for c in range(EVAL_BATCHES)]


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        assert t['dtype'] == 'F32', name
        s, e = t['data_offsets']
        out[name] = torch.frombuffer(bytearray(body[s:e]), dtype=torch.float32).reshape(t['shape']).clone()
    return out


# ---------------------------------------------------------------- model

class Bert:
    """Functional BERT over mspec's parameter names (the init file's tensors)."""

    def __init__(self, weights):
        self.p = {k: torch.nn.Parameter(v) for k, v in weights.items()}

    def parameters(self):
        return list(self.p.values())

    def ln(self, name, x):
        return F.layer_norm(x, (D_MODEL,), self.p[name + '.weight'], self.p[name + '.bias'], LN_EPS)

    def lin(self, name, x):
        return F.linear(x, self.p[name + '.weight'], self.p.get(name + '.bias'))

    def forward(self, idx):
        B, T = idx.shape
        p = self.p
        x = p['embed.tokens.weight'][idx] + p['embed.positions.weight'][:T]
        x = self.ln('embed.norm', x)
        hd = D_MODEL // HEADS
        for i in range(LAYERS):
            a = f'layers.{i}.attn'
            q = self.lin(a + '.q', x).view(B, T, HEADS, hd).transpose(1, 2)
            k = self.lin(a + '.k', x).view(B, T, HEADS, hd).transpose(1, 2)
            v = self.lin(a + '.v', x).view(B, T, HEADS, hd).transpose(1, 2)
            att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd)), dim=-1)  # bidirectional
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, D_MODEL)
            x = self.ln(f'layers.{i}.attn_norm', x + self.lin(a + '.o', y))  # post-LN
            h = self.lin(f'layers.{i}.mlp.down', F.gelu(self.lin(f'layers.{i}.mlp.up', x)))
            x = self.ln(f'layers.{i}.mlp_norm', x + h)
        h = self.ln('lm_head.transform.norm', F.gelu(self.lin('lm_head.transform', x)))
        return F.linear(h, p['embed.tokens.weight'], p.get('lm_head.bias'))  # tied projection


def lr_at(step0, steps):
    # runtime/train/schedule.ts, kind linear
    if step0 < WARMUP:
        return LR * (step0 + 1) / (WARMUP + 1)
    if step0 > steps or steps <= WARMUP:
        return MIN_LR
    ratio = (step0 - WARMUP) / (steps - WARMUP)
    return MIN_LR + (1 - ratio) * (LR - MIN_LR)


@torch.no_grad()
def evaluate(model, batches):
    losses, right, scored = [], 0, 0
    for x, y in batches:
        logits = model.forward(x)
        losses.append(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1).item())
        keep = y >= 0
        right += (logits.argmax(-1)[keep] == y[keep]).sum().item()
        scored += keep.sum().item()
    return sum(losses) / len(losses), right / max(1, scored)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--init', required=True, help='initial weights from `node bench/compare-mlm.mjs init FILE`')
    ap.add_argument('--steps', type=int, default=STEPS)
    ap.add_argument('--out', default=os.path.join(ROOT, 'bench', 'reference', 'tiny-bert-torch.jsonl'))
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    chars, train, val = load_data()
    mask_id = len(chars)
    ordinary = len(chars)
    model = Bert(read_safetensors(args.init))
    assert model.p['embed.tokens.weight'].shape[0] == len(chars) + 1, 'the init file is not for this vocabulary'
    print(f'vocab {len(chars)} + [MASK], train {len(train)} tokens, val {len(val)} tokens, '
          f'{sum(p.numel() for p in model.parameters())} parameters', flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': WEIGHT_DECAY}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    val_batches = [mask_batch(w, mask_id, ordinary, EVAL_STREAM, c) for c, w in enumerate(eval_windows(val))]

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    out = open(args.out, 'w')

    def write(rec):
        out.write(json.dumps(rec) + '\n')
        out.flush()

    t0 = time.time()
    last = None
    for it in range(args.steps):
        step = it + 1
        lr = lr_at(it, args.steps)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = mask_batch(train_windows(train, it), mask_id, ordinary, TRAIN_STREAM, it)
        logits = model.forward(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        write({'step': step, 'loss': loss.item(), 'lr': lr})
        if step % EVAL_EVERY == 0 or step == args.steps:
            vl, acc = evaluate(model, val_batches)
            last = (vl, acc)
            write({'step': step, 'val_loss': vl, 'val_acc': acc})
            print(f'step {step}: masked-token validation loss {vl:.4f}, accuracy {100 * acc:.1f}% '
                  f'({time.time() - t0:.0f}s)', flush=True)
    write({'final_val_loss': last[0], 'final_val_acc': last[1], 'seconds': time.time() - t0, 'torch': torch.__version__})
    out.close()


if __name__ == '__main__':
    main()
