#!/usr/bin/env python3
"""PyTorch reference of mspec's `specs/char-gpt.model` training recipe (nanoGPT style).

Plain PyTorch, no transformers library. Reproduces the recipe that mspec runs on WebGPU:
char-level Moby-Dick (vocabulary = sorted distinct characters of the whole text, 83), split by
position 90/10; a 4-layer pre-LN GPT (d_model 128, 4 heads, context 64, GELU-tanh MLP 512,
tied LM head, no dropout); GPT-2 init; AdamW(3e-3, (0.9, 0.95), eps 1e-8, wd 0.1 on >= 2-D
parameters); clip 1.0; nanoGPT get_lr (warmup 50, lr_decay_iters 1000, min_lr 3e-4);
1000 steps of 32 random 64-token windows (torch.manual_seed(1337)); evaluation every 100
completed steps over 20 fixed validation batches of 32 windows.

Steps are counted 1-based as in mspec's metrics.jsonl: the line {step: s, loss, lr} is the
s-th optimizer step, run at lr = get_lr(s - 1) (0-based iteration, as mspec's schedule.ts),
and its loss is the training loss of that step's batch before the update.

Usage:  /usr/bin/python3 scripts/reference/train_char_gpt.py [--steps N] [--out FILE]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.join(ROOT, 'node_modules', '@stdlib', 'datasets-moby-dick', 'data', 'data.txt')

# Recipe (specs/char-gpt.model extending gpt2-small.model).
CONTEXT = 64
D_MODEL = 128
LAYERS = 4
HEADS = 4
D_FF = 4 * D_MODEL
LN_EPS = 1e-5
BATCH = 32
STEPS = 1000
SEED = 1337
LR = 3e-3
BETAS = (0.9, 0.95)
EPS = 1e-8
WEIGHT_DECAY = 0.1
WARMUP = 50
LR_DECAY_ITERS = 1000
MIN_LR = 3e-4
CLIP = 1.0
EVAL_EVERY = 100
EVAL_BATCHES = 20


# ---------------------------------------------------------------- data

def load_data():
    # newline='' keeps the text byte-for-byte (no universal-newline translation), as Node reads it.
    with open(DATA, encoding='utf-8', newline='') as f:
        text = f.read()
    chars = sorted(set(text))  # code-point order
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = len(data)
    n_train = int(n * 0.9)
    return chars, data[:n_train], data[n_train:]


def get_batch(split_data):
    # nanoGPT get_batch
    ix = torch.randint(len(split_data) - CONTEXT, (BATCH,))
    x = torch.stack([split_data[i:i + CONTEXT] for i in ix])
    y = torch.stack([split_data[i + 1:i + 1 + CONTEXT] for i in ix])
    return x, y


def eval_batches(val):
    """BATCH * EVAL_BATCHES windows with offsets spread evenly over [0, n_val - CONTEXT - 1].

    Offset j = round(j * span / (windows - 1)), span = n_val - 65, rounding half up: exactly
    mspec's runtime/data/batches.ts evalBatches (Math.round), in exact integer arithmetic.
    """
    windows = BATCH * EVAL_BATCHES
    span = len(val) - CONTEXT - 1
    offsets = [(2 * j * span + (windows - 1)) // (2 * (windows - 1)) for j in range(windows)]
    out = []
    for c in range(EVAL_BATCHES):
        offs = offsets[c * BATCH:(c + 1) * BATCH]
        x = torch.stack([val[o:o + CONTEXT] for o in offs])
        y = torch.stack([val[o + 1:o + 1 + CONTEXT] for o in offs])
        out.append((x, y))
    return out


# ---------------------------------------------------------------- model

# This Debian torch build links the netlib reference BLAS (BLAS_INFO=generic, ~2 GFLOP/s on one
# thread), but also oneDNN. With DNNL_LINEAR the Linear layers and the tied head run their
# x·Wᵀ (+ b) as a kernel-size-1 conv1d, which PyTorch sends to oneDNN (~20x faster here). Same
# parameters, same math (fp32; results differ from the BLAS path only by summation order).
# --matmul blas turns it off.
DNNL_LINEAR = True


def linear(x, weight, bias=None):
    if not DNNL_LINEAR:
        return F.linear(x, weight, bias)
    shape = x.shape
    x2 = x.reshape(-1, shape[-2], shape[-1]).transpose(1, 2)  # (N, C_in, T)
    y = F.conv1d(x2, weight.unsqueeze(-1), bias)  # (N, C_out, T)
    return y.transpose(1, 2).reshape(*shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    def forward(self, x):
        return linear(x, self.weight, self.bias)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = Linear(D_MODEL, D_MODEL, bias=True)
        self.k = Linear(D_MODEL, D_MODEL, bias=True)
        self.v = Linear(D_MODEL, D_MODEL, bias=True)
        self.o = Linear(D_MODEL, D_MODEL, bias=True)
        self.register_buffer('mask', torch.tril(torch.ones(CONTEXT, CONTEXT, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        hd = C // HEADS
        q = self.q(x).view(B, T, HEADS, hd).transpose(1, 2)
        k = self.k(x).view(B, T, HEADS, hd).transpose(1, 2)
        v = self.v(x).view(B, T, HEADS, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~self.mask[:T, :T], float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.o(y)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = Linear(D_MODEL, D_FF, bias=True)
        self.down = Linear(D_FF, D_MODEL, bias=True)

    def forward(self, x):
        return self.down(F.gelu(self.up(x), approximate='tanh'))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL, eps=LN_EPS)
        self.attn = Attention()
        self.ln2 = nn.LayerNorm(D_MODEL, eps=LN_EPS)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.wte = nn.Embedding(vocab, D_MODEL)
        self.wpe = nn.Embedding(CONTEXT, D_MODEL)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(D_MODEL, eps=LN_EPS)
        self.apply(self._init)
        # GPT-2 scaled init of the residual projections.
        std_res = 0.02 / math.sqrt(2 * LAYERS)
        for b in self.blocks:
            nn.init.normal_(b.attn.o.weight, mean=0.0, std=std_res)
            nn.init.normal_(b.mlp.down.weight, mean=0.0, std=std_res)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for b in self.blocks:
            x = b(x)
        x = self.ln_f(x)
        logits = linear(x, self.wte.weight)  # tied LM head (x · Wteᵀ), no bias
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


# ---------------------------------------------------------------- schedule

def get_lr(it):
    # nanoGPT get_lr, 0-based iteration
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    if it > LR_DECAY_ITERS:
        return MIN_LR
    ratio = (it - WARMUP) / (LR_DECAY_ITERS - WARMUP)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return MIN_LR + coeff * (LR - MIN_LR)


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    losses = [model(x, y)[1].item() for x, y in batches]
    model.train()
    return sum(losses) / len(losses)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=STEPS, help='optimizer steps (default 1000; the schedule keeps lr_decay_iters = 1000)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'bench', 'reference', 'char-gpt-torch.jsonl'))
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--matmul', choices=['dnnl', 'blas'], default='dnnl',
                    help='Linear layers through oneDNN conv1d (default) or plain F.linear (BLAS)')
    args = ap.parse_args()
    global DNNL_LINEAR
    DNNL_LINEAR = args.matmul == 'dnnl'

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)

    chars, train, val = load_data()
    vocab = len(chars)
    print(f'vocab {vocab}, train {len(train)} tokens, val {len(val)} tokens', flush=True)
    model = GPT(vocab)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'{n_params} parameters', flush=True)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{'params': decay, 'weight_decay': WEIGHT_DECAY}, {'params': no_decay, 'weight_decay': 0.0}],
        lr=LR, betas=BETAS, eps=EPS)

    val_batches = eval_batches(val)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    out = open(args.out, 'w')

    def write(rec):
        out.write(json.dumps(rec) + '\n')
        out.flush()

    model.train()
    t0 = time.time()
    train_time = 0.0
    last_val = None
    for it in range(args.steps):
        step = it + 1
        ts = time.time()
        lr = get_lr(it)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = get_batch(train)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        loss_v = loss.item()
        train_time += time.time() - ts
        write({'step': step, 'loss': loss_v, 'lr': lr})
        if step % 50 == 0 or step == args.steps or step == 1:
            el = time.time() - t0
            print(f'step {step}/{args.steps} loss {loss_v:.4f} lr {lr:.3e} '
                  f'{step * BATCH * CONTEXT / max(train_time, 1e-9):.0f} tok/s ({el:.1f}s)', flush=True)
        if step % EVAL_EVERY == 0 or step == args.steps:
            last_val = evaluate(model, val_batches)
            write({'step': step, 'val_loss': last_val})
            print(f'step {step}: validation loss {last_val:.4f}, perplexity {math.exp(last_val):.2f}', flush=True)

    seconds = time.time() - t0
    summary = {
        'final_val_loss': last_val,
        'seconds': seconds,
        'tokens_per_s': args.steps * BATCH * CONTEXT / max(train_time, 1e-9),
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'matmul': args.matmul,
    }
    write(summary)
    out.close()
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
