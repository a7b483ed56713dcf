/**
 * model.py of `mspec export --to torch`: one nn.Module for one resolved model, written from
 * the ModelSpec (what each layer does) and the IR graph (parameter names, shapes, weight decay
 * and init rules), so that `state_dict()` keys are exactly mspec's parameter names and the
 * weights move between the two with no table.
 *
 * The math follows the CPU interpreter (compiler/ir/interpret/), which defines every op:
 * rotate_half RoPE on the first rotary_dims of a head, ALiBi −slope·|i − j| with the paper's
 * slopes, T5 buckets as HF computes them, windows i − w < j ≤ i (causal) or |i − j| < w, MoE
 * top-k by a stable sort (ties go to the lower expert), softmax gates gathered and optionally
 * renormalised, the Switch aux loss over routed slots, padded vocabulary rows outside the loss.
 * Only the pieces the model uses are written out (no RoPE helper in a GPT-2, no MoE class in
 * a dense model), so the file reads as a description of this one model.
 */
import { allLayers, type LayerSpec, type ModelSpec, type NormSpec, type StackSpec } from '../../semantics/model.js';
import type { Graph } from '../../ir/graph.js';
import { initRules } from '../../ir/interpret/init.js';
import { generatedLines, type Provenance, pyLiteral } from './python.js';
import { CHOOSE_PY, generateMethodPy, generates } from './torch-generate.js';

function normCfg(n: NormSpec | null): unknown {
  return n ? { kind: n.kind, eps: n.eps, scale: n.scale, bias: n.bias } : null;
}

function layerCfg(m: ModelSpec, L: LayerSpec): Record<string, unknown> {
  const pos = m.embedding.positions;
  const attn = (a: LayerSpec['attention'], cross: boolean) => ({
    heads: a.heads,
    kv_heads: a.kv_heads,
    head_dim: a.head_dim,
    causal: a.causal,
    window: a.window,
    bias: a.bias,
    dropout: a.dropout,
    scaled: a.scaled,
    // Positions belong to self-attention; cross-attention compares unrelated sequences.
    rotary_dims: !cross && pos.kind === 'rope' ? Math.round(a.head_dim * pos.fraction) : 0,
  });
  return {
    norm: normCfg(L.norm),
    placement: L.placement,
    parallel: L.parallel,
    shared_norm: L.shared_norm,
    attention: attn(L.attention, false),
    cross_attention: L.cross_attention ? attn(L.cross_attention, true) : null,
    mlp: { activation: L.mlp.activation, hidden: L.mlp.hidden, bias: L.mlp.bias },
    moe: L.moe
      ? {
          experts: L.moe.experts,
          top_k: L.moe.top_k,
          router_bias: L.moe.router_bias,
          renormalize: L.moe.renormalize,
          aux_loss: L.moe.aux_loss,
          shared_experts: L.moe.shared_experts,
        }
      : null,
    dropout: L.dropout,
  };
}

/** `NAME = [...]`: the layer configs of a stack, one shared dict when the layers are alike. */
function stackLayers(m: ModelSpec, name: string, s: StackSpec | null): string {
  if (!s) return `${name} = None\n`;
  const cfgs = s.layers.map((L) => layerCfg(m, L));
  const texts = cfgs.map((c) => pyLiteral(c));
  const same = texts.every((t) => t === texts[0]);
  const final = `${name}_FINAL_NORM = ${pyLiteral(normCfg(s.final_norm))}\n`;
  if (same && cfgs.length > 0) return `${name}_LAYER = ${pyLiteral(cfgs[0])}\n${name} = [${name}_LAYER] * ${cfgs.length}\n${final}`;
  return `${name} = ${pyLiteral(cfgs)}\n${final}`;
}

