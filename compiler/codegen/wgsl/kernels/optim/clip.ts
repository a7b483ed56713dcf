/**
 * Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_) without a CPU round trip:
 *
 *   generateSumSquares, dispatched once per parameter tensor:
 *     partial[slot·parts + w] = Σ g² over the part of that tensor's gradient that workgroup w
 *     of `parts` covers (a grid-stride loop, blocked per-invocation sums, then a workgroup
 *     tree or subgroup reduction);
 *   generateClipScale, dispatched once after all of them (one workgroup):
 *     Σ       = sum of partial[0 .. slots·parts) in a fixed order
 *     norm[0] = sqrt(Σ)
 *     scale[0] = min(1, maxNorm / (norm + 1e-6))    (1 when maxNorm is 0: clipping off)
 *     nonfinite[0] = 1 when Σ is NaN or ±Inf, else 0 (and then scale[0] = 0, which tells the
 *     AdamW kernel to skip the step).
 *
 * With parts = 1 (the default) partial[slot] is exactly the tensor's Σ g². More parts spread
 * one tensor over more workgroups (worth it for large tensors on a real GPU; on lavapipe a
 * workgroup is one thread, so 2–4 parts use both cores); every sum-squares kernel of a run
 * and the clip kernel must use the same `parts`. Every entry of `partial` is written each
 * step, so it needs no zeroing. Everything is summed in a fixed order: the result is
 * deterministic (bit-identical run to run on one adapter and configuration).
 *
 * A squared gradient entry that overflows f32 (|g| > 1.8e19) makes Σ infinite and is reported
 * as non-finite. NaN/Inf are detected from the bits of Σ, not with `x != x`, because WGSL lets
 * implementations assume floats are finite.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, MAX_WORKGROUPS_PER_DIM, rowWorkgroupSize, u32, vectorized } from '../common.js';
import { useSubgroups, workgroupReduce, type ReduceOptions } from '../reduce.js';

/** Per-invocation partial sums are flushed every this many loads (blocked summation: f32 rounding grows with the block, not with n). */
const BLOCK = 64;

/** Entry point default 'sum_squares'. */
export interface SumSquaresSpec extends ReduceOptions {
  /** Floats in this gradient tensor. */
  n: number;
  /** This tensor's slot in `partial` (0 <= slot < slots). */
  slot: number;
  /** Parameter tensors in the model (slots of `partial`). */
  slots: number;
  /** Workgroups per tensor (and partial entries per slot); default 1. Must match generateClipScale's. */
  parts?: number;
}

/** Invocations per workgroup of a sum-of-squares reduction (arena.ts uses the same, for the same sums). */
export function sumSquaresWorkgroup(spec: ReduceOptions, width: number): number {
  const tuning = spec.tuning ?? 'gpu';
  return spec.workgroupSize ?? (tuning === 'gpu' ? 256 : rowWorkgroupSize(width, tuning, spec.subgroupMinSize ?? 0));
}

/**
 * WGSL leaving in `s` the workgroup's Σ x² over k = first, first + stride, … below count (`x`,
 * `first` and `count` WGSL expressions), per-invocation sums flushed every BLOCK loads. The
 * per-tensor and the arena kernels both emit this text, so their sums are bit-identical.
 */
export function sumSquaresWgsl(first: string, count: string, stride: number, x: string, sq: string): string {
  return `var total = 0.0;
  for (var k0 = ${first}; k0 < ${count}; k0 += ${u32(BLOCK * stride)}) {
    let end = min(${count}, k0 + ${u32(BLOCK * stride)});
    var acc = 0.0;
    for (var k = k0; k < end; k += ${u32(stride)}) {
      let x = ${x};
      acc += ${sq};
    }
    total += acc;
  }
  let s = wg_sum(total, lid);`;
}

