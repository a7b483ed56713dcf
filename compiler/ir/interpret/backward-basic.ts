/**
 * Backward of the token-wise ops (interpret/basic.ts): lookups, sums, norms, dense layers,
 * activations and the loss. Each `…Backward` is the vector–Jacobian product of the forward
 * of the same name; each `…Save` computes the scratch its forward keeps for it (the op
 * table's `saved.extra`). Sums over rows (weight, bias, scale and table gradients) run in
 * row order in f64 and round once, so the result does not depend on anything but the inputs.
 */
import type { OpAttrs } from '../ops.js';
import { type BackwardFn, type Cotangents, dOut, type SaveFn, stored, type VjpArgs } from './backward-common.js';
import { floats, InterpretError, ints, rows, type Tensor } from './common.js';
import { logSumExp } from './basic.js';
import { type ActivationName, ACTIVATIONS } from '../activations.js';

type Attrs<K extends keyof OpAttrs> = OpAttrs[K];
const lead = (t: Tensor) => t.shape.slice(0, -1);

/** Rows of dout scattered back into the table rows they were read from; ids get none. */
export const embeddingBackward: BackwardFn<Attrs<'embedding'>> = (args) => {
  const [table, ids] = args.inputs as [Tensor, Tensor];
  const id = ints(ids, 'embedding ids');
  const dy = dOut(args);
  const [V, C] = table.shape as [number, number];
  const acc = new Float64Array(V * C);
  for (let n = 0; n < id.length; n++) {
    const t = id[n]!;
    if (t < 0 || t >= V) throw new InterpretError(`embedding id ${t} at flat index ${n} is outside the table of ${V} rows`);
    for (let c = 0; c < C; c++) acc[t * C + c] += dy[n * C + c]!;
  }
  return [stored(table.shape, acc), null];
};

/** Fixed encodings of integer positions: nothing to differentiate. */
export const sinusoidalBackward: BackwardFn<Attrs<'sinusoidal'>> = () => [null];

/** The larger operand gets dout; the broadcast one gets dout summed over the leading dims it repeated along. */
export const addBackward: BackwardFn<Attrs<'add'>> = (args) => {
  const [a, b] = args.inputs as [Tensor, Tensor];
  const dy = dOut(args);
  const smallIsB = a.shape.length >= b.shape.length;
  const small = smallIsB ? b : a;
  const n = small.data.length;
  const acc = new Float64Array(n);
  for (let i = 0; i < dy.length; i++) acc[i % n] += dy[i]!;
  const big: Tensor = { shape: [...args.dout.shape], data: Float32Array.from(dy) };
  const reduced = stored(small.shape, acc);
  return smallIsB ? [big, reduced] : [reduced, big];
};

// ── norms ───────────────────────────────────────────────────────────────────────

/** LayerNorm keeps each row's mean and 1/√(var + ε) (biased variance), as its forward computes them. */
export const layernormSave: SaveFn<Attrs<'layernorm'>> = ([x], _out, a) => {
  const d = floats(x!, 'layernorm input');
  const { rows: R, width: C } = rows(x!);
  const mean = new Float32Array(R);
  const rstd = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += d[r * C + c]!;
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (d[r * C + c]! - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(v / C + a.eps);
  }
  return [
    { shape: lead(x!), data: mean },
    { shape: lead(x!), data: rstd },
  ];
};

/** RMSNorm keeps each row's 1/√(mean(x²) + ε). */
export const rmsnormSave: SaveFn<Attrs<'rmsnorm'>> = ([x], _out, a) => {
  const d = floats(x!, 'rmsnorm input');
  const { rows: R, width: C } = rows(x!);
  const rstd = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    let ms = 0;
    for (let c = 0; c < C; c++) ms += d[r * C + c]! ** 2;
    rstd[r] = 1 / Math.sqrt(ms / C + a.eps);
  }
  return [{ shape: lead(x!), data: rstd }];
};

/**
 * Shared by both norms, with x̂ = (x − mean)·rstd (mean = 0 for RMSNorm) and g = dy·scale:
 *   dx = rstd·(g − mean(g) − x̂·mean(g·x̂))   (LayerNorm; RMSNorm drops the mean(g) term)
 *   dscale = Σ_rows dy·x̂,   dbias = Σ_rows dy.
 */
