/**
 * Shared plumbing for the kernel generators: spec checks, the binding table (one place that
 * turns a binding into its WGSL declaration), dispatch grids that stay within WebGPU's
 * 65535 workgroups per dimension, the header comment, and WGSL literal formatting.
 */
import { STEP_BYTES, STEP_VAR, STEP_WGSL, type KernelTuning, type WgslBinding, type WgslKernel } from '../kernel-types.js';

/** WebGPU's guaranteed minimum for maxComputeWorkgroupsPerDimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;
/** The storage-buffer budget every generator keeps to (WebGPU's default limit is 8). */
export const MAX_STORAGE_BUFFERS = 8;

export function checkInt(kernel: string, name: string, v: number | undefined, min = 1): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min) throw new Error(`${kernel}: ${name} must be an integer >= ${min}, got ${v}`);
}

export function entryName(kernel: string, name: string | undefined): string {
  const n = name ?? kernel;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || n.startsWith('__')) throw new Error(`${kernel}: name '${n}' is not a WGSL identifier`);
  return n;
}

/** A WGSL f32 literal for a finite JS number (always with a decimal point or exponent). */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} as a WGSL f32 literal`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** A finite "−∞" (masked scores, padding columns): exp(NEG − m) is 0 for any real m, and NEG − NEG is not NaN. */
export const NEG = '-3.0e38';

export function u32(n: number): string {
  return `${n}u`;
}

export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** 0 … n − 1, for unrolled code. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A vec4's components by index. */
export const COMP = ['x', 'y', 'z', 'w'] as const;

/** Vector width for a contiguous last dimension: vec4 when it divides by 4, else scalars. */
export function vectorWidth(n: number): 1 | 4 {
  return n % 4 === 0 ? 4 : 1;
}

export const vecType = (w: 1 | 4): string => (w === 4 ? 'vec4<f32>' : 'f32');

/** vectorWidth(n), its WGSL type and n in units of that type. */
export function vectorized(n: number): { w: 1 | 4; V: string; units: number } {
  const w = vectorWidth(n);
  return { w, V: vecType(w), units: n / w };
}

/**
 * The binding table of one kernel, numbered in the order added, and their declarations.
 * `storageLimit` lets a kernel built for one device bind as many storage buffers as it allows
 * (optim/arena.ts) instead of the portable MAX_STORAGE_BUFFERS.
 */
export class Bindings {
  readonly list: WgslBinding[] = [];
  private readonly decls: string[] = [];
  /** The WGSL structs of the uniforms bound, declared before the bindings. */
  private readonly structs: string[] = [];

  constructor(
    private readonly kernel: string,
    private readonly storageLimit = MAX_STORAGE_BUFFERS,
  ) {}

  /** A storage buffer `array<elem>` whose logical f32/i32 shape is `shape`. */
  storage(name: string, access: 'read' | 'read_write', shape: number[], elem = 'f32'): this {
    const binding = this.list.length;
    this.list.push({ group: 0, binding, name, access, shape, bytes: 4 * product(shape) });
    this.decls.push(`@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${elem}>;`);
    return this;
  }

  /** The shared Step uniform, readable in WGSL as `u_step.offset` / `u_step.kv_len`. */
  step(): this {
    return this.uniform('step', STEP_BYTES, STEP_VAR, 'Step', STEP_WGSL);
  }

  /** A uniform bound as `name`, read in WGSL through `variable` of struct `type`, whose declaration is `struct`. */
  protected uniform(name: string, bytes: number, variable: string, type: string, struct: string): this {
    const binding = this.list.length;
    this.list.push({ group: 0, binding, name, access: 'uniform', shape: [], bytes });
    this.decls.push(`@group(0) @binding(${binding}) var<uniform> ${variable}: ${type};`);
    this.structs.push(struct);
    return this;
  }

  wgsl(): string {
    const storage = this.list.filter((b) => b.access !== 'uniform').length;
    if (storage > this.storageLimit)
      throw new Error(`internal: ${this.kernel} declares ${storage} storage buffers, over ${this.storageLimit}`);
    return [...this.structs.flatMap((s) => [s, '']), ...this.decls].join('\n');
  }

  bytes(): number {
    return this.list.filter((b) => b.access !== 'uniform').reduce((n, b) => n + b.bytes, 0);
  }
}

/** How a kernel is dispatched: its workgroup size and grid. */
export interface LaunchSize {
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
}

/** A launch of workgroups of `size` invocations, and its entry point. */
export interface Launch extends LaunchSize {
  /** The entry point's opening WGSL (grid, linear: which variables it defines). */
  wgsl: string;
  /** The entry point: attributes, the `wid` (workgroup_id) and `lid` (local_invocation_index) builtins, `wgsl`, then `body`. */
  main(body: string): string;
}

function launch(kernel: string, size: number, dispatch: [number, number, number], wgsl: string): Launch {
  const main = (body: string) => `@compute @workgroup_size(${size})
