/**
 * Runs a generated matmul on the real adapter and computes the float64 reference, for the
 * kernel tests. Buffers are destroyed after each run so one device serves the whole file.
 */
import { bindKernel, compileKernel, encodeKernel, readBuffer, uploadBuffer } from '../../runtime/device.js';
import { activationReference, type Activation } from '../../compiler/codegen/wgsl/epilogue.js';
import { dfnReference } from '../../compiler/codegen/wgsl/kernels/backward/elementwise-bwd.js';
import type { ElementwiseFn } from '../../compiler/codegen/wgsl/kernels/activation-fns.js';
import type { GeneratedKernel, MatmulSpec } from '../../compiler/codegen/wgsl/matmul.js';

export interface MatmulInputs { A: Float32Array; B: Float32Array; bias?: Float32Array; gate?: Float32Array }

/** Deterministic uniform(-1, 1) values (xorshift32), so failures reproduce. */
export function randomArray(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
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
  const { M, N, K } = spec;
  const batch = spec.batch ?? 1, variant = spec.variant ?? 'nn';
  const act = activationReference(spec.activation ?? 'none');
  const g = spec.gate?.fn;
  // 'dgelu' etc.: the activation's derivative (the fused activation backward of training).
  const gateFn = g === undefined ? null : g.startsWith('d') ? dfnReference(g.slice(1) as ElementwiseFn) : activationReference(g as Activation);
  if (gateFn && !x.gate) throw new Error('referenceMatmul: a gated spec needs inputs.gate');
  const C = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const a0 = z * M * K, b0 = z * K * N, c0 = z * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = variant === 'tn' ? x.A[a0 + k * M + m]! : x.A[a0 + m * K + k]!;
          const b = variant === 'nt' ? x.B[b0 + n * K + k]! : x.B[b0 + k * N + n]!;
          s += a * b;
        }
        const y = s + (x.bias ? x.bias[n]! : 0);
        C[c0 + m * N + n] = gateFn ? gateFn(x.gate![c0 + m * N + n]!) * y : act(y);
      }
    }
  }
  return C;
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
export const CORE_SHAPES: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [65, 127, 33], [128, 256, 64]];

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

/** Tolerance for inputs in (-1, 1): see the test files' headers. */
export const tolerance = (K: number) => 1e-4 * Math.sqrt(K);
