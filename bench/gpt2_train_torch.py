"""PyTorch (CPU) reference for bench/gpt2-train-step.mjs: the loss, gradient norm and step time of
one training step of a GPT-2-shaped model (pre-LayerNorm, learned positions, tanh-GELU MLP,
tied head) on the weights and batch mspec used, read from WEIGHTS (safetensors, mspec's
parameter names) and TOKENS (JSON {"inputs": [...], "targets": [...], "B": b, "T": t}).
Prints one JSON line. Usage: /usr/bin/python3 bench/gpt2_train_torch.py WEIGHTS TOKENS HEADS"""
import json, math, os, sys, time

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
from make_torch_reference import read_safetensors  # noqa: E402

weights, tokens_path, H = sys.argv[1], sys.argv[2], int(sys.argv[3])
P = {k: v.clone().requires_grad_(True) for k, v in read_safetensors(weights).items()}
batch = json.load(open(tokens_path))
B, T = batch["B"], batch["T"]
ids = torch.tensor(batch["inputs"]).view(B, T)
targets = torch.tensor(batch["targets"]).view(B * T)
L = 1 + max(int(k.split(".")[1]) for k in P if k.startswith("layers."))
C = P["embed.tokens.weight"].shape[1]
D = C // H


def ln(x, name):
    return F.layer_norm(x, (C,), P[f"{name}.weight"], P[f"{name}.bias"], eps=1e-5)


def lin(x, name):
    return F.linear(x, P[f"{name}.weight"], P[f"{name}.bias"])


def loss_of():
    x = P["embed.tokens.weight"][ids] + P["embed.positions.weight"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(L):
        p = f"layers.{i}"
        h = ln(x, f"{p}.attn_norm")
        q, k, v = (lin(h, f"{p}.attn.{n}").view(B, T, H, D).transpose(1, 2) for n in "qkv")
        s = (q @ k.transpose(-1, -2) / math.sqrt(D)).masked_fill(mask, float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + lin(a, f"{p}.attn.o")
        h = ln(x, f"{p}.mlp_norm")
        x = x + lin(F.gelu(lin(h, f"{p}.mlp.up"), approximate="tanh"), f"{p}.mlp.down")
    logits = F.linear(ln(x, "norm"), P["embed.tokens.weight"])
    return F.cross_entropy(logits.view(B * T, -1), targets, ignore_index=-1)


t0 = time.perf_counter()
loss = loss_of()
loss.backward()
seconds = time.perf_counter() - t0
norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in P.values() if p.grad is not None))
print(json.dumps({"loss": float(loss), "grad_norm": norm, "seconds": seconds, "threads": torch.get_num_threads(), "torch": torch.__version__}))
