/**
 * The 'gpu' (shared-memory tiled) matmul tuning, run on whatever adapter there is (lavapipe
 * in CI: slow there, but correctness does not depend on the adapter), against a float64
 * reference. Tolerance as in matmul-cpu.test.ts: max abs error <= 1e-4 · sqrt(K).
 * The transposed variants; split from matmul-gpu.test.ts so the files run in parallel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { generateMatmul, type MatmulSpec, type MatmulVariant } from '../../compiler/codegen/wgsl/matmul.js';
import { CORE_SHAPES, EPILOGUES, inputsFor, maxAbsError, referenceMatmul, runMatmul, tolerance } from './matmul-harness.js';

let gpu: GpuContext;
beforeAll(async () => { gpu = await acquireDevice(); });
afterAll(() => gpu?.release());

async function check(spec: MatmulSpec, seed: number): Promise<void> {
  const kernel = generateMatmul(spec);
  const x = inputsFor(kernel, seed);
  const err = maxAbsError(await runMatmul(gpu.device, kernel, x), referenceMatmul(spec, x));
  expect(err, `${JSON.stringify(spec)}: max abs error`).toBeLessThanOrEqual(tolerance(spec.K));
}

describe("'gpu' matmul, transposed variants, matches the float64 reference", () => {
  (['nt', 'tn'] as MatmulVariant[]).forEach((variant, v) => {
    it(`${variant}: ${CORE_SHAPES.map((s) => s.join('×')).join(', ')}`, async () => {
      for (const [s, [M, N, K]] of CORE_SHAPES.entries()) {
        await check({ M, N, K, variant, ...EPILOGUES[(s + v + 1) % EPILOGUES.length], tuning: 'gpu' }, 110 + 10 * v + s);
      }
    });
  });

});
