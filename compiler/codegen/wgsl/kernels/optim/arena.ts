/**
 * The optimizer over many parameter tensors per dispatch, for gradients and moments packed
 * into arenas (compiler/schedule/grad-arena.ts): one buffer holding many tensors, each at its
 * own aligned offset. On a software adapter every dispatch costs tens of µs, so one dispatch
 * per tensor (two per parameter: sum of squares and AdamW) was a large part of a small
 * model's step.
 *
 *   generateSumSquaresArena: one workgroup per tensor, writing partial[slot] of that tensor
 *     with exactly the loop and reduction of clip.ts's generateSumSquares (parts = 1), so the
 *     global norm, its clip scale and everything after are bit-identical to the per-tensor
 *     kernels;
 *   generateAdamWArena: up to K parameter buffers (bound one each) with their gradient, m and
 *     v in arenas; each workgroup updates 64 vec4s of one tensor with adamw.ts's update text.
 *
 * Which tensor a workgroup serves comes from a table compiled into the shader as a WGSL
 * constant: a plan is plain data with no way to fill a uniform or storage buffer with fixed
 * numbers, and a constant costs nothing to bind. Every tensor here has a multiple of 4 floats
 * and starts on a 16-byte boundary of its arena (vec4 loads); others take the per-tensor
 * kernels over a byte range.
 */
import type { KernelTuning, WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, grid, u32 } from '../common.js';
import { useSubgroups, workgroupReduceBytes, workgroupReduceWgsl } from '../reduce.js';
import { adamwUpdateWgsl } from './adamw.js';
import { OPTIM_VAR, OptimBindings } from './uniform.js';
import { sumSquaresWgsl, sumSquaresWorkgroup } from './clip.js';

/** A tensor in an arena: its offset and length in floats (both multiples of 4). */
export interface ArenaTensor {
  readonly offset: number;
  readonly n: number;
}

function checkTensors(kernel: string, tensors: readonly ArenaTensor[], arenaFloats: number): void {
  if (tensors.length === 0) throw new Error(`${kernel}: no tensors`);
  for (const t of tensors) {
    checkInt(kernel, 'n', t.n);
    checkInt(kernel, 'offset', t.offset, 0);
    if (t.n % 4 !== 0 || t.offset % 4 !== 0) throw new Error(`${kernel}: tensor at ${t.offset} of ${t.n} floats is not vec4-aligned`);
    if (t.offset + t.n > arenaFloats)
      throw new Error(`${kernel}: tensor at ${t.offset} of ${t.n} floats overruns the arena (${arenaFloats})`);
  }
}

/** A WGSL `const` table of vec4<u32> rows. */
function table(name: string, rows: readonly (readonly number[])[]): string {
  const body = rows.map((r) => `  vec4<u32>(${r.map(u32).join(', ')}),`).join('\n');
  return `const ${name} = array<vec4<u32>, ${rows.length}>(\n${body}\n);`;
}

export interface SumSquaresArenaSpec {
  /** The tensors whose Σ g² this dispatch forms, with their slot in `partial`. */
  tensors: readonly (ArenaTensor & { readonly slot: number })[];
  /** Floats in the gradient arena. */
  arenaFloats: number;
  /** Entries of `partial` (every tensor of the model, arena or not). */
  slots: number;
  tuning?: KernelTuning;
  subgroupMinSize?: number;
  /** Entry point; default 'sum_squares_arena'. */
  name?: string;
}

/** Bindings, in order: grad (the arena, read), partial [slots] (read_write). Dispatch: one workgroup per tensor. */
export function generateSumSquaresArena(spec: SumSquaresArenaSpec): WgslKernel {
  const entryPoint = entryName('sum_squares_arena', spec.name);
  checkInt(entryPoint, 'slots', spec.slots);
  checkTensors(entryPoint, spec.tensors, spec.arenaFloats);
  for (const t of spec.tensors)
    if (!(Number.isInteger(t.slot) && t.slot >= 0 && t.slot < spec.slots)) throw new Error(`${entryPoint}: bad slot ${t.slot}`);
  const sg = spec.subgroupMinSize ?? 0;
  const WG = sumSquaresWorkgroup(spec, Math.max(...spec.tensors.map((t) => t.n / 4)));
  const stride = WG;
  const b = new Bindings(entryPoint)
    .storage('grad', 'read', [spec.arenaFloats], 'vec4<f32>')
    .storage('partial', 'read_write', [spec.slots]);
  const rows = spec.tensors.map((t) => [t.offset / 4, t.n / 4, t.slot, 0]);
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { grad: [spec.arenaFloats], partial: [spec.slots] },
    notes: [
      `partial[slot] = Σ grad² of one tensor of the arena per workgroup (${spec.tensors.length} tensors; TENSORS: vec4 offset, vec4s, slot)`,
      `each workgroup runs sum_squares' loop and ${useSubgroups(WG, sg) ? 'subgroup' : 'tree'} reduction for its tensor: the same sums, bit for bit`,
    ],
    bindings: b,
    launch: { workgroupSize: [WG, 1, 1], dispatch: [spec.tensors.length, 1, 1] },
    flops: 2 * spec.tensors.reduce((n, t) => n + t.n, 0),
    prelude: `${table('TENSORS', rows)}\n\n${workgroupReduceWgsl('sum', WG, sg)}`,
    workgroupStorageBytes: workgroupReduceBytes(WG, sg),
    enables: useSubgroups(WG, sg) ? ['subgroups'] : [],
    main: `@compute @workgroup_size(${WG})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = TENSORS[wid.x];
  let base = e.x;
  let N = e.y;
  ${sumSquaresWgsl('lid', 'N', stride, 'grad[base + k]', 'dot(x, x)')}
  if (lid == 0u) { partial[e.z] = s; }
}`,
  });
}

