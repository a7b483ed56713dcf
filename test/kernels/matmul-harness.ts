/**
 * Runs a generated matmul on the real adapter and computes the float64 reference, for the
 * kernel tests. Buffers are destroyed after each run so one device serves the whole file.
 */
import { bindKernel, compileKernel, encodeKernel, readBuffer, uploadBuffer } from '../../runtime/device.js';
import type { Activation } from '../../compiler/codegen/wgsl/epilogue.js';
import { ACTIVATIONS } from '../../compiler/ir/activations.js';
import type { Act } from '../../compiler/ir/ops.js';

/** The float64 definition of an epilogue activation ('none': identity). */
const activationReference = (a: Activation) => (a === 'none' ? (x: number) => x : ACTIVATIONS[a].f);
import type { GeneratedKernel, MatmulSpec } from '../../compiler/codegen/wgsl/matmul.js';

export interface MatmulInputs {
  A: Float32Array;
  B: Float32Array;
  bias?: Float32Array;
  gate?: Float32Array;
}

/** Deterministic uniform(-1, 1) values (xorshift32), so failures reproduce. */
export function randomArray(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export function inputsFor(kernel: GeneratedKernel, seed: number): MatmulInputs {
  const size = (name: string) => kernel.bindings.find((b) => b.name === name)!.bytes / 4;
  const inputs: MatmulInputs = { A: randomArray(size('A'), seed), B: randomArray(size('B'), seed + 1) };
  if (kernel.bindings.some((b) => b.name === 'bias')) inputs.bias = randomArray(size('bias'), seed + 2);
  if (kernel.bindings.some((b) => b.name === 'gate')) inputs.gate = randomArray(size('gate'), seed + 3);
  return inputs;
}

/** C in float64, straight from the definition (variant, batch, bias, activation or gate). */
export function referenceMatmul(spec: MatmulSpec, x: MatmulInputs): Float64Array {
  return referenceWithScale(spec, x).C;
}

/**
 * C in float64, and for each element the scale its f32 rounding error grows with:
 * (Σ_k |a·b| + |bias|) times the largest slope the epilogue applies to it (|act'| ≤ 1.13 for
 * GELU/SiLU, so 1.2; a gate multiplies by |fn(gate)| and adds fn's own error times |y|).
 */
export function referenceWithScale(spec: MatmulSpec, x: MatmulInputs): { C: Float64Array; scale: Float64Array } {
  const { M, N, K } = spec;
  const batch = spec.batch ?? 1,
    variant = spec.variant ?? 'nn';
  const act = activationReference(spec.activation ?? 'none');
  const g = spec.gate?.fn;
  // 'dgelu' etc.: the activation's derivative (the fused activation backward of training).
  const gateFn = g === undefined ? null : g.startsWith('d') ? ACTIVATIONS[g.slice(1) as Act].df : ACTIVATIONS[g as Act].f;
  if (gateFn && !x.gate) throw new Error('referenceMatmul: a gated spec needs inputs.gate');
  const C = new Float64Array(batch * M * N);
  const scale = new Float64Array(batch * M * N);
  const slope = (spec.activation ?? 'none') === 'none' || spec.activation === 'relu' ? 1 : 1.2;
  for (let z = 0; z < batch; z++) {
    const a0 = z * M * K,
      b0 = z * K * N,
      c0 = z * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0,
          mag = 0;
        for (let k = 0; k < K; k++) {
          const a = variant === 'tn' ? x.A[a0 + k * M + m]! : x.A[a0 + m * K + k]!;
          const b = variant === 'nt' ? x.B[b0 + n * K + k]! : x.B[b0 + k * N + n]!;
          s += a * b;
          mag += Math.abs(a * b);
        }
        const bias = x.bias ? x.bias[n]! : 0;
        const y = s + bias;
        mag += Math.abs(bias);
        const i = c0 + m * N + n;
        if (gateFn) {
          const g = gateFn(x.gate![i]!);
          C[i] = g * y;
          scale[i] = mag * Math.max(Math.abs(g), 1e-3) + Math.abs(y) * Math.max(Math.abs(g), 1);
        } else {
          C[i] = act(y);
          scale[i] = mag * slope;
        }
      }
    }
  }
  return { C, scale };
}

