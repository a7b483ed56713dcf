/**
 * The CPU interpreter's token-wise ops against values computed by hand (or from the
 * published definition, written out in the test).
 */
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, erf } from '../../compiler/ir/activations.js';
import { fromArray, interpretOp, InterpretError, type Tensor } from '../../compiler/ir/interpret.js';

const gelu = ACTIVATIONS.gelu.f;
const geluTanh = ACTIVATIONS.gelu_tanh.f;
import type { OpAttrs, OpKind } from '../../compiler/ir/ops.js';
import type { TensorType } from '../../compiler/ir/tensor.js';
import { makeRng } from '../../runtime/random.js';

const f = (shape: number[], values: number[]) => fromArray(shape, values);
const i32 = (shape: number[], values: number[]) => fromArray(shape, values, 'i32');
const ENV = { B: 1, T: 1, S: 1 };

/** Runs one op, taking the expected output type from the shape it should have. */
function run<K extends OpKind>(kind: K, ins: Tensor[], attrs: OpAttrs[K], outShape: number[], dtype: TensorType['dtype'] = 'f32'): Tensor {
  return interpretOp(kind, ins, attrs, { dtype, shape: outShape }, ENV);
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `element ${i}`).toBeCloseTo(e, digits));
}

const randn = (n: number, seed: number) => {
  const rng = makeRng(seed);
  return Array.from({ length: n }, () => rng.normal());
};

