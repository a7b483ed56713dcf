import { describe, expect, it } from 'vitest';
import { type AttentionAttrs, OPS, type OpKind, opDef } from '../../compiler/ir/ops.js';
import type { DimEnv, Shape, TensorType } from '../../compiler/ir/tensor.js';

const f32 = (...shape: Shape): TensorType => ({ dtype: 'f32', shape });
const i32 = (...shape: Shape): TensorType => ({ dtype: 'i32', shape });
const env: DimEnv = { B: 2, T: 10, S: 7 };

const attn = (a: Partial<AttentionAttrs> = {}): AttentionAttrs => ({
  heads: 8,
  kv_heads: 2,
  head_dim: 16,
  causal: true,
  window: null,
  positions: 'none',
  buckets: 0,
  max_distance: 0,
  dropout: 0,
  cross: false,
  ...a,
});

describe('op table', () => {
  it('gives every op a class, a doc and all four rules', () => {
    for (const kind of Object.keys(OPS) as OpKind[]) {
      const d = OPS[kind];
      expect(['matmul', 'attention', 'elementwise', 'data'], kind).toContain(d.cls);
      expect(d.doc.length, kind).toBeGreaterThan(5);
      for (const f of [d.shape, d.flops, d.bytes, d.saved]) expect(typeof f, kind).toBe('function');
    }
  });

  it('linear: (…, in) × (out, in) → (…, out), 2·in·out FLOPs per row, bias is elementwise', () => {
    const lin = opDef('linear');
    const ins = [f32('B', 'T', 64), f32(256, 64), f32(256)];
    expect(lin.shape(ins, { bias: true, activation: null })).toEqual(f32('B', 'T', 256));
    expect(lin.flops(ins, { bias: true, activation: null }, env)).toEqual({ rows: ['B', 'T'], mm: 2 * 64 * 256, ew: 256 });
    expect(lin.shape([f32('B', 'T', 63), f32(256, 64)], { bias: false, activation: null })).toMatch(/does not match/);
    expect(lin.shape([f32('B', 'T', 64), f32(256, 64)], { bias: true, activation: null })).toMatch(/expects 3 inputs/);
    // A fused activation keeps the pre-activation for the backward.
    expect(lin.saved(ins, { bias: true, activation: 'gelu' }).extra).toEqual([f32('B', 'T', 256)]);
  });

  it('scale: x · factor keeps the shape, one FLOP per element, saves nothing', () => {
    const sc = opDef('scale');
    expect(sc.shape([f32('B', 'T', 64)], { factor: 0.125 })).toEqual(f32('B', 'T', 64));
    expect(sc.flops([f32('B', 'T', 64)], { factor: 0.125 }, env)).toEqual({ rows: ['B', 'T'], mm: 0, ew: 64 });
    expect(sc.saved([f32('B', 'T', 64)], { factor: 0.125 })).toEqual({ inputs: [], output: false, extra: [] });
    expect(sc.shape([i32('B', 'T')], { factor: 2 })).toMatch(/float/);
    expect(sc.shape([f32('B', 'T', 64)], { factor: Infinity })).toMatch(/not finite/);
  });

  it('add broadcasts the shorter shape over leading dims only', () => {
    const add = opDef('add');
    expect(add.shape([f32('B', 'T', 8), f32('T', 8)], {})).toEqual(f32('B', 'T', 8));
    expect(add.shape([f32('B', 'T', 8), f32('S', 8)], {})).toMatch(/cannot add/);
    expect(add.shape([f32('B', 'T', 8), i32('B', 'T', 8)], {})).toMatch(/cannot add/);
  });

  it('attention checks GQA grouping and projection widths', () => {
    const a = opDef('attention');
    const ok = [f32('B', 'T', 128), f32('B', 'T', 32), f32('B', 'T', 32)];
    expect(a.shape(ok, attn())).toEqual(f32('B', 'T', 128));
    expect(a.shape(ok, attn({ kv_heads: 3 }))).toMatch(/must divide heads/);
    expect(a.shape([ok[0]!, f32('B', 'T', 64), f32('B', 'T', 64)], attn())).toMatch(/kv_heads·head_dim = 32/);
    expect(a.shape([...ok, f32(32, 8)], attn({ positions: 'relative', buckets: 32 }))).toEqual(f32('B', 'T', 128));
    expect(a.shape([...ok, f32(32, 4)], attn({ positions: 'relative', buckets: 32 }))).toMatch(/must be \(32, 8\)/);
    // Cross-attention: keys from the source sequence.
    expect(a.shape([f32('B', 'T', 128), f32('B', 'S', 32), f32('B', 'S', 32)], attn({ cross: true }))).toEqual(f32('B', 'T', 128));
  });

  it('attention FLOPs: 4·heads·head_dim per key, keys clipped to the window', () => {
    const a = opDef('attention');
    const ins = [f32('B', 'T', 128), f32('B', 'T', 32), f32('B', 'T', 32)];
    expect(a.flops(ins, attn(), env).mm).toBe(4 * 10 * 8 * 16);
    expect(a.flops(ins, attn({ window: 4 }), env).mm).toBe(4 * 4 * 8 * 16);
    expect(a.flops(ins, attn({ window: 4 }), env).rows).toEqual(['B', 'T']);
    const cross = [f32('B', 'T', 128), f32('B', 'S', 32), f32('B', 'S', 32)];
    expect(a.flops(cross, attn({ cross: true }), env).mm).toBe(4 * 7 * 8 * 16);
  });

  it('attention saves q, k, v, its output and a logsumexp per row — never T×T scores', () => {
    const s = opDef('attention').saved([f32('B', 'T', 128), f32('B', 'T', 32), f32('B', 'T', 32)], attn());
    expect(s).toEqual({ inputs: [0, 1, 2], output: true, extra: [f32('B', 8, 'T')] });
  });

  it('norms take optional scale and bias and save their statistics', () => {
    const ln = opDef('layernorm');
    expect(ln.shape([f32('B', 'T', 8), f32(8), f32(8)], { eps: 1e-5, scale: true, bias: true })).toEqual(f32('B', 'T', 8));
    expect(ln.shape([f32('B', 'T', 8), f32(7)], { eps: 1e-5, scale: true, bias: false })).toMatch(/must be \(8\)/);
    expect(ln.saved([f32('B', 'T', 8)], { eps: 1e-5, scale: true, bias: true }).extra).toHaveLength(2);
    expect(opDef('rmsnorm').saved([f32('B', 'T', 8)], { eps: 1e-6, scale: true, bias: false }).extra).toEqual([f32('B', 'T')]);
  });

  it('expert_linear runs top_k of the experts per token', () => {
    const el = opDef('expert_linear');
    // All experts' weights stacked in one (E, out, in) tensor.
    const ins = [f32('B', 'T', 16), i32('B', 'T', 2), f32(4, 32, 16)];
    const attrs = { experts: 4, top_k: 2, bias: false };
    expect(el.shape(ins, attrs)).toEqual(f32('B', 'T', 2, 32));
    expect(el.flops(ins, attrs, env)).toEqual({ rows: ['B', 'T'], mm: 2 * 2 * 16 * 32, ew: 0 });
    expect(el.shape(ins.slice(0, 2), attrs)).toMatch(/expects 3 inputs/);
    expect(el.shape([...ins.slice(0, 2), f32(32, 16)], attrs)).toMatch(/must be \(4, out, in\)/);
    expect(el.shape([...ins.slice(0, 2), f32(3, 32, 16)], attrs)).toMatch(/must be \(4, out, in\)/);
    const withBias = { ...attrs, bias: true };
    expect(el.shape([...ins, f32(4, 32)], withBias)).toEqual(f32('B', 'T', 2, 32));
    expect(el.shape([...ins, f32(32)], withBias)).toMatch(/biases \(32\) must be \(4, 32\)/);
    expect(el.flops([...ins, f32(4, 32)], withBias, env)).toEqual({ rows: ['B', 'T'], mm: 2 * 2 * 16 * 32, ew: 2 * 32 });
    // The down projection reads one input per routed slot.
    const down = [f32('B', 'T', 2, 32), i32('B', 'T', 2), f32(4, 16, 32)];
    expect(el.shape(down, attrs)).toEqual(f32('B', 'T', 2, 16));
  });

  it('moe_aux_loss reduces router logits and the choice to a scalar, per-token work, keeping both', () => {
    const aux = opDef('moe_aux_loss');
    const ins = [f32('B', 'T', 8), i32('B', 'T', 2)];
    const attrs = { coef: 0.01, top_k: 2 };
    expect(aux.shape(ins, attrs)).toEqual(f32());
    expect(aux.shape([f32('B', 'T', 8), i32('B', 'T', 3)], attrs)).toMatch(/index/);
    expect(aux.shape([f32('B', 'T', 8), f32('B', 'T', 2)], attrs)).toMatch(/i32/);
    expect(aux.flops(ins, attrs, env)).toEqual({ rows: ['B', 'T'], mm: 0, ew: 4 * 8 + 2 });
    expect(aux.saved(ins, attrs)).toEqual({ inputs: [0, 1], output: false, extra: [] });
    // Gates: renormalised ones need only themselves; softmax over all E needs the logits.
    expect(opDef('moe_gates').saved(ins, { renormalize: true })).toEqual({ inputs: [1], output: true, extra: [] });
    expect(opDef('moe_gates').saved(ins, { renormalize: false })).toEqual({ inputs: [0, 1], output: false, extra: [] });
  });

  it('softmax cross-entropy reduces to a scalar and keeps the logits, not probabilities', () => {
    const x = opDef('softmax_xent');
    const ins = [f32('B', 'T', 100), i32('B', 'T')];
    expect(x.shape(ins, {})).toEqual(f32());
    expect(x.flops(ins, {}, env).rows).toEqual(['B', 'T']);
    expect(x.saved(ins, {})).toEqual({ inputs: [0, 1], output: false, extra: [f32('B', 'T')] });
  });

  it('bytes: unfused traffic, embedding moves only the rows it gathers', () => {
    const lin = opDef('linear');
    const ins = [f32('B', 'T', 4), f32(3, 4)];
    // x 2·10·4, W 12, y 2·10·3 floats
    expect(lin.bytes(ins, f32('B', 'T', 3), { bias: false, activation: null }, env)).toBe(4 * (80 + 12 + 60));
    const emb = opDef('embedding');
    expect(emb.bytes([f32(50000, 4), i32('B', 'T')], f32('B', 'T', 4), {}, env)).toBe(4 * 20 + 2 * 4 * 80);
  });

  it('rope and routing ops check their integer inputs', () => {
    const rope = { heads: 2, head_dim: 8, rotary_dims: 8, base: 10000 };
    expect(opDef('rope').shape([f32('B', 'T', 16), i32('T')], rope)).toEqual(f32('B', 'T', 16));
    expect(opDef('rope').shape([f32('B', 'T', 16), i32('S')], rope)).toMatch(/positions/);
    expect(opDef('rope').shape([f32('B', 'T', 16), i32('T')], { ...rope, rotary_dims: 3 })).toMatch(/even/);
    expect(opDef('moe_select').shape([f32('B', 'T', 8)], { top_k: 2 })).toEqual(i32('B', 'T', 2));
    expect(opDef('moe_select').shape([f32('B', 'T', 8)], { top_k: 9 })).toMatch(/top_k/);
    expect(opDef('moe_combine').shape([f32('B', 'T', 2, 16), f32('B', 'T', 2)], {})).toEqual(f32('B', 'T', 16));
  });
});
