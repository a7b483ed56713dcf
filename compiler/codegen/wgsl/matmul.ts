/**
 * WGSL matmul kernels specialised to constant shapes:
 *
 *   variant 'nn':  C[M,N] = A[M,K] · B[K,N]
 *   variant 'nt':  C[M,N] = A[M,K] · Bᵀ, B stored [N,K]   (tied LM head, dX = dY · Wᵀ)
 *   variant 'tn':  C[M,N] = Aᵀ · B,  A stored [K,M]       (weight gradients dW = Xᵀ · dY)
 *
 * then C += bias[N] (optional) and C = act(C) (none | relu | gelu_tanh | gelu | silu), optionally
 * `batch` independent matmuls laid out one after another (A, B and C each contiguous per
 * batch entry; bias shared). All buffers are row-major f32. Correct for any M, N, K >= 1.
 *
 * Gated epilogue (GLU MLPs: SwiGLU 'silu', GeGLU 'gelu' / 'gelu_tanh', ReGLU 'relu'):
 * with `gate: { fn }`, C = fn(G) · (A·B + bias) elementwise, G an extra read-only input
 * `gate` laid out exactly like C ([M, N], or [batch, M, N]). It replaces the activation
 * (the two are mutually exclusive), so the up projection and the GLU product are one kernel.
 *
 * Two tunings, chosen from the adapter class (runtime/device.ts → adapterClass):
 *  - 'cpu' (lavapipe/llvmpipe): register blocking, no shared memory, no barriers
 *    (matmul-cpu.ts). Measured tuning notes are in that file.
 *  - 'gpu': a classic shared-memory tiled kernel (matmul-gpu.ts).
 *
 * Every access is in bounds by construction (tails are clamped on read and guarded on
 * write), so kernels are safe to run with Dawn's robustness transform disabled.
 */
import { activationWgsl, gateWgsl, GATE_FNS, type Activation, type GateFn } from './epilogue.js';
import { emitCpuMatmul, cpuMatmulGeometry, DEFAULT_CPU_TILE, type CpuTile } from './matmul-cpu.js';
import { emitGpuMatmul, gpuMatmulGeometry } from './matmul-gpu.js';
import { MAX_WORKGROUPS_PER_DIM, product } from './kernels/common.js';

export type { Activation, GateFn } from './epilogue.js';
export type { CpuTile } from './matmul-cpu.js';
// Shared with the emitters (matmul-cpu.ts, matmul-gpu.ts), which must not import this file.
import type { WgslKernel } from './kernel-types.js';
import type { KernelTuning, MatmulVariant, ResolvedMatmul } from './matmul-types.js';
export type { KernelGeometry, KernelTuning, MatmulVariant, ResolvedMatmul } from './matmul-types.js';

/**
 * A matmul whose grid exceeds WebGPU's maxComputeWorkgroupsPerDimension: the shapes a user
 * chose (batch × sequence rows) are too large for one dispatch. Planning stops with it and the
 * CLI reports it as the device limit it is (MS4002), naming the rows.
 */
export class DispatchLimitError extends Error {
  constructor(
    readonly kernel: string,
    readonly axis: number,
    readonly workgroups: number,
    readonly rows: number,
  ) {
    super(`matmul ${kernel}: needs ${workgroups} workgroups along dispatch axis ${axis}, over WebGPU's ${MAX_WORKGROUPS_PER_DIM}`);
  }

  /** The MS4002 arguments: what overflows and what to do. */
  get problem(): { limit: string; have: string; needs: string; hint: string } {
    return {
      limit: 'maxComputeWorkgroupsPerDimension',
      have: `${MAX_WORKGROUPS_PER_DIM}`,
      needs: `${this.kernel} over ${this.rows.toLocaleString('en-US')} rows needs ${this.workgroups.toLocaleString('en-US')} workgroups along one axis`,
      hint: 'use a smaller batch (--batch) or sequence length; gradient accumulation keeps the tokens per step',
    };
  }
}

