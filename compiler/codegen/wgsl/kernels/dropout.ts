/**
 * Inverted dropout for training: out = x · keep / (1 − p), keep_i ⇔ the counter-based bits
 * of element i (runtime/counter-rng.ts: key from the Step uniform's rng_seed and rng_step and
 * this site's stream) are ≥ round(p·2³²). The mask is never stored: the backward runs this
 * same kernel on the gradient (same seed, step and stream → same mask), and the CPU
 * interpreter draws it with the JS twin, so both agree bit for bit. One invocation per vec4
 * (when the size divides by 4) or per value; element indices are row-major.
 */
import { COUNTER_RNG_WGSL, dropoutThreshold } from '../../../../runtime/counter-rng.js';
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, elementwise, entryName, f32, u32 } from './common.js';

export interface DropoutSpec {
  /** Logical shape; only the element count matters. */
  shape: number[];
  /** Drop probability, 0 < p < 1. */
  p: number;
  /** The site's u32 stream (compiler/ir/lower.ts). */
  stream: number;
  /** Entry point; default 'dropout'. */
  name?: string;
}

/** Checks a dropout site: 0 < p < 1 and a u32 stream. */
export function checkDropout(kernel: string, p: number, stream: number): void {
  if (!(p > 0 && p < 1)) throw new Error(`${kernel}: dropout p must be in (0, 1), got ${p}`);
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff)
    throw new Error(`${kernel}: dropout stream must be a u32, got ${stream}`);
}

/** The WGSL multiplier of element `index` (a u32 expression) given `key` in scope: 0 or 1/(1 − p). */
export function dropoutFactor(p: number, key: string, index: string): string {
  return `select(0.0, ${f32(Math.fround(1 / (1 - p)))}, dropout_bits(${key}, ${index}) >= ${u32(dropoutThreshold(p))})`;
}

/** Bindings: x [shape], out [shape], step (uniform: rng_seed, rng_step). */
export function generateDropout(spec: DropoutSpec): WgslKernel {
  const entryPoint = entryName('dropout', spec.name);
  const { n, w, V, lin } = elementwise(entryPoint, spec.shape);
  checkDropout(entryPoint, spec.p, spec.stream);
  const b = new Bindings(entryPoint).storage('x', 'read', spec.shape, V).storage('out', 'read_write', spec.shape, V).step();
  const z = (e: string) => dropoutFactor(spec.p, 'key', e);
  const factor = w === 4 ? `vec4<f32>(${[0, 1, 2, 3].map((c) => z(`e + ${u32(c)}`)).join(',\n    ')})` : z('i');
  return assemble({
    entryPoint,
    fuses: ['dropout'],
    shapes: { x: spec.shape },
    notes: [
      `out = x·keep/(1 − p), p = ${spec.p}, stream ${spec.stream}; keep ⇔ dropout_bits(key, i) ≥ ${dropoutThreshold(spec.p)}` +
        `, key = dropout_key(rng_seed, rng_step, stream) from the Step uniform; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
      'FLOPs: 1 multiply per element (the hash is integer work)',
    ],
    bindings: b,
    launch: lin,
    flops: n,
    prelude: COUNTER_RNG_WGSL,
    main: lin.main(`let key = dropout_key(u_step.rng_seed, u_step.rng_step, ${u32(spec.stream)});${w === 4 ? '\n  let e = i * 4u;' : ''}
  out[i] = x[i] * ${factor};`),
  });
}