describe('interpret: lookups and sums', () => {
  it('embedding gathers rows by id and rejects ids outside the table', () => {
    const table = f([3, 2], [0, 1, 10, 11, 20, 21]);
    const y = run('embedding', [table, i32([2, 2], [2, 0, 1, 2])], {}, [2, 2, 2]);
    expect([...y.data]).toEqual([20, 21, 0, 1, 10, 11, 20, 21]);
    expect(() => run('embedding', [table, i32([1, 1], [3])], {}, [1, 1, 2])).toThrow(/id 3 .* outside the table of 3 rows/);
  });

  it('sinusoidal interleaves sin and cos at frequencies 10000^(-2i/dim)', () => {
    const y = run('sinusoidal', [i32([2], [0, 1])], { dim: 4 }, [2, 4]);
    // dim 4: frequencies 1 and 10000^(-2/4) = 0.01
    expectClose(y.data, [0, 1, 0, 1, Math.sin(1), Math.cos(1), Math.sin(0.01), Math.cos(0.01)]);
  });

  it('add broadcasts the lower-rank operand over leading dims, in either order', () => {
    const x = f([2, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const pos = f([2, 3], [100, 200, 300, 400, 500, 600]);
    const want = [100, 201, 302, 403, 504, 605, 106, 207, 308, 409, 510, 611];
    expect([...run('add', [x, pos], {}, [2, 2, 3]).data]).toEqual(want);
    expect([...run('add', [pos, x], {}, [2, 2, 3]).data]).toEqual(want);
  });

  it('take_first keeps position 0 of each sequence', () => {
    const x = f([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect([...run('take_first', [x], {}, [2, 2]).data]).toEqual([1, 2, 7, 8]);
  });
});

describe('interpret: norms', () => {
  it('layernorm uses the biased variance with eps inside the square root', () => {
    // x = 1..4: mean 2.5, biased var 1.25; eps 0.75 makes var + eps = 2, so rstd = 1/√2.
    const x = f([1, 4], [1, 2, 3, 4]);
    const attrs = { eps: 0.75, scale: true, bias: true };
    const y = run('layernorm', [x, f([4], [1, 2, 1, 1]), f([4], [0, 0, 1, 0])], attrs, [1, 4]);
    const r = Math.SQRT1_2;
    expectClose(y.data, [-1.5 * r, -0.5 * r * 2, 0.5 * r + 1, 1.5 * r]);
  });

  it('layernorm without scale and bias normalises each row on its own', () => {
    const x = f([2, 2], [1, 3, 10, 30]);
    const y = run('layernorm', [x], { eps: 0, scale: false, bias: false }, [2, 2]);
    expectClose(y.data, [-1, 1, -1, 1]);
  });

  it('rmsnorm divides by √(mean(x²) + eps) and scales', () => {
    // mean(x²) = (1 + 4 + 9 + 16)/4 = 7.5; + eps 0.5 = 8.
    const y = run('rmsnorm', [f([1, 4], [1, 2, 3, 4]), f([4], [1, 1, 2, 0.5])], { eps: 0.5, scale: true, bias: false }, [1, 4]);
    const r = 1 / Math.sqrt(8);
    expectClose(y.data, [r, 2 * r, 6 * r, 2 * r]);
  });
});

describe('interpret: linear and activations', () => {
  const x = f([1, 2, 3], [1, 2, 3, 4, 5, 6]);
  const w = f([2, 3], [1, 0, -1, 0.5, 0.5, 0.5]); // (out, in)

  it('linear computes x·Wᵀ + b with W stored (out, in)', () => {
    const y = run('linear', [x, w, f([2], [10, -1])], { bias: true, activation: null }, [1, 2, 2]);
    // row 0: [1 − 3 + 10, 0.5·6 − 1]; row 1: [4 − 6 + 10, 0.5·15 − 1]
    expect([...y.data]).toEqual([8, 2, 8, 6.5]);
  });

  it('linear applies its fused activation after the bias', () => {
    const y = run('linear', [x, w, f([2], [-10, -1])], { bias: true, activation: 'relu' }, [1, 2, 2]);
    expect([...y.data]).toEqual([0, 2, 0, 6.5]);
    const noBias = run('linear', [x, w], { bias: false, activation: null }, [1, 2, 2]);
    expect([...noBias.data]).toEqual([-2, 3, -2, 7.5]);
  });

  it('erf is accurate to 1e-13 across the series/continued-fraction boundary', () => {
    const known: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.9, 0.9999589021219005],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [5, 0.9999999999984626],
    ];
    for (const [x, e] of known) {
      expect(Math.abs(erf(x) - e), `erf(${x})`).toBeLessThan(1e-13);
      expect(Math.abs(erf(-x) + e), `erf(${-x})`).toBeLessThan(1e-13);
    }
    expect(erf(0)).toBe(0);
  });

  it('gelu is the exact erf form; gelu_tanh the GPT-2 approximation', () => {
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 14);
    expect(gelu(-0.5)).toBeCloseTo(-0.15426876936299347, 14);
    expect(geluTanh(1)).toBeCloseTo(0.8411919906082768, 14);
    const y = run('gelu', [f([2], [1, -0.5])], {}, [2]);
    expectClose(y.data, [0.8413447460685429, -0.15426876936299347], 7);
  });

  it('relu, silu and tanh match their definitions', () => {
    const x = f([3], [-1, 0, 1]);
    expect([...run('relu', [x], {}, [3]).data]).toEqual([0, 0, 1]);
    expectClose(run('silu', [x], {}, [3]).data, [-0.2689414213699951, 0, 0.7310585786300049]);
    expectClose(run('tanh', [x], {}, [3]).data, [-Math.tanh(1), 0, Math.tanh(1)]);
    // silu at the tails: no ∞·0
    expectClose(run('silu', [f([2], [-1000, 1000])], {}, [2]).data, [0, 1000]);
  });

  it('glu is fn(gate) · up', () => {
    const y = run('glu', [f([2], [1, -1]), f([2], [2, 3])], { fn: 'silu' }, [2]);
    expectClose(y.data, [2 * 0.7310585786300049, 3 * -0.2689414213699951]);
  });
});

describe('interpret: rope (GPT-NeoX / HF Llama rotate_half layout)', () => {
  const attrs = (heads: number, head_dim: number, rotary_dims = head_dim) => ({ heads, head_dim, rotary_dims, base: 10000 });

  it('rotates dim i with dim i + R/2 by p·base^(−2i/R)', () => {
    const x = f([1, 2, 4], [1, 2, 3, 4, 1, 2, 3, 4]);
    const y = run('rope', [x, i32([2], [0, 1])], attrs(1, 4), [1, 2, 4]);
    // position 0 is the identity; position 1: θ₀ = 1 pairs (0, 2), θ₁ = 0.01 pairs (1, 3)
    const [c1, s1, c2, s2] = [Math.cos(1), Math.sin(1), Math.cos(0.01), Math.sin(0.01)];
    expectClose(y.data, [1, 2, 3, 4, 1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2]);
  });

  it('with partial rotary, dims past rotary_dims pass through', () => {
    const x = f([1, 1, 6], [1, 2, 3, 4, 5, 6]);
    const y = run('rope', [x, i32([1], [7])], attrs(1, 6, 4), [1, 1, 6]);
    expect([...y.data.slice(4)]).toEqual([5, 6]);
    const full = run('rope', [f([1, 1, 4], [1, 2, 3, 4]), i32([1], [7])], attrs(1, 4), [1, 1, 4]);
    expectClose(y.data.slice(0, 4), [...full.data]);
  });

  it('q_m · k_n depends only on m − n, per head', () => {
    const H = 2;
    const D = 8;
    const q = f([1, 1, H * D], randn(H * D, 1));
    const k = f([1, 1, H * D], randn(H * D, 2));
    const dots = (m: number, n: number) => {
      const qm = run('rope', [q, i32([1], [m])], attrs(H, D), [1, 1, H * D]).data;
      const kn = run('rope', [k, i32([1], [n])], attrs(H, D), [1, 1, H * D]).data;
      return Array.from({ length: H }, (_, h) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += qm[h * D + d]! * kn[h * D + d]!;
        return s;
      });
    };
    const ref = dots(5, 2);
    expectClose(dots(3, 0), ref, 5);
    expectClose(dots(105, 102), ref, 5);
    expect(Math.abs(dots(6, 2)[0]! - ref[0]!)).toBeGreaterThan(1e-3); // and it does depend on m − n
  });
});