export interface MatmulSpec {
  M: number;
  N: number;
  K: number;
  /** Default 'nn'. */
  variant?: MatmulVariant;
  /** Add bias[N] before the activation. */
  bias?: boolean;
  /** Default 'none'. Mutually exclusive with `gate` (unless 'none'). */
  activation?: Activation;
  /**
   * Gated epilogue: C = fn(gate) · (A·B + bias), `gate` an extra input binding shaped like C.
   * The IR's `glu` op fused into the matmul that computes its `up` operand.
   */
  gate?: { fn: GateFn };
  /** Independent matmuls in one dispatch (dispatch z). Default 1. */
  batch?: number;
  tuning: KernelTuning;
  /**
   * The device's minimum subgroup size when the 'subgroups' feature is enabled on it
   * (GpuContext.subgroupMinSize); 0 or absent: the kernel uses no subgroup operations.
   */
  subgroupMinSize?: number;
  /** Override the 'cpu' register tile (for tuning experiments). */
  cpuTile?: Partial<CpuTile>;
  /** Name used for the entry point, e.g. 'matmul_qkv'. Default 'matmul'. */
  name?: string;
}

export interface KernelBinding {
  group: 0;
  binding: number;
  name: 'A' | 'B' | 'bias' | 'gate' | 'C';
  access: 'read' | 'read_write';
  /** Logical shape including the batch dimension when batch > 1 (bias: [N]; gate: as C). */
  shape: number[];
  /** Bytes the buffer must hold (at least). */
  bytes: number;
}

/**
 * A matmul kernel is a WgslKernel like every other: bindings in list order A, B, bias (if
 * any), gate (if any), C; flops = 2·M·N·K·batch (the epilogue is not counted); bytes = every
 * input (gate included) read once and C written once; fuses = ['linear'], ['linear',
 * <activation>] with an activation epilogue, ['linear', 'glu'] with a gate.
 */
export interface GeneratedKernel extends WgslKernel {
  bindings: KernelBinding[];
}

function resolve(spec: MatmulSpec): ResolvedMatmul {
  for (const d of ['M', 'N', 'K'] as const) {
    const v = spec[d];
    if (!Number.isInteger(v) || v < 1) throw new Error(`matmul: ${d} must be an integer >= 1, got ${v}`);
  }
  const batch = spec.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`matmul: batch must be an integer >= 1, got ${batch}`);
  const entryPoint = spec.name ?? 'matmul';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(entryPoint)) throw new Error(`matmul: name '${entryPoint}' is not a WGSL identifier`);
  const activation = spec.activation ?? 'none';
  const gate = spec.gate ? spec.gate.fn : null;
  if (gate !== null) {
    if (!GATE_FNS.includes(gate)) {
      throw new Error(`matmul ${entryPoint}: unknown gate function '${String(gate)}' (one of ${GATE_FNS.join(', ')})`);
    }
    if (activation !== 'none') {
      throw new Error(
        `matmul ${entryPoint}: 'gate' and 'activation' are mutually exclusive ` +
          `(got gate ${gate} and activation ${activation}); the gate function is the GLU's activation`,
      );
    }
  }
  return {
    M: spec.M,
    N: spec.N,
    K: spec.K,
    variant: spec.variant ?? 'nn',
    bias: spec.bias ?? false,
    activation,
    gate,
    batch,
    tuning: spec.tuning,
    entryPoint,
    subgroupMinSize: spec.subgroupMinSize ?? 0,
  };
}

function shapes(r: ResolvedMatmul): { A: number[]; B: number[]; C: number[] } {
  const b = r.batch > 1 ? [r.batch] : [];
  return {
    A: [...b, ...(r.variant === 'tn' ? [r.K, r.M] : [r.M, r.K])],
    B: [...b, ...(r.variant === 'nt' ? [r.N, r.K] : [r.K, r.N])],
    C: [...b, r.M, r.N],
  };
}

function bindingsOf(r: ResolvedMatmul): KernelBinding[] {
  const s = shapes(r);
  const size = (shape: number[]) => 4 * product(shape);
  const list: KernelBinding[] = [
    { group: 0, binding: 0, name: 'A', access: 'read', shape: s.A, bytes: size(s.A) },
    { group: 0, binding: 1, name: 'B', access: 'read', shape: s.B, bytes: size(s.B) },
  ];
  if (r.bias) list.push({ group: 0, binding: 2, name: 'bias', access: 'read', shape: [r.N], bytes: 4 * r.N });
  // gate takes binding 4 so that C keeps binding 3 in every kernel.
  if (r.gate) list.push({ group: 0, binding: 4, name: 'gate', access: 'read', shape: s.C, bytes: size(s.C) });
  list.push({ group: 0, binding: 3, name: 'C', access: 'read_write', shape: s.C, bytes: size(s.C) });
  return list;
}

const VARIANT_TEXT: Record<MatmulVariant, string> = {
  nn: 'C[M,N] = A[M,K] · B[K,N]',
  nt: 'C[M,N] = A[M,K] · B[N,K]ᵀ',
  tn: 'C[M,N] = A[K,M]ᵀ · B[K,N]',
};

