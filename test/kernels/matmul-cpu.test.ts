/**
 * The 'cpu' matmul tuning on the real adapter (lavapipe here and in CI; no mocked GPU),
 * against a float64 CPU reference, with and without subgroups.
 * Inputs are uniform(-1, 1); the tolerance is relative to the float64 reference, per element
 * |C_gpu - C_ref| <= 5e-7 + 2^-20·(Σ|a·b| + |bias|)·|act'| (matmul-harness.ts MATMUL_TOL):
 * f32 accumulation errs in proportion to the summed magnitude; the activations add a few
 * f32 ulps, and the erf approximation at most 7.5e-8·|x|. Tight enough that tanh-GELU in
 * place of exact GELU fails (matmul-activations.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { generateMatmul, type MatmulSpec, type MatmulVariant } from '../../compiler/codegen/wgsl/matmul.js';
import { CORE_SHAPES, EPILOGUES, inputsFor, matmulCheck } from './matmul-harness.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

const VARIANTS: MatmulVariant[] = ['nn', 'nt', 'tn'];
// Shapes that reach the vec4 paths and the k tails, on top of CORE_SHAPES (whose odd sizes
// reach the scalar and clamped paths). Per variant, to keep the number of compiled kernels
// (about 1 s of LLVM time each on lavapipe) down.
const ALL_VEC4: [number, number, number] = [16, 32, 24]; // every dimension a multiple of 8: no tails
const VEC_TAIL: [number, number, number] = [9, 20, 12]; // K % 8 == 4 and an M tail
const K_ODD: [number, number, number] = [3, 8, 30]; // K % 4 == 2 with N % 4 == 0: scalar along K, vec4 C
const EXTRA_SHAPES: Record<MatmulVariant, [number, number, number][]> = {
  nn: [ALL_VEC4, VEC_TAIL],
  nt: [ALL_VEC4, K_ODD],
  tn: [VEC_TAIL, K_ODD],
};

async function check(spec: MatmulSpec, seed: number): Promise<void> {
  const kernel = generateMatmul(spec);
  const x = inputsFor(kernel, seed);
  const { excess, message } = await matmulCheck(gpu.device, kernel, spec, x);
  expect(excess, message).toBeLessThanOrEqual(1); // fails on NaN too
}

describe("'cpu' matmul matches the float64 reference", () => {
  VARIANTS.forEach((variant, v) => {
    const shapes = [...CORE_SHAPES, ...EXTRA_SHAPES[variant]];
    it(`with subgroups, ${variant}: ${shapes.map((s) => s.join('×')).join(', ')}`, async (ctx) => {
      if (gpu.subgroupMinSize < 8) ctx.skip(); // adapter without subgroups: the next test covers it
      for (const [s, [M, N, K]] of shapes.entries()) {
        await check(
          { M, N, K, variant, ...EPILOGUES[(s + v) % EPILOGUES.length], tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize },
          10 * v + s,
        );
      }
    });

    const plain = [[7, 13, 5], variant === 'nn' ? [128, 256, 64] : EXTRA_SHAPES[variant][0]!];
    it(`without subgroups, ${variant}: ${plain.map((s) => s.join('×')).join(', ')}`, async () => {
      for (const [s, [M, N, K]] of plain.entries()) {
        await check({ M: M!, N: N!, K: K!, variant, ...EPILOGUES[(s + v + 1) % EPILOGUES.length], tuning: 'cpu' }, 50 + 10 * v + s);
      }
    });
  });

  it('batched (dispatch z), one variant each way', async () => {
    await check(
      { M: 9, N: 12, K: 20, batch: 3, variant: 'nt', bias: true, activation: 'relu', tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize },
      90,
    );
    await check({ M: 5, N: 6, K: 7, batch: 2, variant: 'tn', tuning: 'cpu' }, 91);
  });
});