describe('interpret: softmax_xent', () => {
  const logSoftmax = (row: number[]) => {
    const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
    return row.map((z) => z - lse);
  };

  it('is the mean negative log-softmax at the targets', () => {
    const rows = [
      [1, 2, 3],
      [0, 0, 0],
    ];
    const y = run('softmax_xent', [f([2, 3], rows.flat()), i32([2], [2, 1])], {}, []);
    const want = -(logSoftmax(rows[0]!)[2]! + logSoftmax(rows[1]!)[1]!) / 2;
    expect(y.shape).toEqual([]);
    expect(y.data[0]).toBeCloseTo(want, 6);
    expect(y.data[0]).toBeCloseTo((Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3 + Math.log(3)) / 2, 6);
  });

  it('ignores negative targets (mean over the rest; 0 when all are ignored)', () => {
    const z = f([2, 3], [1, 2, 3, 9, 9, 9]);
    const y = run('softmax_xent', [z, i32([2], [2, -100])], {}, []);
    expect(y.data[0]).toBeCloseTo(-logSoftmax([1, 2, 3])[2]!, 6);
    expect(run('softmax_xent', [z, i32([2], [-1, -100])], {}, []).data[0]).toBe(0);
  });

  it('is stable for large logits and rejects targets outside the vocabulary', () => {
    const y = run('softmax_xent', [f([1, 2], [1000, 0]), i32([1], [1])], {}, []);
    expect(y.data[0]).toBeCloseTo(1000, 3);
    expect(() => run('softmax_xent', [f([1, 2], [0, 0]), i32([1], [2])], {}, [])).toThrow(/target 2 .* vocabulary of 2/);
  });
});

