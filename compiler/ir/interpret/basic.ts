/**
 * Token-wise ops: lookups, sums, norms, dense layers, activations and the loss. Each takes
 * concrete inputs in the order lowering gives them and returns a fresh tensor.
 */
import type { Act, OpAttrs } from '../ops.js';
import { floats, InterpretError, ints, rows, showDims, type Tensor } from './common.js';
import { ACTIVATIONS } from '../activations.js';

/** table (V, C) gathered by ids (…) → (…, C). */
export function embedding([table, ids]: readonly Tensor[]): Tensor {
  const w = floats(table!, 'embedding table');
  const id = ints(ids!, 'embedding ids');
  const [V, C] = table!.shape as [number, number];
  const out = new Float32Array(id.length * C);
  for (let n = 0; n < id.length; n++) {
    const t = id[n]!;
    if (t < 0 || t >= V) throw new InterpretError(`embedding id ${t} at flat index ${n} is outside the table of ${V} rows`);
    out.set(w.subarray(t * C, (t + 1) * C), n * C);
  }
  return { shape: [...ids!.shape, C], data: out };
}

/**
 * Fixed position encodings as in "Attention Is All You Need", interleaved:
 * PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(p / 10000^(2i/dim)).
 */
export function sinusoidal([positions]: readonly Tensor[], a: OpAttrs['sinusoidal']): Tensor {
  const pos = ints(positions!, 'positions');
  const out = new Float32Array(pos.length * a.dim);
  for (let t = 0; t < pos.length; t++) {
    for (let c = 0; c < a.dim; c++) {
      const angle = pos[t]! / 10000 ** ((2 * Math.floor(c / 2)) / a.dim);
      out[t * a.dim + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return { shape: [pos.length, a.dim], data: out };
}

/**
 * a + b where the lower-rank operand matches the trailing dims of the other and repeats over
 * its leading dims (positions (T, C) over a batch (B, T, C)); equal ranks need equal shapes.
 */
export function add([a, b]: readonly Tensor[]): Tensor {
  const [big, small] = a!.shape.length >= b!.shape.length ? [a!, b!] : [b!, a!];
  const x = floats(big, 'add operand');
  const y = floats(small, 'add operand');
  const out = new Float32Array(x.length);
  const n = y.length;
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + y[i % n]!;
  return { shape: [...big.shape], data: out };
}

/** The optional scale then bias after x, as lowering orders them. */
function affine(ins: readonly Tensor[], a: { scale: boolean; bias: boolean }) {
  const scale = a.scale ? floats(ins[1]!, 'norm scale') : null;
  const bias = a.bias ? floats(ins[a.scale ? 2 : 1]!, 'norm bias') : null;
  return { scale, bias };
}

/** PyTorch LayerNorm over the last dim: (x − mean) / √(var + ε) · scale + bias, var biased (÷n). */
export function layernorm(ins: readonly Tensor[], a: OpAttrs['layernorm']): Tensor {
  const x = floats(ins[0]!, 'layernorm input');
  const { scale, bias } = affine(ins, a);
  const { rows: R, width: C } = rows(ins[0]!);
  const out = new Float32Array(x.length);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[o + c]!;
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[o + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / C + a.eps);
    for (let c = 0; c < C; c++) {
      out[o + c] = (x[o + c]! - mean) * rstd * (scale ? scale[c]! : 1) + (bias ? bias[c]! : 0);
    }
  }
  return { shape: [...ins[0]!.shape], data: out };
}

/** RMSNorm (Llama, T5): x / √(mean(x²) + ε) · scale (+ bias if the spec asks for one). */
export function rmsnorm(ins: readonly Tensor[], a: OpAttrs['rmsnorm']): Tensor {
  const x = floats(ins[0]!, 'rmsnorm input');
  const { scale, bias } = affine(ins, a);
  const { rows: R, width: C } = rows(ins[0]!);
  const out = new Float32Array(x.length);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x[o + c]! ** 2;
    const rstd = 1 / Math.sqrt(ms / C + a.eps);
    for (let c = 0; c < C; c++) out[o + c] = x[o + c]! * rstd * (scale ? scale[c]! : 1) + (bias ? bias[c]! : 0);
  }
  return { shape: [...ins[0]!.shape], data: out };
}

/** y = act(x · Wᵀ + b): x (…, in), W (out, in) as PyTorch stores it, b (out). */
export function linear(ins: readonly Tensor[], a: OpAttrs['linear']): Tensor {
  const x = floats(ins[0]!, 'linear input');
  const w = floats(ins[1]!, 'linear weight');
  const b = a.bias ? floats(ins[2]!, 'linear bias') : null;
  const [O, I] = ins[1]!.shape as [number, number];
  const R = x.length / I;
  const act = a.activation ? ACTIVATIONS[a.activation].f : null;
  const out = new Float32Array(R * O);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) s += x[r * I + i]! * w[o * I + i]!;
      out[r * O + o] = act ? act(s) : s;
    }
  }
  return { shape: [...ins[0]!.shape.slice(0, -1), O], data: out };
}

