"""PyTorch (CPU) training throughput of bench/train.mjs's GPT, measured in the same run.
Pre-LayerNorm GPT with learned positions, biases, tanh-GELU MLP 4x, tied head; AdamW with
decay on matrices only (as mspec), global-norm clipping at 1; random tokens. Prints one JSON
line with the best round's ms/step. torch's default threads.
Usage: /usr/bin/python3 bench/train_torch.py VOCAB LAYERS HEADS D T B LR ROUNDS STEPS WARMUP"""
import json, math, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, L, H, C, T, B = map(int, sys.argv[1:7])
LR = float(sys.argv[7])
ROUNDS, STEPS, WARMUP = map(int, sys.argv[8:11])
torch.manual_seed(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.o = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.up, self.down = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x, mask):
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2) / math.sqrt(C // H)).masked_fill(mask, float("-inf"))
        x = x + self.o((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(C)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, ids, targets):
        x = self.tok(ids) + self.pos.weight
        for b in self.blocks:
            x = b(x, self.mask)
        return F.cross_entropy(F.linear(self.ln(x), self.tok.weight).view(B * T, V), targets.view(B * T))


model = GPT()
decay = [p for p in model.parameters() if p.dim() >= 2]
rest = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95), eps=1e-8)


def step():
    ids = torch.randint(0, V, (B, T))
    loss = model(ids, torch.randint(0, V, (B, T)))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss)


for _ in range(WARMUP):
    step()
best = math.inf
for _ in range(ROUNDS):
    t0 = time.perf_counter()
    for _ in range(STEPS):
        last = step()
    best = min(best, (time.perf_counter() - t0) * 1000 / STEPS)
print(json.dumps({"ms_per_step": best, "last_loss": last, "threads": torch.get_num_threads(), "torch": torch.__version__}))