fn ${kernel}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${wgsl}
  ${body}
}`;
  return { workgroupSize: [size, 1, 1], dispatch, wgsl, main };
}

/**
 * Lays `workgroups` (of `size` invocations) out along x, spilling into y past 65535 (guarded
 * when x·y overshoots). `wgsl` defines `wg: u32`, the linear workgroup index, from `wid`;
 * returns when past the end.
 */
export function grid(kernel: string, workgroups: number, size: number): Launch {
  if (workgroups <= MAX_WORKGROUPS_PER_DIM) return launch(kernel, size, [workgroups, 1, 1], 'let wg = wid.x;');
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIM);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`${kernel}: ${workgroups} workgroups exceed ${MAX_WORKGROUPS_PER_DIM}² ; split the work`);
  const x = Math.ceil(workgroups / y);
  const guard = x * y > workgroups ? `\n  if (wg >= ${u32(workgroups)}) { return; }` : '';
  return launch(kernel, size, [x, y, 1], `let wg = wid.y * ${u32(x)} + wid.x;${guard}`);
}

/** A 1-D launch over `items` invocations: workgroups of `size`, the grid split as needed. */
export function linear(kernel: string, items: number, size = 64): Launch {
  const g = grid(kernel, Math.ceil(items / size), size);
  // `i` is this invocation's item; `lid` the local_invocation_index builtin.
  return launch(kernel, size, g.dispatch, `${g.wgsl}\n  let i = wg * ${u32(size)} + lid;\n  if (i >= ${u32(items)}) { return; }`);
}

/**
 * A launch over every value of `shape` (its dimensions checked): one invocation per vec4 when
 * the count divides by 4 (w = 4, V = 'vec4<f32>'), else per value; `i` indexes arrays of V.
 */
export function elementwise(kernel: string, shape: number[]) {
  shape.forEach((d, i) => checkInt(kernel, `shape[${i}]`, d));
  const n = product(shape);
  const { w, V, units } = vectorized(n);
  return { n, w, V, lin: linear(kernel, units) };
}

/**
 * Invocations per row for one-workgroup-per-row reductions over `width` items: a power of two.
 * 'cpu' (lavapipe, measured on layernorm rows of 768 and 4096): a workgroup runs as SIMD-8
 * slices on one thread and each barrier switches slices, so the best is one subgroup per row
 * (subgroupAdd, no barrier at all: 3.6 GB/s at C = 768) or else a small tree (16: ~2 GB/s);
 * 64 and more lanes with a tree ran at 0.5-0.9 GB/s. 'gpu': up to 256 lanes, ~4 items each.
 */
export function rowWorkgroupSize(width: number, tuning: KernelTuning, subgroupMinSize = 0): number {
  if (tuning === 'cpu') return subgroupMinSize >= 4 && subgroupMinSize <= 64 ? subgroupMinSize : 16;
  let wg = 8;
  while (wg < 256 && wg * 4 < width) wg *= 2;
  return wg;
}

export interface Assembly {
  entryPoint: string;
  fuses: string[];
  /** Shapes for the header, e.g. { x: [B, T, C] }. */
  shapes: Record<string, readonly number[]>;
  /** Lines that say what the kernel computes and how (each becomes a `//   ` comment). */
  notes: string[];
  bindings: Bindings;
  /** Workgroup size and dispatch grid: a grid's or linear's Launch, or written out. */
  launch: LaunchSize;
  flops: number;
  bytes?: number;
  /** Helper functions and module-scope declarations, after the bindings. */
  prelude?: string;
  /** The entry point, complete with attributes. */
  main: string;
  enables?: string[];
  workgroupStorageBytes?: number;
}

export function assemble(a: Assembly): WgslKernel {
  const bytes = a.bytes ?? a.bindings.bytes();
  const shapes = Object.entries(a.shapes)
    .map(([k, s]) => `${k} [${s.join(', ')}]`)
    .join(', ');
  const head = [
    `// generated by mspec — ${a.entryPoint}: fuses ${a.fuses.length ? a.fuses.join(', ') : 'no IR op (plumbing)'}; shapes ${shapes}; FLOPs ${a.flops}; bytes ${bytes}`,
    ...a.notes.map((n) => `//   ${n}`),
  ].join('\n');
  const code = [
    head,
    ...(a.enables?.length ? a.enables.map((e) => `enable ${e};`) : []),
    '',
    a.bindings.wgsl(),
    '',
    ...(a.prelude ? [a.prelude, ''] : []),
    a.main,
    '',
  ].join('\n');
  const storage = a.bindings.list.filter((b) => b.access !== 'uniform');
  return {
    code,
    entryPoint: a.entryPoint,
    workgroupSize: a.launch.workgroupSize,
    dispatch: a.launch.dispatch,
    bindings: a.bindings.list,
    flops: a.flops,
    bytes,
    fuses: a.fuses,
    limits: {
      maxStorageBufferBindingSize: Math.max(0, ...storage.map((b) => b.bytes)),
      maxStorageBuffersPerShaderStage: storage.length,
      maxComputeInvocationsPerWorkgroup: product(a.launch.workgroupSize),
      maxComputeWorkgroupStorageSize: a.workgroupStorageBytes ?? 0,
    },
    features: a.enables ?? [],
  };
}