export function modelPy(m: ModelSpec, graph: Graph, prov: Provenance): string {
  const layers = allLayers(m);
  const pos = m.embedding.positions;
  const has = {
    rope: pos.kind === 'rope',
    alibi: pos.kind === 'alibi',
    relative: pos.kind === 'relative',
    sinusoidal: pos.kind === 'sinusoidal',
    learned: pos.kind === 'learned',
    moe: layers.some((L) => L.moe !== null),
    cross: layers.some((L) => L.cross_attention !== null),
    window: layers.some((L) => L.attention.window !== null),
    encdec: m.arch === 'encoder_decoder',
    lm: m.head.kind === 'lm',
    transform: m.head.transform !== null,
    pooler: m.head.pooler,
    segments: m.embedding.segments > 0,
  };
  const rules = initRules(graph);
  const init = Object.fromEntries(
    graph.params.map((p) => {
      const r = rules.get(p.name)!;
      return [p.name, r.kind === 'normal' ? r.std : r.kind];
    }),
  );
  const decay = graph.params.filter((p) => p.decay).map((p) => p.name);
  const shapes = Object.fromEntries(graph.params.map((p) => [p.name, [...p.shape]]));
  const headLayers = (m.arch === 'encoder' ? m.encoder : m.decoder)?.layers ?? [];
  const transformNorm: NormSpec = headLayers.at(-1)?.norm ?? { kind: 'layernorm', eps: 1e-5, scale: true, bias: true };
  const cfg = {
    arch: m.arch,
    vocab: m.vocab,
    vocab_raw: m.vocab_raw,
    context: m.context,
    d_model: m.d_model,
    positions: pos,
    tied: m.embedding.tied,
    segments: m.embedding.segments,
    embed_norm: normCfg(m.embedding.norm),
    embed_dropout: m.embedding.dropout,
    head: {
      kind: m.head.kind,
      bias: m.head.bias,
      transform: m.head.transform,
      transform_norm: m.head.transform ? normCfg(transformNorm) : null,
      pooler: m.head.pooler,
      logit_scale: m.head.logit_scale,
    },
  };
  const doc = generatedLines(prov);
  const out: string[] = [];
  out.push(`"""${m.name}: a PyTorch module for the mspec model '${m.name}' (${describeArch(m)}).

${doc.join('\n')}

state_dict() keys are mspec's parameter names (embed.tokens.weight, layers.0.attn.q.weight, ...),
so an mspec checkpoint loads with load_weights() and a state_dict saved with save_weights()
is an mspec checkpoint. Needs only torch; safetensors files are read and written by hand below.
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

MSPEC_VERSION = ${pyLiteral(prov.version)}
MODEL_NAME = ${pyLiteral(m.name)}
SPEC_PATH = ${pyLiteral(prov.specPath)}

# ── the resolved spec ──────────────────────────────────────────────────────────────────────
CONFIG = ${pyLiteral(cfg)}
${stackLayers(m, 'ENCODER', m.encoder)}${stackLayers(m, 'DECODER', m.decoder)}
# mspec's parameters: name -> shape, init (std of a normal, "zeros" or "ones"), and the names
# AdamW decays (matrices and tables; never biases or norm scales).
SHAPES = ${pyLiteral(shapes)}
INIT = ${pyLiteral(init)}
DECAY = ${pyLiteral(decay)}

ACT = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}
# A gated MLP's gate activation: down(act(gate(x)) * up(x)).
GATE = {"swiglu": "silu", "geglu": "gelu", "geglu_tanh": "gelu_tanh", "reglu": "relu"}


class Norm(nn.Module):
    """LayerNorm or RMSNorm (x * rsqrt(mean(x^2) + eps)), with the spec's learned scale and shift."""

    def __init__(self, cfg, dim):
        super().__init__()
        self.kind, self.eps = cfg["kind"], cfg["eps"]
        self.weight = nn.Parameter(torch.ones(dim)) if cfg["scale"] else None
        self.bias = nn.Parameter(torch.zeros(dim)) if cfg["bias"] else None

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
`);
  if (has.rope)
    out.push(`

def rotary(x, positions, rotary_dims, base):
    """RoPE in the rotate_half layout on the first rotary_dims of each head; x: (B, heads, T, D)."""
    half = rotary_dims // 2
    inv_freq = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / rotary_dims)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (T, R/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2, rest = x[..., :half], x[..., half:rotary_dims], x[..., rotary_dims:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest), dim=-1)
`);
  if (has.alibi)
    out.push(`

def alibi_slopes(heads):
    """Press et al.'s slopes: 2^(-8(h+1)/n) for a power of two n, else those of the largest power
    of two m < n followed by every other slope of 2m."""
    pow2 = lambda n: [2 ** (-8 * (h + 1) / n) for h in range(n)]  # noqa: E731
    m = 2 ** int(math.floor(math.log2(heads)))
    return pow2(m) + pow2(2 * m)[0::2][: heads - m]
`);
  if (has.relative)
    out.push(`

def relative_bucket(rel, bidirectional, buckets, max_distance):
    """T5's bucket of relative position rel = key - query (HF T5Attention._relative_position_bucket)."""
    bucket = torch.zeros_like(rel)
    if bidirectional:
        buckets //= 2
        bucket = bucket + (rel > 0).to(torch.long) * buckets
        dist = rel.abs()
    else:
        dist = -torch.min(rel, torch.zeros_like(rel))
    max_exact = buckets // 2
    large = max_exact + (
        torch.log(dist.float() / max_exact) / math.log(max_distance / max_exact) * (buckets - max_exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, buckets - 1))
    return bucket + torch.where(dist < max_exact, dist, large)
`);
  out.push(`

def attend(q, k, v, scale, bias, visible, causal, dropout):
    """softmax(q k^T * scale + bias, over the visible keys) v; q: (B, H, T, D), k, v: (B, H, Tk, D).
    torch.nn.functional.scaled_dot_product_attention where this torch has it."""
    if hasattr(F, "scaled_dot_product_attention"):
        q = q * (scale * math.sqrt(q.shape[-1]))  # SDPA scales by 1/sqrt(D) itself
        mask = None
        if bias is not None or (visible is not None and not causal):
            mask = torch.zeros(visible.shape if bias is None else bias.shape[-2:], dtype=q.dtype, device=q.device)
            mask = mask + bias if bias is not None else mask
            if visible is not None:
                mask = mask.masked_fill(~visible, float("-inf"))
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal and mask is None
        )
    scores = (q @ k.transpose(-1, -2)) * scale
    if bias is not None:
        scores = scores + bias
    if visible is not None:
        scores = scores.masked_fill(~visible, float("-inf"))
    weights = torch.nan_to_num(scores.softmax(-1))  # a query that sees no key outputs zeros
    if dropout > 0:
        weights = F.dropout(weights, dropout)
    return weights @ v


class Attention(nn.Module):
    """Multi-head attention: query head h reads K/V head h // (heads / kv_heads) (GQA, MQA)."""

    def __init__(self, cfg, d_model, cross=False):
        super().__init__()
        H, K, D, bias = cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["bias"]
        self.heads, self.kv_heads, self.head_dim = H, K, D
        self.causal, self.window, self.dropout = cfg["causal"], cfg["window"], cfg["dropout"]
        self.scale = 1 / math.sqrt(D) if cfg["scaled"] else 1.0
        self.rotary_dims, self.cross = cfg["rotary_dims"], cross
        self.q = nn.Linear(d_model, H * D, bias=bias)
        self.k = nn.Linear(d_model, K * D, bias=bias)
        self.v = nn.Linear(d_model, K * D, bias=bias)
        self.o = nn.Linear(H * D, d_model, bias=bias)
`);
  if (has.alibi) out.push(`        self.register_buffer("slopes", torch.tensor(alibi_slopes(H)), persistent=False)\n`);
  out.push(`
    def forward(self, x, kv=None, positions=None, rel_bias=None, cache=None):
        """cache (generation): a dict that keeps this layer's keys and values between calls, so x
        holds only the new positions (given by positions); cross-attention projects memory once."""
        kv = x if kv is None else kv
        B, T, _ = x.shape
        Tk = kv.shape[1]
        H, K, D = self.heads, self.kv_heads, self.head_dim
        q = self.q(x).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        kept = cache is not None and self.cross and "k" in cache
        if kept:
            k, v = cache["k"], cache["v"]  # (B, K, Tk, D): the encoder's memory, projected at the first step
        else:
            k = self.k(kv).view(B, Tk, K, D).transpose(1, 2)  # (B, K, Tk, D)
            v = self.v(kv).view(B, Tk, K, D).transpose(1, 2)
`);
  if (has.rope)
    out.push(`        if self.rotary_dims > 0:
            base = CONFIG["positions"]["base"]
            q, k = rotary(q, positions, self.rotary_dims, base), rotary(k, positions, self.rotary_dims, base)
`);
  out.push(`        if cache is not None and not kept:
            if "k" in cache:  # self-attention: the earlier positions' keys and values, then these
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        Tk = k.shape[2]
        if H != K:
            k, v = k.repeat_interleave(H // K, dim=1), v.repeat_interleave(H // K, dim=1)
        # Query i and key j by absolute position (with a cache the queries start past 0).
        i = (torch.arange(T, device=x.device) if positions is None else positions)[:, None]
        j = torch.arange(Tk, device=x.device)[None, :]
        visible = None
        if self.causal:
            visible = j <= i
        if self.window is not None:
            near = (j > i - self.window) if self.causal else ((i - j).abs() < self.window)
            visible = near if visible is None else visible & near
        bias = None
`);
  if (has.alibi)
    out.push(`        if not self.cross:
            bias = -self.slopes.to(q.dtype)[:, None, None] * (i - j).abs().to(q.dtype)  # (H, T, Tk)
`);
  if (has.relative)
    out.push(`        if rel_bias is not None and not self.cross:
            p = CONFIG["positions"]
            buckets = relative_bucket(j - i, not self.causal, p["buckets"], p["max_distance"])
            bias = rel_bias(buckets).permute(2, 0, 1)  # (H, T, Tk)
`);
  out.push(`        dropout = self.dropout if self.training else 0.0
        y = attend(q, k, v, self.scale, bias, visible, self.causal and self.window is None and T == Tk, dropout)
        return self.o(y.transpose(1, 2).reshape(B, T, H * D))


class MLP(nn.Module):
    """up -> activation -> down, or gated: down(act(gate(x)) * up(x))."""

    def __init__(self, cfg, d_model):
        super().__init__()
        act, F_, bias = cfg["activation"], cfg["hidden"], cfg["bias"]
        self.gated = act in GATE
        self.act = ACT[GATE.get(act, act)]
        if self.gated:
            self.gate = nn.Linear(d_model, F_, bias=bias)
        self.up = nn.Linear(d_model, F_, bias=bias)
        self.down = nn.Linear(F_, d_model, bias=bias)

    def forward(self, x):
        h = self.act(self.gate(x)) * self.up(x) if self.gated else self.act(self.up(x))
        return self.down(h)
`);
  if (has.moe)
    out.push(`

class StackedLinear(nn.Module):
    """One projection of all experts: weight (E, out, in), bias (E, out), as mspec stacks them."""

    def __init__(self, experts, d_in, d_out, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(experts, d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(experts, d_out)) if bias else None

    def forward(self, x, e):
        return F.linear(x, self.weight[e], None if self.bias is None else self.bias[e])


class MoE(nn.Module):
    """Routed experts (Mixtral): softmax over the router logits, the top_k experts by a stable sort
    (equal logits: the lower expert first), their probabilities as gates (renormalised to sum to 1
    when the spec says so); plus shared experts every token goes through. aux_loss holds the
    Switch load-balancing loss coef * E * sum_i f_i * P_i of the last forward (f_i: the share of
    routed slots that chose expert i; P_i: its mean router probability)."""

    def __init__(self, cfg, mlp, d_model):
        super().__init__()
        E, bias = cfg["experts"], mlp["bias"]
        self.experts_n, self.top_k, self.renormalize, self.coef = E, cfg["top_k"], cfg["renormalize"], cfg["aux_loss"]
        act, F_ = mlp["activation"], mlp["hidden"]
        self.gated = act in GATE
        self.act = ACT[GATE.get(act, act)]
        self.router = nn.Linear(d_model, E, bias=cfg["router_bias"])
        projections = {"up": StackedLinear(E, d_model, F_, bias), "down": StackedLinear(E, F_, d_model, bias)}
        if self.gated:
            projections["gate"] = StackedLinear(E, d_model, F_, bias)
        self.experts = nn.ModuleDict(projections)
        self.shared = nn.ModuleList([MLP(mlp, d_model) for _ in range(cfg["shared_experts"])])
        self.aux_loss = None

    def forward(self, x):
        B, T, C = x.shape
        xs = x.reshape(B * T, C)
        logits = self.router(xs)  # (N, E)
        probs = logits.softmax(-1)
        idx = torch.sort(logits, dim=-1, descending=True, stable=True).indices[:, : self.top_k]  # (N, k)
        gates = probs.gather(-1, idx)
        if self.renormalize:
            gates = gates / gates.sum(-1, keepdim=True)
        y = torch.zeros_like(xs)
        ex = self.experts
        for e in range(self.experts_n):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            h = xs[rows]
            h = self.act(ex["gate"](h, e)) * ex["up"](h, e) if self.gated else self.act(ex["up"](h, e))
            y = y.index_add(0, rows, ex["down"](h, e) * gates[rows, slot, None])
        if self.coef > 0:
            share = F.one_hot(idx, self.experts_n).to(probs.dtype).sum((0, 1)) / idx.numel()
            self.aux_loss = self.coef * self.experts_n * (share * probs.mean(0)).sum()
        y = y.reshape(B, T, C)
        for mlp in self.shared:
            y = y + mlp(x)
        return y
`);
  out.push(`

class Block(nn.Module):
    """One layer: pre-norm x + f(norm(x)) or post-norm norm(x + f(x)) for each of attention,
    (cross-attention,) MLP; a parallel layer adds attention and MLP of the same input."""

    def __init__(self, cfg, d_model):
        super().__init__()
        self.placement, self.parallel, self.shared_norm = cfg["placement"], cfg["parallel"], cfg["shared_norm"]
        norm = lambda: Norm(cfg["norm"], d_model)  # noqa: E731
        if self.parallel and (self.placement == "post" or self.shared_norm):
            self.norm = norm()
        else:
            self.attn_norm, self.mlp_norm = norm(), norm()
        self.attn = Attention(cfg["attention"], d_model)
        if cfg["cross_attention"] is not None:
            self.cross_norm = norm()
            self.cross_attn = Attention(cfg["cross_attention"], d_model, cross=True)
        self.has_cross = cfg["cross_attention"] is not None
        if cfg["moe"] is not None:
            self.moe = MoE(cfg["moe"], cfg["mlp"], d_model)
        else:
            self.mlp = MLP(cfg["mlp"], d_model)
        self.drop = nn.Dropout(cfg["dropout"])

    def sublayer(self, norm, x, f):
        return x + f(norm(x)) if self.placement == "pre" else norm(x + f(x))

    def forward(self, x, positions=None, rel_bias=None, memory=None, cache=None):
        own, mem = (None, None) if cache is None else (cache.setdefault("self", {}), cache.setdefault("cross", {}))
        attn = lambda y: self.drop(self.attn(y, positions=positions, rel_bias=rel_bias, cache=own))  # noqa: E731
        ffn = lambda y: self.drop(self.moe(y) if hasattr(self, "moe") else self.mlp(y))  # noqa: E731
        cross = lambda y: self.drop(self.cross_attn(y, kv=memory, cache=mem))  # noqa: E731
        if not self.parallel:
            x = self.sublayer(self.attn_norm, x, attn)
            if self.has_cross:
                x = self.sublayer(self.cross_norm, x, cross)
            return self.sublayer(self.mlp_norm, x, ffn)
        if self.placement == "post":
            x = self.norm(x + attn(x) + ffn(x))
        elif self.shared_norm:
            n = self.norm(x)
            x = x + attn(n) + ffn(n)
        else:
            x = x + attn(self.attn_norm(x)) + ffn(self.mlp_norm(x))
        if self.has_cross:
            x = self.sublayer(self.cross_norm, x, cross)
        return x


class Embeddings(nn.Module):
    """Token table (unless shared from outside), ${has.learned ? 'learned positions, ' : has.sinusoidal ? 'sinusoidal positions, ' : ''}${has.segments ? 'segments, ' : ''}${m.embedding.norm ? 'norm, ' : ''}dropout."""

    def __init__(self, own_tokens):
        super().__init__()
        C = CONFIG["d_model"]
        if own_tokens:
            self.tokens = nn.Embedding(CONFIG["vocab"], C)
        if CONFIG["positions"]["kind"] == "learned":
            self.positions = nn.Embedding(CONFIG["context"], C)
        if CONFIG["segments"] > 0:
            self.segments = nn.Embedding(CONFIG["segments"], C)
        if CONFIG["embed_norm"] is not None:
            self.norm = Norm(CONFIG["embed_norm"], C)
        self.drop = nn.Dropout(CONFIG["embed_dropout"])

    def forward(self, ids, positions, segments=None, table=None):
        x = F.embedding(ids, self.tokens.weight if table is None else table)
${has.learned ? '        x = x + self.positions(positions)\n' : ''}${has.sinusoidal ? '        x = x + sinusoidal(positions, x.shape[-1]).to(x.dtype)\n' : ''}${has.segments ? '        x = x + self.segments(torch.zeros_like(ids) if segments is None else segments)\n' : ''}${m.embedding.norm ? '        x = self.norm(x)\n' : ''}        return self.drop(x)
`);
  if (has.sinusoidal)
    out.push(`

def sinusoidal(positions, dim):
    """Vaswani et al.: sin at even channels, cos at odd, angle p / 10000^(2 floor(c/2) / dim)."""
    c = torch.arange(dim, dtype=torch.float64, device=positions.device)
    angles = positions.to(torch.float64)[:, None] / 10000 ** (2 * torch.div(c, 2, rounding_mode="floor") / dim)
    return torch.where(c.long() % 2 == 0, angles.sin(), angles.cos())
`);
  out.push(`

class Stack(nn.Module):
    """Embeddings, layers and the final norm of one stack."""

    def __init__(self, layers, final_norm, own_tokens):
        super().__init__()
        self.embed = Embeddings(own_tokens)
        if CONFIG["positions"]["kind"] == "relative" and layers:
            self.rel_bias = nn.Embedding(CONFIG["positions"]["buckets"], layers[0]["attention"]["heads"])
        self.layers = nn.ModuleList([Block(cfg, CONFIG["d_model"]) for cfg in layers])
        self.norm = Norm(final_norm, CONFIG["d_model"]) if final_norm is not None else None

    def run(self, ids, segments=None, table=None, memory=None, cache=None, start=0):
        """cache (generation): a list with a dict per layer; ids are then positions start, start + 1, …"""
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.embed(ids, positions, segments, table)
        rel_bias = getattr(self, "rel_bias", None)
        for n, layer in enumerate(self.layers):
            x = layer(x, positions=positions, rel_bias=rel_bias, memory=memory, cache=None if cache is None else cache[n])
        return self.norm(x) if self.norm is not None else x


class LMHead(nn.Module):
    """The projection to the vocabulary (the token table when tied)${has.transform ? ", after BERT's transform" : ''}."""

    def __init__(self):
        super().__init__()
        C, V, h = CONFIG["d_model"], CONFIG["vocab"], CONFIG["head"]
        if h["transform"] is not None:
            self.transform = Transform(h["transform"], h["transform_norm"], C)
        self.weight = None if CONFIG["tied"] else nn.Parameter(torch.empty(V, C))
        self.bias = nn.Parameter(torch.zeros(V)) if h["bias"] else None

    def forward(self, x, table):
        if hasattr(self, "transform"):
            x = self.transform(x)
        if CONFIG["head"]["logit_scale"] != 1:
            x = x * CONFIG["head"]["logit_scale"]
        return F.linear(x, table if self.weight is None else self.weight, self.bias)
`);
  if (has.transform)
    out.push(`

class Transform(nn.Module):
    """BERT's masked-LM transform: dense with bias, the activation, then a norm."""

    def __init__(self, act, norm, C):
        super().__init__()
        self.act = ACT[act]
        self.weight = nn.Parameter(torch.empty(C, C))
        self.bias = nn.Parameter(torch.zeros(C))
        self.norm = Norm(norm, C)

    def forward(self, x):
        return self.norm(self.act(F.linear(x, self.weight, self.bias)))
`);
  out.push(modelClass(m, has));
  out.push(WEIGHTS_PY);
  return out.join('');
}

