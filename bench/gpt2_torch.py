"""PyTorch (CPU) prefill and KV-cached decode throughput of a GPT-2 of the given shape with
random weights: the reference row of bench/gpt2-sizes.mjs. Prints one JSON line.
Usage: /usr/bin/python3 bench/gpt2_torch.py LAYERS D_MODEL HEADS VOCAB CONTEXT DECODE_STEPS"""
import json, math, sys, time
import torch
import torch.nn.functional as F

L, C, H, V, T, STEPS = map(int, sys.argv[1:7])
torch.manual_seed(0)
g = lambda *s: torch.randn(*s) * 0.02
wte, wpe = g(V, C), g(T, C)
layers = [dict(ln1=(torch.ones(C), torch.zeros(C)), qkv=(g(3 * C, C), torch.zeros(3 * C)), proj=(g(C, C), torch.zeros(C)),
               ln2=(torch.ones(C), torch.zeros(C)), fc=(g(4 * C, C), torch.zeros(4 * C)), out=(g(C, 4 * C), torch.zeros(C))) for _ in range(L)]
lnf = (torch.ones(C), torch.zeros(C))
D = C // H


def forward(ids, pos0, cache):
    """ids [n]: positions pos0..pos0+n-1; cache: per layer (k, v) [H, pos0, D] or None. Returns the last row's logits."""
    n = ids.shape[0]
    x = wte[ids] + wpe[pos0:pos0 + n]
    new = []
    for i, p in enumerate(layers):
        h = F.layer_norm(x, (C,), *p['ln1'], eps=1e-5)
        q, k, v = F.linear(h, *p['qkv']).view(n, 3, H, D).permute(1, 2, 0, 3)
        if cache is not None:
            k = torch.cat([cache[i][0], k], 1)
            v = torch.cat([cache[i][1], v], 1)
        new.append((k, v))
        s = q @ k.transpose(1, 2) / math.sqrt(D)
        if n > 1:
            s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float('-inf'))
        a = (s.softmax(-1) @ v).transpose(0, 1).reshape(n, C)
        x = x + F.linear(a, *p['proj'])
        h = F.layer_norm(x, (C,), *p['ln2'], eps=1e-5)
        x = x + F.linear(F.gelu(F.linear(h, *p['fc']), approximate='tanh'), *p['out'])
    return F.linear(F.layer_norm(x[-1:], (C,), *lnf, eps=1e-5), wte), new


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