export interface AdamWArenaSpec {
  /** One entry per parameter binding param0, param1, …: where its gradient and moments sit in the arenas. */
  tensors: readonly (ArenaTensor & { readonly decay: boolean })[];
  /** Floats in each of the gradient, m and v arenas (laid out alike). */
  arenaFloats: number;
  /** The device's maxStorageBuffersPerShaderStage (the kernel binds tensors.length + 4). */
  maxStorageBuffers: number;
  /** Entry point; default 'adamw_arena'. */
  name?: string;
}

/** Invocations per workgroup of generateAdamWArena (each one vec4), as the per-tensor kernel's. */
const ADAMW_WG = 64;

/**
 * Bindings, in order: param0 … param{K−1} (read_write), grad, m, v (the arenas), scale [1]
 * (read), optim (the Optim uniform). Each tensor gets ceil(n/4/64) consecutive workgroups.
 */
export function generateAdamWArena(spec: AdamWArenaSpec): WgslKernel {
  const entryPoint = entryName('adamw_arena', spec.name);
  checkTensors(entryPoint, spec.tensors, spec.arenaFloats);
  const K = spec.tensors.length;
  const b = new OptimBindings(entryPoint, spec.maxStorageBuffers);
  spec.tensors.forEach((t, j) => b.storage(`param${j}`, 'read_write', [t.n], 'vec4<f32>'));
  b.storage('grad', 'read', [spec.arenaFloats], 'vec4<f32>')
    .storage('m', 'read_write', [spec.arenaFloats], 'vec4<f32>')
    .storage('v', 'read_write', [spec.arenaFloats], 'vec4<f32>')
    .storage('scale', 'read', [1])
    .optim();
  let start = 0;
  const rows = spec.tensors.map((t) => {
    const row = [start, t.offset / 4, t.n / 4, 0];
    start += Math.ceil(t.n / 4 / ADAMW_WG);
    return row;
  });
  const g = grid(entryPoint, start, ADAMW_WG);
  const cases = spec.tensors.map((t, j) => {
    const upd = adamwUpdateWgsl({ param: `param${j}[i]`, grad: 'grad[a]', m: 'm[a]', v: 'v[a]', decay: t.decay }, '      ');
    return `    case ${u32(j)}: {\n      ${upd}\n    }`;
  });
  const decayed = spec.tensors.filter((t) => t.decay).reduce((n, t) => n + t.n, 0);
  const all = spec.tensors.reduce((n, t) => n + t.n, 0);
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { grad: [spec.arenaFloats] },
    notes: [
      `torch.optim.AdamW on ${K} tensors (param0 … param${K - 1}), each element exactly as the per-tensor adamw kernel; gradient and moments at their arena offsets`,
      `TENSORS: first workgroup, vec4 offset in the arenas, vec4s; hyperparameters from ${OPTIM_VAR}; scale[0] == 0 (non-finite norm) skips the step`,
    ],
    bindings: b,
    launch: g,
    flops: all * 14 + decayed,
    prelude: table('TENSORS', rows),
    main: g.main(`var t = 0u;
  for (var j = 1u; j < ${u32(K)}; j++) {
    if (wg >= TENSORS[j].x) { t = j; }
  }
  let e = TENSORS[t];
  let i = (wg - e.x) * ${u32(ADAMW_WG)} + lid;
  if (i >= e.z) { return; }
  let a = e.y + i;
  let s = scale[0];
  if (s == 0.0) { return; }
  switch t {
${cases.join('\n')}
    default: {}
  }`),
  });
}