describe('interpret: mixture of experts', () => {
  it('moe_select takes the top_k largest, ties to the lower index', () => {
    const z = f([1, 2, 4], [1, 3, 3, 2, 5, 5, 5, 5]);
    expect([...run('moe_select', [z], { top_k: 3 }, [1, 2, 3], 'i32').data]).toEqual([1, 2, 3, 0, 1, 2]);
  });

  it('moe_gates is softmax over all experts gathered at the chosen ones, renormalised as Mixtral does', () => {
    const z = f([1, 4], [1, 2, 3, 4]);
    const idx = i32([1, 2], [3, 2]);
    const S = Math.E + Math.E ** 2 + Math.E ** 3 + Math.E ** 4;
    const raw = run('moe_gates', [z, idx], { renormalize: false }, [1, 2]);
    expectClose(raw.data, [Math.E ** 4 / S, Math.E ** 3 / S]);
    const norm = run('moe_gates', [z, idx], { renormalize: true }, [1, 2]);
    const sig = 1 / (1 + Math.exp(-1)); // e⁴ / (e⁴ + e³)
    expectClose(norm.data, [sig, 1 - sig]);
  });

  it('expert_linear sends each slot through its own expert, from a shared or per-slot input', () => {
    // Stacked: W[0] = [[1, 0], [0, 1], [1, 1]], W[1] = [[2, 0], [0, 2], [0, 0]]; b[0] = (0, 0, 1), b[1] = (1, 1, 1).
    const W = f([2, 3, 2], [1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 0, 0]);
    const b = f([2, 3], [0, 0, 1, 1, 1, 1]);
    const idx = i32([1, 1, 2], [1, 0]);
    const attrs = { experts: 2, top_k: 2, bias: true };
    const shared = run('expert_linear', [f([1, 1, 2], [1, 2]), idx, W, b], attrs, [1, 1, 2, 3]);
    // slot 0 → expert 1: (2·1 + 1, 2·2 + 1, 0 + 1); slot 1 → expert 0: (1, 2, 1 + 2 + 1)
    expect([...shared.data]).toEqual([3, 5, 1, 1, 2, 4]);
    const perSlot = run('expert_linear', [f([1, 1, 2, 2], [1, 2, 0, 1]), idx, W, b], attrs, [1, 1, 2, 3]);
    expect([...perSlot.data]).toEqual([3, 5, 1, 0, 1, 2]);
    expect(() => run('expert_linear', [f([1, 1, 2], [1, 2]), i32([1, 1, 2], [2, 0]), W, b], attrs, [1, 1, 2, 3])).toThrow(/expert index 2/);
  });

  it('moe_aux_loss is coef · E · Σ fᵢ·Pᵢ, fᵢ the share of routed slots, Pᵢ the mean probability', () => {
    // Two tokens over 3 experts, top-2: token 0 chose (0, 1), token 1 chose (0, 2).
    const z = f([2, 3], [0, 0, 0, Math.log(2), 0, 0]);
    const idx = i32([2, 2], [0, 1, 0, 2]);
    // p₀ = (⅓, ⅓, ⅓), p₁ = (½, ¼, ¼) → P = (5/12, 7/24, 7/24); f = (2/4, 1/4, 1/4).
    const want = 0.1 * 3 * ((2 / 4) * (5 / 12) + (1 / 4) * (7 / 24) + (1 / 4) * (7 / 24));
    expectClose(run('moe_aux_loss', [z, idx], { coef: 0.1, top_k: 2 }, []).data, [want]);
    // A perfectly balanced router (uniform probabilities, every expert chosen equally) scores coef.
    const balanced = run('moe_aux_loss', [f([2, 2], [0, 0, 0, 0]), i32([2, 1], [0, 1])], { coef: 0.5, top_k: 1 }, []);
    expectClose(balanced.data, [0.5]);
  });

  it('moe_combine is the gate-weighted sum over slots', () => {
    const y = f([1, 1, 2, 3], [1, 2, 3, 10, 20, 30]);
    const out = run('moe_combine', [y, f([1, 1, 2], [0.25, 0.75])], {}, [1, 1, 3]);
    expectClose(out.data, [7.75, 15.5, 23.25]);
  });
});

describe('interpretOp: checks its inputs with the op table', () => {
  it('reports a shape the op rule rejects, with the input shapes', () => {
    const call = () => run('linear', [f([1, 3], [1, 2, 3]), f([2, 2], [1, 2, 3, 4])], { bias: false, activation: null }, [1, 2]);
    expect(call).toThrow(InterpretError);
    expect(call).toThrow('linear: x (1, 3) does not match weight (2, 2) (inputs (1, 3), (2, 2))');
  });

  it('reports a result that disagrees with the graph type', () => {
    expect(() => run('relu', [f([2], [1, 2])], {}, [3])).toThrow('relu: inputs give a f32(2) result, the graph expects f32(3)');
  });

  it('reports storage that does not fill the shape', () => {
    const bad: Tensor = { shape: [3], data: new Float32Array(2) };
    expect(() => run('relu', [bad], {}, [3])).toThrow('relu input 0: 2 values for shape (3)');
  });
});