/** Bindings, in order: grad [n] (read), partial [slots·parts] (read_write). Dispatch: parts workgroups. */
export function generateSumSquares(spec: SumSquaresSpec): WgslKernel {
  const entryPoint = entryName('sum_squares', spec.name);
  checkInt(entryPoint, 'n', spec.n);
  checkInt(entryPoint, 'slots', spec.slots);
  checkInt(entryPoint, 'slot', spec.slot, 0);
  checkInt(entryPoint, 'parts', spec.parts);
  const { n, slot, slots } = spec;
  const parts = spec.parts ?? 1;
  if (slot >= slots) throw new Error(`${entryPoint}: slot ${slot} is not below slots ${slots}`);
  if (parts > MAX_WORKGROUPS_PER_DIM) throw new Error(`${entryPoint}: parts ${parts} exceeds ${MAX_WORKGROUPS_PER_DIM}`);
  const { w, V, units: N } = vectorized(n);
  const sg = spec.subgroupMinSize ?? 0;
  const WG = sumSquaresWorkgroup(spec, Math.ceil(N / parts));
  const stride = WG * parts;
  if (N + BLOCK * stride >= 2 ** 32) throw new Error(`${entryPoint}: n ${n} with ${parts} parts overflows the u32 loop bounds`);
  const b = new Bindings(entryPoint).storage('grad', 'read', [n], V).storage('partial', 'read_write', [slots * parts]);
  const sq = w === 4 ? 'dot(x, x)' : 'x * x';
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { grad: [n], partial: [slots * parts] },
    notes: [
      `partial[${slot}·${parts} + workgroup] = Σ grad² over that workgroup's share (${parts} workgroup${parts > 1 ? 's' : ''} of ${WG}, grid-stride over ${w === 4 ? 'vec4' : 'scalar'}s)`,
      `per-invocation sums in blocks of ${BLOCK} loads, then a ${useSubgroups(WG, sg) ? 'subgroup' : 'tree'} reduction: fixed order, deterministic`,
    ],
    bindings: b,
    launch: { workgroupSize: [WG, 1, 1], dispatch: [parts, 1, 1] },
    flops: 2 * n,
    ...workgroupReduce(WG, sg, ['sum']),
    main: `@compute @workgroup_size(${WG})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${sumSquaresWgsl(`wid.x * ${u32(WG)} + lid`, u32(N), stride, 'grad[k]', sq)}
  if (lid == 0u) { partial[${u32(slot * parts)} + wid.x] = s; }
}`,
  });
}

/** Entry point default 'clip_scale'. */
export interface ClipScaleSpec extends Omit<ReduceOptions, 'workgroupSize'> {
  /** Parameter tensors (slots of `partial`). */
  slots: number;
  /** Partial sums per slot; default 1. Must match the generateSumSquares kernels'. */
  parts?: number;
  /** Clip the global gradient norm to this; 0 turns clipping off (scale 1). */
  maxNorm: number;
}

/**
 * One workgroup. Bindings, in order: partial [slots·parts] (read), scale [1], norm [1],
 * nonfinite (u32 [1]); all three outputs are written on every dispatch.
 */
export function generateClipScale(spec: ClipScaleSpec): WgslKernel {
  const entryPoint = entryName('clip_scale', spec.name);
  for (const d of ['slots', 'parts'] as const) checkInt(entryPoint, d, spec[d]);
  if (!(Number.isFinite(spec.maxNorm) && spec.maxNorm >= 0))
    throw new Error(`${entryPoint}: maxNorm must be finite and >= 0, got ${spec.maxNorm}`);
  const total = spec.slots * (spec.parts ?? 1);
  const sg = spec.subgroupMinSize ?? 0;
  const tuning = spec.tuning ?? 'gpu';
  const WG = tuning === 'gpu' ? Math.min(256, 2 ** Math.ceil(Math.log2(Math.max(8, total)))) : rowWorkgroupSize(total, tuning, sg);
  const b = new Bindings(entryPoint)
    .storage('partial', 'read', [total])
    .storage('scale', 'read_write', [1])
    .storage('norm', 'read_write', [1])
    .storage('nonfinite', 'read_write', [1], 'u32');
  const clipped = spec.maxNorm > 0 ? `min(1.0, ${f32(spec.maxNorm)} / (nrm + ${f32(1e-6)}))` : '1.0';
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { partial: [total] },
    notes: [
      `Σ = sum of partial (fixed order); norm = sqrt(Σ); scale = ${spec.maxNorm > 0 ? `min(1, ${spec.maxNorm} / (norm + 1e-6))` : '1 (clipping off)'}`,
      'nonfinite = 1 and scale = 0 (AdamW skips the step) when Σ is NaN or Inf (tested on its bits)',
    ],
    bindings: b,
    launch: { workgroupSize: [WG, 1, 1], dispatch: [1, 1, 1] },
    flops: total + 4,
    ...workgroupReduce(WG, sg, ['sum']),
    main: `@compute @workgroup_size(${WG})
fn ${entryPoint}(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < ${u32(total)}; k += ${u32(WG)}) { acc += partial[k]; }
  let s = wg_sum(acc, lid);
  if (lid == 0u) {
    let bad = (bitcast<u32>(s) & 0x7f800000u) == 0x7f800000u; // exponent all ones: Inf or NaN
    let nrm = sqrt(s);
    norm[0] = nrm;
    nonfinite[0] = select(0u, 1u, bad);
    scale[0] = select(${clipped}, 0.0, bad);
  }
}`,
  });
}
