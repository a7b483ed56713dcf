/**
 * mspec_random.py of `mspec export --to torch`: mspec's generator (runtime/random.ts:
 * xoshiro128** on 32-bit words seeded through splitmix32, FNV-1a stream labels, Box–Muller
 * normals) ported bit for bit, and mspec's initial weights (runtime/init.ts: each parameter
 * std · normal() from its own stream deriveSeed(seed, name)), so train.py starts from the very
 * weights `mspec train` starts from for the same seed, and pairs.py draws the same pairs.
 */
import { generatedLines, type Provenance } from './python.js';

export function randomPy(prov: Provenance): string {
  return `"""mspec's random generator and initial weights, ported so that a seed gives what it gives in mspec.

${generatedLines(prov).join('\n')}

Rng(seed) is mspec's makeRng: xoshiro128** seeded through splitmix32, normals by Box-Muller (the
second of each pair kept for the next call). mspec_init(model, seed) writes mspec's initial weights:
each parameter from its own stream Rng(derive_seed(seed, name)), std * normal() rounded to float32,
ones for norm scales, zeros for biases (pure Python: about a second per 100k weights).
"""
import math

import torch

from model import INIT

M32 = 0xFFFFFFFF


def _splitmix32(state):
    state[0] = (state[0] + 0x9E3779B9) & M32
    z = state[0]
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
    return z ^ (z >> 16)


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """xoshiro128** seeded through splitmix32: the same words as mspec's makeRng(seed)."""

    def __init__(self, seed):
        sm = [seed & M32]
        self.s = [_splitmix32(sm) for _ in range(4)]
        if not any(self.s):
            self.s[0] = 1  # the all-zero state is a fixed point

    def next_u32(self):
        a, b, c, d = self.s
        result = (_rotl((b * 5) & M32, 7) * 9) & M32
        t = (b << 9) & M32
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = _rotl(d, 11)
        self.s = [a, b, c, d]
        return result


def derive_seed(seed, label):
    """The seed of one named stream: FNV-1a over the label's UTF-16 code units, mixed with seed."""
    h = 0x811C9DC5 ^ (seed & M32)
    units = label.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = ((h ^ (units[i] | units[i + 1] << 8)) * 0x01000193) & M32
    return _splitmix32([h])


def random_int(rng, n):
    """Uniform in [0, n) without modulo bias (mspec's randomInt for n <= 2^32)."""
    limit = 2**32 - (2**32 % n)
    while True:
        u = rng.next_u32()
        if u < limit:
            return u % n



def normals(rng, n):
    """n standard normals from rng, as mspec's rng.normal() draws them (cos first, then the spare sin)."""
    out = [0.0] * n
    next_u32 = rng.next_u32
    for i in range(0, n, 2):
        u1 = 1 - next_u32() / 4294967296  # (0, 1]: log(0) is never taken
        u2 = next_u32() / 4294967296
        r = math.sqrt(-2 * math.log(u1))
        out[i] = r * math.cos(2 * math.pi * u2)
        if i + 1 < n:
            out[i + 1] = r * math.sin(2 * math.pi * u2)
    return out


def mspec_init(model, seed):
    """Writes mspec's initial weights for seed into model (mspec's parameter names); returns it."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            rule = INIT[name]
            if rule == "zeros":
                p.zero_()
            elif rule == "ones":
                p.fill_(1.0)
            else:
                values = [rule * z for z in normals(Rng(derive_seed(seed, name)), p.numel())]
                p.copy_(torch.tensor(values, dtype=torch.float64).reshape(p.shape))
    return model
`;
}
