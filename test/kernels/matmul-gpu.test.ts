/**
 * The 'gpu' (shared-memory tiled) matmul tuning, run on whatever adapter there is (lavapipe
 * in CI: slow there, but correctness does not depend on the adapter), against a float64
 * reference. Tolerance as in matmul-cpu.test.ts (relative to the float64 reference).
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

async function check(spec: MatmulSpec, seed: number): Promise<void> {
  const kernel = generateMatmul(spec);
  const x = inputsFor(kernel, seed);
  const { excess, message } = await matmulCheck(gpu.device, kernel, spec, x);
  expect(excess, message).toBeLessThanOrEqual(1); // fails on NaN too
}

describe("'gpu' matmul matches the float64 reference", () => {
  (['nn'] as MatmulVariant[]).forEach((variant, v) => {
    it(`${variant}: ${CORE_SHAPES.map((s) => s.join('×')).join(', ')}`, async () => {
      for (const [s, [M, N, K]] of CORE_SHAPES.entries()) {
        await check({ M, N, K, variant, ...EPILOGUES[(s + v) % EPILOGUES.length], tuning: 'gpu' }, 100 + 10 * v + s);
      }
    });
  });

  it('batched (dispatch z)', async () => {
    await check({ M: 70, N: 9, K: 20, batch: 2, variant: 'nn', bias: true, activation: 'gelu', tuning: 'gpu' }, 190);
  });
});