export function unary(fn: Act | 'tanh'): (ins: readonly Tensor[]) => Tensor {
  const f = ACTIVATIONS[fn].f;
  return ([x]) => ({ shape: [...x!.shape], data: floats(x!, fn).map((v) => f(v)) });
}

/** fn(gate) · up, elementwise (SwiGLU when fn = silu). */
export function glu([gate, up]: readonly Tensor[], a: OpAttrs['glu']): Tensor {
  const g = floats(gate!, 'glu gate');
  const u = floats(up!, 'glu up');
  const f = ACTIVATIONS[a.fn].f;
  return { shape: [...gate!.shape], data: g.map((v, i) => f(v) * u[i]!) };
}

/** x · factor, the factor rounded to f32 first as the kernel's WGSL literal holds it (one f32 multiply). */
export function scale([x]: readonly Tensor[], a: OpAttrs['scale']): Tensor {
  const k = Math.fround(a.factor);
  return { shape: [...x!.shape], data: floats(x!, 'scale input').map((v) => v * k) };
}

/** (B, T, C) → (B, C): position 0 of each sequence. */
export function takeFirst([x]: readonly Tensor[]): Tensor {
  const d = floats(x!, 'take_first input');
  const [B, T, C] = x!.shape as [number, number, number];
  const out = new Float32Array(B * C);
  for (let b = 0; b < B; b++) out.set(d.subarray(b * T * C, b * T * C + C), b * C);
  return { shape: [B, C], data: out };
}

/**
 * Mean cross-entropy of logits (…, V) against targets (…): mean over counted positions of
 * logsumexp(z) − z[target], with the max subtracted before exp. A negative target marks a
 * position to ignore (padding, unmasked MLM tokens; PyTorch's ignore_index is −100, any
 * negative works here); the mean is over the rest, and 0 when every position is ignored
 * (PyTorch gives NaN there; 0 keeps an all-padding batch from poisoning a run).
 * With `classes` < V (a vocabulary padded to vocab_multiple) only the first `classes` columns
 * are classes: the padding columns are left out of the logsumexp, whatever they hold, and a
 * target among them is an error like one past V.
 */
export function softmaxXent([logits, targets]: readonly Tensor[], a: OpAttrs['softmax_xent'] = {}): Tensor {
  const z = floats(logits!, 'logits');
  const y = ints(targets!, 'targets');
  const { rows: R, width: V } = rows(logits!);
  const K = a.classes ?? V;
  let total = 0;
  let counted = 0;
  for (let r = 0; r < R; r++) {
    const t = y[r]!;
    if (t < 0) continue;
    if (t >= K) {
      const padded = K < V ? ` (logits padded to ${V})` : '';
      throw new InterpretError(
        `target ${t} at flat index ${r} is outside the vocabulary of ${K}${padded} (logits ${showDims(logits!.shape)})`,
      );
    }
    total += logSumExp(z, r * V, K) - z[r * V + t]!;
    counted++;
  }
  return { shape: [], data: Float32Array.of(counted ? total / counted : 0) };
}

/** log Σ exp(z[o + v]) over v < n, the max subtracted first. */
export function logSumExp(z: Float32Array, o: number, n: number): number {
  let max = -Infinity;
  for (let v = 0; v < n; v++) max = Math.max(max, z[o + v]!);
  let sum = 0;
  for (let v = 0; v < n; v++) sum += Math.exp(z[o + v]! - max);
  return max + Math.log(sum);
}
