/**
 * Backward of rotary position embedding (../rope.ts, HF rotate_half convention). The forward
 * rotates each pair (i, i + half) by angle = (offset + t)·inv_freq[i]; its transpose rotates
 * the gradient by −angle:
 *   dx[i]        = dout[i]·cos + dout[i + half]·sin
 *   dx[i + half] = dout[i + half]·cos − dout[i]·sin
 * and dims past rotary_dims pass through. The angle is computed exactly as the forward does
 * (f32 product of the position and a float64 inv_freq baked into the shader), offset from
 * the Step uniform (0 in training). Works on dQ or dK alike (`heads` is H or Kh).
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32 } from '../common.js';
import { ropeInvFreq } from '../rope.js';

export interface RopeBackwardSpec {
  B: number;
  T: number;
  heads: number;
  head_dim: number;
  /** Even, <= head_dim; default head_dim. */
  rotary_dims?: number;
  /** Default 10000. */
  base?: number;
  /** Rotate dout itself into dx (dout read_write, no dx). Default false: dout → dx. */
  inPlace?: boolean;
  /** Entry point; default 'rope_backward'. */
  name?: string;
}

/** Bindings, in order: dout [B, T, heads·head_dim] (read_write in place), dx [same] (unless in place), step (uniform). */
export function generateRopeBackward(spec: RopeBackwardSpec): WgslKernel {
  const entryPoint = entryName('rope_backward', spec.name);
  for (const d of ['B', 'T', 'heads', 'head_dim', 'rotary_dims'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T, heads, head_dim: D } = spec;
  const rot = spec.rotary_dims ?? D;
  const base = spec.base ?? 10000;
  if (rot % 2 !== 0 || rot > D) throw new Error(`${entryPoint}: rotary_dims ${rot} must be even and <= head_dim ${D}`);
  if (!(base > 1)) throw new Error(`${entryPoint}: base must be > 1, got ${base}`);
  const inPlace = spec.inPlace ?? false;
  const half = rot / 2;
  const shape = [B, T, heads * D];
  const b = new Bindings(entryPoint).storage('dout', inPlace ? 'read_write' : 'read', shape);
  if (!inPlace) b.storage('dx', 'read_write', shape);
  b.step();
  const dst = inPlace ? 'dout' : 'dx';
  // One invocation per rotated pair; out of place also one per passed-through value.
  const perHead = inPlace ? half : D - half;
  const lin = linear(entryPoint, B * T * heads * perHead);
  const passThrough = !inPlace && rot < D
    ? `
  if (j >= ${u32(half)}) {
    dx[head + j + ${u32(half)}] = dout[head + j + ${u32(half)}];
    return;
  }`
    : '';
  const main = `@compute @workgroup_size(${lin.workgroupSize[0]})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  let j = i % ${u32(perHead)};
  let rh = i / ${u32(perHead)};            // row · heads + h
  let head = rh * ${u32(D)};${passThrough}
  let pos = u_step.offset + (rh / ${u32(heads)}) % ${u32(T)};
  let angle = f32(pos) * INV_FREQ[j];
  let c = cos(angle);
  let s = sin(angle);
  let a = dout[head + j];
  let e = dout[head + j + ${u32(half)}];
  ${dst}[head + j] = a * c + e * s;
  ${dst}[head + j + ${u32(half)}] = e * c - a * s;
}`;
  return assemble({
    entryPoint,
    fuses: ['rope_backward'],
    shapes: { dout: shape },
    notes: [
      `backward of rope: rotate_half by −angle on the first ${rot} of ${D} dims of each of ${heads} heads, base ${base}; position = offset + t (Step uniform)` +
        `${inPlace ? ', in place' : ', dout → dx'}`,
      `one invocation per rotated pair${!inPlace && rot < D ? ' or passed-through value' : ''}`,
    ],
    bindings: b,
    workgroupSize: lin.workgroupSize,
    dispatch: lin.dispatch,
    flops: B * T * heads * half * 8,
    prelude: `const INV_FREQ = array<f32, ${half}>(${ropeInvFreq(rot, base).map(f32).join(', ')});`,
    main,
  });
}
