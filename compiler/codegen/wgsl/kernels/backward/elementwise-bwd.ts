/**
 * Backward of the elementwise activations and gated linear units (../activation.ts):
 *   activation: dx = dout · fn'(x)                     (x = the activation's input)
 *   glu:        dgate = dout · up · fn'(gate),  dup = dout · fn(gate)
 * with exact derivatives of the forward definitions:
 *   relu:      1 for x > 0, else 0 (PyTorch's choice at 0)
 *   silu:      σ + x·σ(1 − σ)
 *   tanh:      1 − tanh² = 4e / (1 + e)², e = exp(−2|x|)   (or 1 − y² from the output y)
 *   gelu:      Φ(x) + x·φ(x)        (Φ from the forward's A&S 7.1.26 erfc, |err| <= 7.5e-8)
 *   gelu_tanh: s + 2x·s(1 − s)·k(1 + 3a·x²), s = σ(2u) = ½(1 + tanh u), u = k(x + a·x³),
 *              k = √(2/π), a = 0.044715
 * Every sigmoid-like term is written through e = exp(−|·|) <= 1, with σ(1 − σ) = e / (1 + e)²:
 * no overflow, no NaN, and no cancellation in 1 − σ or 1 − tanh² in the tails.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { erf } from '../../epilogue.js';
import { FN_FLOPS, fnWgsl, type ElementwiseFn } from '../activation-fns.js';
import type { GluFn } from '../activation.js';
import { assemble, Bindings, checkInt, entryName, linear, product, u32, vecType, vectorWidth } from '../common.js';

/** Rough FLOPs per element of each derivative (exp counted as a few, as ACT_FLOPS does). */
export const DFN_FLOPS: Readonly<Record<ElementwiseFn, number>> = {
  relu: 1,
  silu: 8,
  tanh: 6,
  gelu: 16,
  gelu_tanh: 16,
};

function template(fn: ElementwiseFn, T: string, name: string): string {
  const c = (v: string) => `${T}(${v})`;
  switch (fn) {
    case 'relu':
      return `fn ${name}(x: ${T}) -> ${T} { return select(${c('0.0')}, ${c('1.0')}, x > ${c('0.0')}); }`;
    case 'silu':
      return [
        `// σ + x·σ(1 − σ), σ(1 − σ) = e / (1 + e)², e = exp(−|x|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let e = exp(-abs(x));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  let s = select(e * r, r, x >= ${c('0.0')});`,
        `  return s + x * e * r * r;`,
        `}`,
      ].join('\n');
    case 'tanh':
      return [
        `// 1 − tanh² = 4e / (1 + e)², e = exp(−2|x|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let e = exp(${c('-2.0')} * abs(x));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  return ${c('4.0')} * e * r * r;`,
        `}`,
      ].join('\n');
    case 'gelu':
      return [
        `// Φ(x) + x·φ(x); Φ(−|x|) = erfc(|x|/√2)/2 by A&S 7.1.26 as the forward, φ(x) = exp(−x²/2)/√(2π)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let z = abs(x) * ${c('0.7071067811865476')};`,
        `  let t = ${c('1.0')} / (${c('1.0')} + ${c('0.3275911')} * z);`,
        `  let p = t * (${c('0.254829592')} + t * (${c('-0.284496736')} + t * (${c('1.421413741')}` +
        ` + t * (${c('-1.453152027')} + t * ${c('1.061405429')}))));`,
        `  let ez = exp(-z * z);`,
        `  let lo = ${c('0.5')} * p * ez;`,
        `  return select(lo, ${c('1.0')} - lo, x >= ${c('0.0')}) + x * ez * ${c('0.3989422804014327')};`,
        `}`,
      ].join('\n');
    case 'gelu_tanh':
      return [
        `// s + 2x·s(1 − s)·k(1 + 3a x²), s = σ(2u), u = k(x + a x³); s(1 − s) = e / (1 + e)², e = exp(−2|u|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let x2 = x * x;`,
        `  let u = ${c('0.7978845608028654')} * x * (${c('1.0')} + ${c('0.044715')} * x2);`,
        `  let e = exp(${c('-2.0')} * abs(u));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  let s = select(e * r, r, u >= ${c('0.0')});`,
        `  return s + ${c('2.0')} * x * e * r * r * ${c('0.7978845608028654')} * (${c('1.0')} + ${c('0.134145')} * x2);`,
        `}`,
      ].join('\n');
  }
}

/** WGSL defining `dact(x: f32)` and `dact4(x: vec4<f32>)`, the derivative of `fn` at its input x. */
export function dfnWgsl(fn: ElementwiseFn): string {
  return `${template(fn, 'f32', 'dact')}\n${template(fn, 'vec4<f32>', 'dact4')}`;
}

/** The f64 derivative of `fn`'s definition (activation-fns.ts fnReference). */
export function dfnReference(fn: ElementwiseFn): (x: number) => number {
  switch (fn) {
    case 'relu': return (x) => (x > 0 ? 1 : 0);
    case 'silu': return (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    };
    case 'tanh': return (x) => 1 / Math.cosh(x) ** 2;
    case 'gelu': return (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    case 'gelu_tanh': return (x) => {
      const k = Math.sqrt(2 / Math.PI), a = 0.044715;
      const th = Math.tanh(k * (x + a * x ** 3));
      return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * a * x * x);
    };
  }
}

export interface ActivationBackwardSpec {
  /** Logical shape, e.g. [B, T, F]; only the element count matters. */
  shape: number[];
  fn: ElementwiseFn;
  /**
   * What the forward saved: 'input' (x, the default) or, for tanh only, 'output' (y = tanh x,
   * as ops.ts's tanh saves it): then the binding is y and dx = dout · (1 − y²).
   */
  saved?: 'input' | 'output';
  /** Overwrite dout with dx (dout read_write, no dx binding). Default false. */
  inPlace?: boolean;
  /** Entry point; default 'activation_backward'. */
  name?: string;
}

