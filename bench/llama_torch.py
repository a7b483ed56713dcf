"""PyTorch (CPU) prefill and KV-cached greedy decode throughput of a Llama-style model (RMSNorm,
RoPE, grouped-query attention, SwiGLU, untied head) of the given shape with random weights: the
reference beside specs/tiny-llama.model in bench/model.mjs. Prints one JSON line.
Usage: /usr/bin/python3 bench/llama_torch.py LAYERS D_MODEL HEADS KV_HEADS HIDDEN VOCAB CONTEXT DECODE_STEPS"""
import json, os, sys, time
import torch
import torch.nn.functional as F

L, C, H, KH, HID, V, T, STEPS = map(int, sys.argv[1:9])
if os.environ.get("TORCH_THREADS"):
    torch.set_num_threads(int(os.environ["TORCH_THREADS"]))
torch.manual_seed(0)
g = lambda *s: torch.randn(*s) * 0.02
D = C // H
wte, head = g(V, C), g(V, C)
layers = [dict(n1=torch.ones(C), q=g(C, C), k=g(KH * D, C), v=g(KH * D, C), o=g(C, C), n2=torch.ones(C),
               gate=g(HID, C), up=g(HID, C), down=g(C, HID)) for _ in range(L)]
nf = torch.ones(C)
inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def rope(x, pos0):  # x [h, n, D]
    n = x.shape[1]
    ang = torch.outer(torch.arange(pos0, pos0 + n).float(), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(ids, pos0, cache):
    n = ids.shape[0]
    x = wte[ids]
    new = []
    for i, p in enumerate(layers):
        h = rms(x, p['n1'])
        q = rope(F.linear(h, p['q']).view(n, H, D).transpose(0, 1), pos0)
        k = rope(F.linear(h, p['k']).view(n, KH, D).transpose(0, 1), pos0)
        v = F.linear(h, p['v']).view(n, KH, D).transpose(0, 1)
        if cache is not None:
            k = torch.cat([cache[i][0], k], 1)
            v = torch.cat([cache[i][1], v], 1)
        new.append((k, v))
        kk, vv = k.repeat_interleave(H // KH, 0), v.repeat_interleave(H // KH, 0)
        s = q @ kk.transpose(1, 2) / D ** 0.5
        if n > 1:
            s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float('-inf'))
        x = x + F.linear((s.softmax(-1) @ vv).transpose(0, 1).reshape(n, C), p['o'])
        h = rms(x, p['n2'])
        x = x + F.linear(F.silu(F.linear(h, p['gate'])) * F.linear(h, p['up']), p['down'])
    return F.linear(rms(x[-1:], nf), head), new


with torch.no_grad():
    ids = torch.arange(T) * 7 % V
    forward(ids[:8], 0, None)  # warm-up
    t0 = time.perf_counter()
    logits, cache = forward(ids, 0, None)
    prefill = T / (time.perf_counter() - t0)
    _, cache = forward(ids[:4], 0, None)
    t0 = time.perf_counter()
    for s in range(STEPS):
        logits, cache = forward(torch.tensor([int(logits.argmax())]) if s else ids[4:5], 4 + s, cache)
    decode = STEPS / (time.perf_counter() - t0)
print(json.dumps({'prefill': prefill, 'decode': decode, 'threads': torch.get_num_threads(), 'torch': torch.__version__}))