/** The product in the short form used by the gated epilogue line: A·B, A·Bᵀ, Aᵀ·B. */
const VARIANT_SHORT: Record<MatmulVariant, string> = { nn: 'A·B', nt: 'A·Bᵀ', tn: 'Aᵀ·B' };

function header(r: ResolvedMatmul, flops: number, bytes: number, tuningNote: string): string {
  const s = shapes(r);
  const bias = r.bias ? ' + bias[N]' : '';
  const what = r.gate
    ? `C[M,N] = ${r.gate}(gate[M,N]) · (${VARIANT_TEXT[r.variant].slice('C[M,N] = '.length)}${bias})`
    : `${VARIANT_TEXT[r.variant]}${bias}${r.activation !== 'none' ? `, then ${r.activation}` : ''}`;
  const fmt = (n: number) => n.toLocaleString('en-US');
  const lines = [
    `// Generated by mspec (compiler/codegen/wgsl/matmul.ts). Do not edit.`,
    `// ${r.entryPoint}: ${what}${r.batch > 1 ? `, for each of ${r.batch} batch entries` : ''}`,
    `//   M=${r.M} N=${r.N} K=${r.K}${r.batch > 1 ? ` batch=${r.batch}` : ''}; row-major f32;` +
      ` A ${JSON.stringify(s.A)}, B ${JSON.stringify(s.B)}, C ${JSON.stringify(s.C)}${r.bias ? `, bias [${r.N}]` : ''}` +
      `${r.gate ? `, gate ${JSON.stringify(s.C)}` : ''}`,
    `//   FLOPs: ${fmt(flops)} (2·M·N·K${r.batch > 1 ? '·batch' : ''}${r.gate ? '; the gated epilogue is not counted' : ''});` +
      ` bytes moved (each input read once, C written once): ${fmt(bytes)}`,
    `//   tuning: ${tuningNote}`,
  ];
  if (r.gate) {
    lines.push(
      `//   epilogue: C = ${r.gate}(gate) · (${VARIANT_SHORT[r.variant]}${r.bias ? ' + bias' : ''})` +
        ` (gated linear unit; gate read once per element of C, laid out like C)`,
    );
  }
  return lines.join('\n');
}

/**
 * Generates the kernel for `spec`. Bindings, all in group 0, listed in this order:
 * A=0, B=1, bias=2 (if any), gate=4 (if any), C=3.
 */
export function generateMatmul(spec: MatmulSpec): GeneratedKernel {
  const r = resolve(spec);
  const bindings = bindingsOf(r);
  const flops = 2 * r.M * r.N * r.K * r.batch;
  const bytes = bindings.reduce((sum, b) => sum + b.bytes, 0);
  const geometry = r.tuning === 'cpu' ? cpuMatmulGeometry(r, { ...DEFAULT_CPU_TILE, ...spec.cpuTile }) : gpuMatmulGeometry(r);
  for (const [axis, n] of geometry.dispatch.entries()) {
    if (n > MAX_WORKGROUPS_PER_DIM) {
      throw new DispatchLimitError(r.entryPoint, axis, n, r.M);
    }
  }
  const { enables, body } =
    r.tuning === 'cpu' ? emitCpuMatmul(r, { ...DEFAULT_CPU_TILE, ...spec.cpuTile }) : { enables: [], body: emitGpuMatmul(r) };
  const code = [
    header(r, flops, bytes, geometry.note),
    ...enables,
    '',
    r.gate ? gateWgsl(r.gate) : activationWgsl(r.activation),
    '',
    body,
    '',
  ].join('\n');
  const fuses = r.gate?.startsWith('d')
    ? ['linear_backward', `${r.gate.slice(1)}_backward`]
    : ['linear', ...(r.gate ? ['glu'] : r.activation !== 'none' ? [r.activation] : [])];
  return {
    code,
    entryPoint: r.entryPoint,
    workgroupSize: geometry.workgroupSize,
    dispatch: geometry.dispatch,
    bindings,
    flops,
    bytes,
    fuses,
    limits: {
      maxStorageBufferBindingSize: Math.max(...bindings.map((b) => b.bytes)),
      maxStorageBuffersPerShaderStage: bindings.length,
      maxComputeInvocationsPerWorkgroup: product(geometry.workgroupSize),
      maxComputeWorkgroupStorageSize: geometry.workgroupStorageBytes,
    },
    features: enables.map((e) => e.replace(/^enable (\w+);$/, '$1')),
  };
}