export async function runMatmul(device: GPUDevice, kernel: GeneratedKernel, x: MatmulInputs): Promise<Float32Array> {
  const bytesC = kernel.bindings.find((b) => b.name === 'C')!.bytes;
  const buffers: Record<string, GPUBuffer> = {
    A: uploadBuffer(device, x.A, 'A'),
    B: uploadBuffer(device, x.B, 'B'),
    C: device.createBuffer({ size: bytesC, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: 'C' }),
  };
  if (x.bias) buffers.bias = uploadBuffer(device, x.bias, 'bias');
  if (x.gate) buffers.gate = uploadBuffer(device, x.gate, 'gate');
  try {
    const pipeline = await compileKernel(device, kernel);
    const encoder = device.createCommandEncoder();
    encodeKernel(encoder, pipeline, bindKernel(device, pipeline, kernel, buffers), kernel);
    device.queue.submit([encoder.finish()]);
    return new Float32Array(await readBuffer(device, buffers.C!, bytesC));
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}

export function maxAbsError(got: Float32Array, want: Float64Array): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
  }
  return e;
}

/** The shapes every tuning and variant is checked on (the odd ones exercise every tail). */
export const CORE_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 127, 33],
  [128, 256, 64],
];

/**
 * Epilogues rotate over (shape, variant), so each epilogue meets every variant and both the
 * vec4-column (N % 4 == 0) and scalar-column paths without compiling every combination
 * (each distinct kernel costs ~1 s of LLVM time on lavapipe).
 */
export const EPILOGUES = [
  {},
  { bias: true, activation: 'relu' },
  { activation: 'gelu_tanh' },
  { bias: true, activation: 'gelu' },
  { activation: 'silu' },
] as const;

/**
 * The tolerance, relative to the float64 reference: |C_gpu − C_ref| ≤ MATMUL_TOL.abs +
 * MATMUL_TOL.rel · scale (see referenceWithScale). f32 accumulation of K products errs by
 * at most ~K·2⁻²⁴·Σ|a·b| in the worst order and ~√K·2⁻²⁴·Σ|a·b| typically; rel = 2⁻²⁰ (16 ulp
 * of the summed magnitude) covers K ≤ 256 with the tiled kernels' split sums, and abs covers
 * the A&S erfc in exact GELU (≤ 7.5e-8·|x|) and exp in SiLU/tanh-GELU near 0. For K = 33 and
 * inputs in (−1, 1) that is ~1e-5, where the old 1e-4·√K allowed 5.7e-4: more than the
 * largest gap between exact and tanh GELU (4.7e-4 at |x| ≈ 2.7).
 */
export const MATMUL_TOL = { abs: 5e-7, rel: 2 ** -20 } as const;

/** max over C of |got − ref| / (abs + rel·scale): ≤ 1 passes; NaN or ±∞ in `got` gives Infinity. */
export function matmulExcess(got: Float32Array, ref: { C: Float64Array; scale: Float64Array }): { excess: number; at: number } {
  let excess = 0,
    at = -1;
  for (let i = 0; i < ref.C.length; i++) {
    const d = Math.abs(got[i]! - ref.C[i]!);
    const e = Number.isFinite(d) ? d / (MATMUL_TOL.abs + MATMUL_TOL.rel * ref.scale[i]!) : Infinity;
    if (!(e <= excess)) {
      excess = e;
      at = i;
    }
  }
  return { excess, at };
}

/** Runs `kernel` on fresh inputs and returns how much of the tolerance its worst element uses. */
export async function matmulCheck(
  device: GPUDevice,
  kernel: GeneratedKernel,
  spec: MatmulSpec,
  x: MatmulInputs,
): Promise<{ excess: number; message: string }> {
  const got = await runMatmul(device, kernel, x);
  const ref = referenceWithScale(spec, x);
  const { excess, at } = matmulExcess(got, ref);
  if (process.env.KERNEL_TOL_REPORT) console.log(`${JSON.stringify(spec)}: ${(100 * excess).toFixed(1)}% of the tolerance`);
  return {
    excess,
    message: `${JSON.stringify(spec)}: element ${at}: got ${got[at]}, want ${ref.C[at]} (${excess.toFixed(2)}× the tolerance)`,
  };
}