/** Bindings, in order: x [shape] (or y, saved 'output'), dout [shape] (read_write in place), dx [shape] (unless in place). */
export function generateActivationBackward(spec: ActivationBackwardSpec): WgslKernel {
  const entryPoint = entryName('activation_backward', spec.name);
  spec.shape.forEach((d, i) => checkInt(entryPoint, `shape[${i}]`, d));
  const saved = spec.saved ?? 'input';
  if (saved === 'output' && spec.fn !== 'tanh') throw new Error(`${entryPoint}: only tanh's backward works from the output, not ${spec.fn}'s`);
  const n = product(spec.shape);
  const w = vectorWidth(n);
  const V = vecType(w);
  const inPlace = spec.inPlace ?? false;
  const src = saved === 'output' ? 'y' : 'x';
  const b = new Bindings(entryPoint).storage(src, 'read', spec.shape, V).storage('dout', inPlace ? 'read_write' : 'read', spec.shape, V);
  if (!inPlace) b.storage('dx', 'read_write', spec.shape, V);
  const lin = linear(entryPoint, n / w);
  const deriv = saved === 'output' ? `(${V}(1.0) - y[i] * y[i])` : `${w === 4 ? 'dact4' : 'dact'}(x[i])`;
  return assemble({
    entryPoint,
    fuses: [`${spec.fn}_backward`],
    shapes: { [src]: spec.shape },
    notes: [
      `backward of ${spec.fn}: ${inPlace ? 'dout' : 'dx'} = dout · ${saved === 'output' ? '(1 − y²), y = tanh(x) saved by the forward' : `${spec.fn}'(x)`}; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    workgroupSize: lin.workgroupSize,
    dispatch: lin.dispatch,
    flops: n * ((saved === 'output' ? 2 : DFN_FLOPS[spec.fn]) + 1),
    ...(saved === 'output' ? {} : { prelude: dfnWgsl(spec.fn) }),
    main: `@compute @workgroup_size(${lin.workgroupSize[0]})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  ${inPlace ? 'dout' : 'dx'}[i] = dout[i] * ${deriv};
}`,
  });
}

export interface GluBackwardSpec {
  /** Shape of the forward's out (and of gate and up), e.g. [B, T, F]. */
  shape: number[];
  fn: GluFn;
  /** gate and up were one (…, 2F) tensor, gate first (the forward's packed); then so is the gradient. Default false. */
  packed?: boolean;
  /** Entry point; default 'glu_backward'. */
  name?: string;
}

/**
 * Bindings, in order: gate [shape] and up [shape] (or gate_up [..., 2F] when packed),
 * dout [shape], dgate [shape] and dup [shape] (or dgate_up [..., 2F] when packed), both read_write.
 */
export function generateGluBackward(spec: GluBackwardSpec): WgslKernel {
  const entryPoint = entryName('glu_backward', spec.name);
  spec.shape.forEach((d, i) => checkInt(entryPoint, `shape[${i}]`, d));
  if (spec.shape.length === 0) throw new Error(`${entryPoint}: shape must have a last (feature) dimension`);
  const n = product(spec.shape);
  const F = spec.shape[spec.shape.length - 1]!;
  const packed = spec.packed ?? false;
  const w = vectorWidth(packed ? F : n);
  const V = vecType(w);
  const pshape = [...spec.shape.slice(0, -1), 2 * F];
  const b = new Bindings(entryPoint);
  if (packed) b.storage('gate_up', 'read', pshape, V);
  else b.storage('gate', 'read', spec.shape, V).storage('up', 'read', spec.shape, V);
  b.storage('dout', 'read', spec.shape, V);
  if (packed) b.storage('dgate_up', 'read_write', pshape, V);
  else b.storage('dgate', 'read_write', spec.shape, V).storage('dup', 'read_write', spec.shape, V);
  const lin = linear(entryPoint, n / w);
  const F4 = F / w;
  const [act, dact] = w === 4 ? ['act4', 'dact4'] : ['act', 'dact'];
  const io = packed
    ? {
      load: `let base = (i / ${u32(F4)}) * ${u32(2 * F4)} + i % ${u32(F4)};\n  let g = gate_up[base];\n  let u = gate_up[base + ${u32(F4)}];`,
      store: `dgate_up[base] = d * u * ${dact}(g);\n  dgate_up[base + ${u32(F4)}] = d * ${act}(g);`,
    }
    : { load: 'let g = gate[i];\n  let u = up[i];', store: `dgate[i] = d * u * ${dact}(g);\n  dup[i] = d * ${act}(g);` };
  return assemble({
    entryPoint,
    fuses: ['glu_backward'],
    shapes: packed ? { gate_up: pshape, dout: spec.shape } : { gate: spec.shape, up: spec.shape, dout: spec.shape },
    notes: [
      `backward of glu (${spec.fn}): dgate = dout · up · ${spec.fn}'(gate), dup = dout · ${spec.fn}(gate)` +
        `${packed ? '; gate and up (and their gradients) the two halves of the last dimension' : ''}; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    workgroupSize: lin.workgroupSize,
    dispatch: lin.dispatch,
    flops: n * (DFN_FLOPS[spec.fn] + 2 + FN_FLOPS[spec.fn] + 1),
    prelude: `${fnWgsl(spec.fn)}\n${dfnWgsl(spec.fn)}`,
    main: `@compute @workgroup_size(${lin.workgroupSize[0]})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  ${io.load}
  let d = dout[i];
  ${io.store}
}`,
  });
}
