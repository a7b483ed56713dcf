/**
 * Rotary position embedding, HF Llama / GPT-NeoX convention ("rotate_half"): within the first
 * `rotary_dims` of each head, value i pairs with i + rotary_dims/2 and the pair rotates by
 *   angle = (offset + t) · inv_freq[i],  inv_freq[i] = base^(−2i / rotary_dims)
 *   out[i]        = x[i]·cos − x[i + half]·sin
 *   out[i + half] = x[i + half]·cos + x[i]·sin
 * Dimensions past rotary_dims pass through. offset comes from the Step uniform. Works on Q
 * (B, T, H·D) or K (B, T, Kh·D) alike (`heads` is H or Kh), in place or into `out`.
 *
 * Precision: inv_freq is computed in float64 and baked into the shader; the angle is an f32
 * product, as in PyTorch's f32 RoPE, so its error grows with the position (~6e-8·angle).
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32 } from './common.js';

export interface RopeSpec {
  B: number;
  T: number;
  heads: number;
  head_dim: number;
  /** Even, <= head_dim; default head_dim. */
  rotary_dims?: number;
  /** Default 10000. */
  base?: number;
  /** Rotate x itself (x read_write, no out; backward: dout, no dx). Default false: x → out. */
  inPlace?: boolean;
  /** Entry point; default 'rope' (backward: 'rope_backward'). */
  name?: string;
}

/** base^(−2i / rotary_dims) for i < rotary_dims / 2, in float64. */
export function ropeInvFreq(rotaryDims: number, base: number): number[] {
  return Array.from({ length: rotaryDims / 2 }, (_, i) => base ** (-(2 * i) / rotaryDims));
}

/** The forward rotation and its transpose differ only in names and the sign of the angle. */
interface Direction {
  readonly kernel: 'rope' | 'rope_backward';
  /** Input and output binding names. */
  readonly src: string;
  readonly dst: string;
  /** +1 rotates by +angle (forward), −1 by −angle (the backward's transpose). */
  readonly sign: 1 | -1;
  readonly what: string;
}

export const ROPE_FORWARD: Direction = { kernel: 'rope', src: 'x', dst: 'out', sign: 1, what: 'rotate_half RoPE' };
export const ROPE_BACKWARD: Direction = {
  kernel: 'rope_backward',
  src: 'dout',
  dst: 'dx',
  sign: -1,
  what: 'backward of rope: rotate_half by −angle',
};

/** Bindings: x [B, T, heads·head_dim] (read_write in place), out [same] (unless in place), step (uniform). */
export function generateRope(spec: RopeSpec): WgslKernel {
  return rotaryKernel(spec, ROPE_FORWARD);
}

/** The rotation kernel in either direction (backward bindings: dout, dx, step). */
export function rotaryKernel(spec: RopeSpec, dir: Direction): WgslKernel {
  const entryPoint = entryName(dir.kernel, spec.name);
  for (const d of ['B', 'T', 'heads', 'head_dim', 'rotary_dims'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T, heads, head_dim: D } = spec;
  const rot = spec.rotary_dims ?? D;
  const base = spec.base ?? 10000;
  if (rot % 2 !== 0 || rot > D) throw new Error(`${entryPoint}: rotary_dims ${rot} must be even and <= head_dim ${D}`);
  if (!(base > 1)) throw new Error(`${entryPoint}: base must be > 1, got ${base}`);
  const inPlace = spec.inPlace ?? false;
  const half = rot / 2;
  const shape = [B, T, heads * D];
  const { src } = dir;
  const b = new Bindings(entryPoint).storage(src, inPlace ? 'read_write' : 'read', shape);
  if (!inPlace) b.storage(dir.dst, 'read_write', shape);
  b.step();
  const dst = inPlace ? src : dir.dst;
  // One invocation per rotated pair; out of place also one per passed-through value.
  const perHead = inPlace ? half : D - half;
  const lin = linear(entryPoint, B * T * heads * perHead);
  const passThrough =
    !inPlace && rot < D
      ? `
  if (j >= ${u32(half)}) {
    ${dst}[head + j + ${u32(half)}] = ${src}[head + j + ${u32(half)}];
    return;
  }`
      : '';
  const [minus, plus] = dir.sign === 1 ? ['-', '+'] : ['+', '-'];
  const main = lin.main(`let j = i % ${u32(perHead)};
  let rh = i / ${u32(perHead)};            // row · heads + h
  let head = rh * ${u32(D)};${passThrough}
  let pos = u_step.offset + (rh / ${u32(heads)}) % ${u32(T)};
  let angle = f32(pos) * INV_FREQ[j];
  let c = cos(angle);
  let s = sin(angle);
  let a = ${src}[head + j];
  let e = ${src}[head + j + ${u32(half)}];
  ${dst}[head + j] = a * c ${minus} e * s;
  ${dst}[head + j + ${u32(half)}] = e * c ${plus} a * s;`);
  return assemble({
    entryPoint,
    fuses: [dir.kernel],
    shapes: { [src]: shape },
    notes: [
      `${dir.what} on the first ${rot} of ${D} dims of each of ${heads} heads, base ${base}; position = offset + t (Step uniform)` +
        `${inPlace ? ', in place' : `, ${src} → ${dir.dst}`}`,
      `one invocation per rotated pair${!inPlace && rot < D ? ' or passed-through value' : ''}`,
    ],
    bindings: b,
    launch: lin,
    flops: B * T * heads * half * 8,
    prelude: `const INV_FREQ = array<f32, ${half}>(${ropeInvFreq(rot, base).map(f32).join(', ')});`,
    main,
  });
}