function describeArch(m: ModelSpec): string {
  const n = (s: StackSpec | null) => s?.layers.length ?? 0;
  if (m.arch === 'encoder_decoder') return `encoder–decoder, ${n(m.encoder)} + ${n(m.decoder)} layers`;
  return `${m.arch}, ${n(m.arch === 'encoder' ? m.encoder : m.decoder)} layers, d_model ${m.d_model}`;
}

function modelClass(m: ModelSpec, has: Record<string, boolean>): string {
  const lossDoc = has.lm
    ? `targets (B, T) give "loss": the mean cross-entropy over targets >= 0 (negative ones are
    ignored), over the first vocab_raw classes only${has.moe ? ", plus the MoE layers' aux losses" : ''}.`
    : 'The model has no LM head: "hidden" holds its output states.';
  const common = `
    def init_weights(self, seed=None):
        """mspec's init rules (nanoGPT's): N(0, std^2) per INIT, zeros for biases, ones for norm scales."""
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for name, p in self.named_parameters():
                rule = INIT[name]
                if rule == "zeros":
                    p.zero_()
                elif rule == "ones":
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * rule)
        return self

    def loss_of(self, logits, targets):
        V = CONFIG["vocab_raw"]
        t = targets.reshape(-1)
        loss = F.cross_entropy(logits[..., :V].reshape(-1, V).float(), t.masked_fill(t < 0, -100))
${has.moe ? '        for layer in self.all_layers():\n            if hasattr(layer, "moe") and layer.moe.aux_loss is not None:\n                loss = loss + layer.moe.aux_loss\n' : ''}        return loss
`;
  const headOut = (h: string) =>
    (has.lm
      ? `        out["logits"] = self.lm_head(${h}, self.embed.tokens.weight)
        if targets is not None:
            out["loss"] = self.loss_of(out["logits"], targets)
`
      : `        out["hidden"] = ${h}\n`) +
    (has.pooler ? `        out["pooled"] = torch.tanh(self.pooler(${h}[:, 0]))\n` : '') +
    '        return out\n';
  const headInit = (has.lm ? '        self.lm_head = LMHead()\n' : '') + (has.pooler ? '        self.pooler = nn.Linear(C, C)\n' : '');
  const gen = generates(m) ? generateMethodPy(m) : '';
  const choose = generates(m) ? CHOOSE_PY : '';
  if (has.encdec) {
    return `${choose}

class Model(nn.Module):
    """${m.name}: encoder–decoder. forward(src, tokens) -> dict with "logits" (B, T, vocab) of the
    decoder reading tokens and attending to the encoded src. ${lossDoc}"""

    def __init__(self):
        super().__init__()
        C = CONFIG["d_model"]
        self.embed = Embeddings(own_tokens=True)  # only its token table: shared by both stacks
        self.encoder = Stack(ENCODER, ENCODER_FINAL_NORM, own_tokens=False)
        self.decoder = Stack(DECODER, DECODER_FINAL_NORM, own_tokens=False)
${headInit}        self.init_weights()

    def all_layers(self):
        return list(self.encoder.layers) + list(self.decoder.layers)

    def encode(self, src):
        return self.encoder.run(src, table=self.embed.tokens.weight)

    def forward(self, src, tokens, targets=None, memory=None):
        memory = self.encode(src) if memory is None else memory
        h = self.decoder.run(tokens, table=self.embed.tokens.weight, memory=memory)
        out = {}
${headOut('h')}${common}${gen}`;
  }
  const stackName = m.arch === 'encoder' ? 'ENCODER' : 'DECODER';
  return `${choose}

class Model(Stack):
    """${m.name}: forward(tokens${has.segments ? ', segments=None' : ''}) -> dict with ${has.lm ? '"logits" (B, T, vocab)' : '"hidden" (B, T, d_model)'}${has.pooler ? ' and "pooled" (B, d_model)' : ''}.
    ${lossDoc}"""

    def __init__(self):
        super().__init__(${stackName}, ${stackName}_FINAL_NORM, own_tokens=True)
        C = CONFIG["d_model"]
${headInit}        self.init_weights()

    def all_layers(self):
        return list(self.layers)

    def forward(self, tokens, targets=None, segments=None):
        h = self.run(tokens, segments=segments)
        out = {}
${headOut('h')}${common}${gen}`;
}

const WEIGHTS_PY = `

# ── safetensors, read and written by hand (no safetensors package needed) ──────────────────
DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
}


def read_safetensors(path):
    """(tensors by name, metadata) of a .safetensors file: 8-byte header length, JSON header, data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    meta = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not know")
        start, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end == start:
            t = torch.empty(info["shape"], dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(data[start:end]), dtype=dtype).reshape(info["shape"])
        tensors[name] = t
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes float32 tensors (sorted by name) and string metadata; atomically (temp file, rename)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        try:
            raw = t.numpy().tobytes()
        except (ImportError, RuntimeError):  # a torch without numpy
            raw = bytes(t.reshape(-1).view(torch.uint8).tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def load_weights(model, path):
    """Loads an mspec checkpoint (or weights.safetensors) into model; every tensor must match."""
    tensors, meta = read_safetensors(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise ValueError(f"{path} does not hold this model's weights: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, t in tensors.items():
        if list(t.shape) != list(own[name].shape):
            raise ValueError(f"{path}: {name} has shape {list(t.shape)}, the model needs {list(own[name].shape)}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return meta


def save_weights(model_or_state, path, metadata=None):
    """Writes the weights under mspec's names (a state_dict, or a model's)."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    write_safetensors(path, state, metadata)
`;