function normBackward(args: VjpArgs<{ scale: boolean; bias: boolean }>, mean: Float32Array | null, rstd: Float32Array): Cotangents {
  const { inputs, attrs: a } = args;
  const x = floats(inputs[0]!, 'norm input');
  const scale = a.scale ? floats(inputs[1]!, 'norm scale') : null;
  const dy = dOut(args);
  const { rows: R, width: C } = rows(inputs[0]!);
  const dx = new Float64Array(x.length);
  const dScale = new Float64Array(C);
  const dBias = new Float64Array(C);
  const xhat = new Float64Array(C);
  const g = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    const m = mean ? mean[r]! : 0;
    const s = rstd[r]!;
    let gMean = 0;
    let gxMean = 0;
    for (let c = 0; c < C; c++) {
      xhat[c] = (x[o + c]! - m) * s;
      g[c] = dy[o + c]! * (scale ? scale[c]! : 1);
      gMean += g[c]!;
      gxMean += g[c]! * xhat[c]!;
      dScale[c] += dy[o + c]! * xhat[c]!;
      dBias[c] += dy[o + c]!;
    }
    gMean = mean ? gMean / C : 0;
    gxMean /= C;
    for (let c = 0; c < C; c++) dx[o + c] = s * (g[c]! - gMean - xhat[c]! * gxMean);
  }
  const out: Cotangents = [stored(inputs[0]!.shape, dx)];
  if (a.scale) out.push(stored([C], dScale));
  if (a.bias) out.push(stored([C], dBias));
  return out;
}

export const layernormBackward: BackwardFn<Attrs<'layernorm'>> = (args) => {
  const [mean, rstd] = args.extra as [Tensor, Tensor];
  return normBackward(args, floats(mean, 'layernorm mean'), floats(rstd, 'layernorm rstd'));
};

export const rmsnormBackward: BackwardFn<Attrs<'rmsnorm'>> = (args) => normBackward(args, null, floats(args.extra[0]!, 'rmsnorm rstd'));

// ── dense layer ─────────────────────────────────────────────────────────────────

/** A fused activation needs its pre-activation x·Wᵀ + b; a plain linear keeps nothing extra. */
export const linearSave: SaveFn<Attrs<'linear'>> = (ins, _out, a) => {
  if (!a.activation) return [];
  const x = floats(ins[0]!, 'linear input');
  const w = floats(ins[1]!, 'linear weight');
  const b = a.bias ? floats(ins[2]!, 'linear bias') : null;
  const [O, I] = ins[1]!.shape as [number, number];
  const R = x.length / I;
  const pre = new Float32Array(R * O);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) s += x[r * I + i]! * w[o * I + i]!;
      pre[r * O + o] = s;
    }
  }
  return [{ shape: [...lead(ins[0]!), O], data: pre }];
};

/**
 * y = act(x·Wᵀ + b), W (O, I): with dz = dy·act′(pre) (dz = dy without an activation),
 * dx = dz·W, dW = dzᵀ·x summed over every row, db = Σ_rows dz.
 */
export const linearBackward: BackwardFn<Attrs<'linear'>> = (args) => {
  const { inputs, attrs: a } = args;
  const x = floats(inputs[0]!, 'linear input');
  const w = floats(inputs[1]!, 'linear weight');
  const dy = dOut(args);
  const [O, I] = inputs[1]!.shape as [number, number];
  const R = x.length / I;
  const dz = Float64Array.from(dy);
  if (a.activation) {
    const pre = floats(args.extra[0]!, 'linear pre-activation');
    const slope = ACTIVATIONS[a.activation].df;
    for (let n = 0; n < dz.length; n++) dz[n] = dy[n]! * slope(pre[n]!);
  }
  const dx = new Float64Array(R * I);
  const dw = new Float64Array(O * I);
  const db = new Float64Array(O);
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < O; o++) {
      const g = dz[r * O + o]!;
      if (g === 0) continue;
      db[o] += g;
      for (let i = 0; i < I; i++) {
        dx[r * I + i] += g * w[o * I + i]!;
        dw[o * I + i] += g * x[r * I + i]!;
      }
    }
  }
  const out: Cotangents = [stored(inputs[0]!.shape, dx), stored(inputs[1]!.shape, dw)];
  if (a.bias) out.push(stored([O], db));
  return out;
};

// ── activations ─────────────────────────────────────────────────────────────────

/** dx = dy·act′(x), from the saved input. */
export function unaryBackward(fn: Exclude<ActivationName, 'tanh'>): BackwardFn<Record<string, never>> {
  const slope = ACTIVATIONS[fn].df;
  return (args) => {
    const x = floats(args.inputs[0]!, fn);
    const dy = dOut(args);
    return [{ shape: [...args.inputs[0]!.shape], data: x.map((v, i) => dy[i]! * slope(v)) }];
  };
}

/** dx = dy·(1 − y²), from the saved output (the op table saves tanh's output, not its input). */
export const tanhBackward: BackwardFn<Attrs<'tanh'>> = (args) => {
  const y = floats(args.output, 'tanh output');
  const dy = dOut(args);
  return [{ shape: [...args.output.shape], data: y.map((v, i) => dy[i]! * (1 - v * v)) }];
};

/** out = f(gate)·up: dgate = dy·up·f′(gate), dup = dy·f(gate). */
export const gluBackward: BackwardFn<Attrs<'glu'>> = (args) => {
  const [gate, up] = args.inputs as [Tensor, Tensor];
  const g = floats(gate, 'glu gate');
  const u = floats(up, 'glu up');
  const dy = dOut(args);
  const { f, df: slope } = ACTIVATIONS[args.attrs.fn];
  return [
    { shape: [...gate.shape], data: g.map((v, i) => dy[i]! * u[i]! * slope(v)) },
    { shape: [...up.shape], data: g.map((v, i) => dy[i]! * f(v)) },
  ];
};

/** out = x·factor: dx = dy·factor (the factor in f32, as the forward). */
export const scaleBackward: BackwardFn<Attrs<'scale'>> = (args) => {
  const k = Math.fround(args.attrs.factor);
  return [{ shape: [...args.inputs[0]!.shape], data: dOut(args).map((v) => v * k) }];
};

// ── data movement and the loss ───────────────────────────────────────────────────

/** dout (B, C) lands on position 0 of each sequence; every other position gets 0. */
export const takeFirstBackward: BackwardFn<Attrs<'take_first'>> = (args) => {
  const x = args.inputs[0]!;
  const [B, T, C] = x.shape as [number, number, number];
  const dy = dOut(args);
  const dx = new Float32Array(B * T * C);
  for (let b = 0; b < B; b++) dx.set(dy.subarray(b * C, (b + 1) * C), b * T * C);
  return [{ shape: [...x.shape], data: dx }];
};

/** logsumexp of every row of logits over its first `classes` columns (max subtracted first), ignored rows included. */
export const softmaxXentSave: SaveFn<Attrs<'softmax_xent'>> = ([logits, targets], _out, a) => {
  const z = floats(logits!, 'logits');
  const { rows: R, width: V } = rows(logits!);
  const lse = new Float32Array(R);
  for (let r = 0; r < R; r++) lse[r] = logSumExp(z, r * V, a.classes ?? V);
  return [{ shape: [...targets!.shape], data: lse }];
};

/**
 * Mean over the N counted rows (target ≥ 0): dz[r, v] = dloss/N · (softmax(z_r)_v − [v = t_r]),
 * with softmax = exp(z − lse); an ignored row (target < 0) gets 0, as does everything when N = 0,
 * and so do the padding columns v >= classes (they are no classes).
 */
export const softmaxXentBackward: BackwardFn<Attrs<'softmax_xent'>> = (args) => {
  const [logits, targets] = args.inputs as [Tensor, Tensor];
  const z = floats(logits, 'logits');
  const y = ints(targets, 'targets');
  const lse = floats(args.extra[0]!, 'logsumexp');
  const { rows: R, width: V } = rows(logits);
  const K = args.attrs.classes ?? V;
  const counted = y.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
  const dz = new Float32Array(z.length);
  if (counted === 0) return [{ shape: [...logits.shape], data: dz }, null];
  const k = dOut(args)[0]! / counted;
  for (let r = 0; r < R; r++) {
    const t = y[r]!;
    if (t < 0) continue;
    if (t >= K) throw new InterpretError(`target ${t} at flat index ${r} is outside the vocabulary of ${K}`);
    for (let v = 0; v < K; v++) dz[r * V + v] = k * (Math.exp(z[r * V + v]! - lse[r]!) - (v === t ? 1 : 0));
  }
  return [{ shape: [...logits.shape], data: dz }, null];
};
