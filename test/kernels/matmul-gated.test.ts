/**
 * The gated matmul epilogue, C = fn(gate) · (A·B + bias) (SwiGLU / GeGLU / ReGLU up
 * projections), on the real adapter (lavapipe here and in CI; no mocked GPU), against a
 * float64 CPU reference, for both tunings.
 * Tolerance as in matmul-cpu.test.ts: max |C_gpu - C_ref| <= 1e-4 · sqrt(K). The gate is
 * uniform(-1, 1), so |fn(gate)| < 1 does not magnify the matmul's error, and fn itself adds
 * a few f32 ulps (the erf approximation at most 7.5e-8·|gate|).
 * Options rotate across shapes instead of taking the full cross product: each distinct
 * kernel costs 0.5-3 s of LLVM time on lavapipe. Every gate function meets both tunings,
 * both the nt and nn variants, and runs with and without bias.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { generateMatmul, type KernelTuning, type MatmulSpec, type MatmulVariant } from '../../compiler/codegen/wgsl/matmul.js';
import { GATE_FNS } from '../../compiler/codegen/wgsl/epilogue.js';
import { inputsFor, maxAbsError, referenceMatmul, runMatmul, tolerance } from './matmul-harness.js';

let gpu: GpuContext;
beforeAll(async () => { gpu = await acquireDevice(); });
afterAll(() => gpu?.release());

// Odd sizes reach the clamped/guarded scalar-column paths; 1×64×32 the vec4 paths with a
// single row (every other row of the tile a tail).
const SHAPES: [number, number, number][] = [[7, 13, 5], [65, 127, 33], [1, 64, 32]];
const TUNINGS: KernelTuning[] = ['cpu', 'gpu'];
const VARIANTS: MatmulVariant[] = ['nt', 'nn'];

async function check(spec: MatmulSpec, seed: number): Promise<void> {
  const kernel = generateMatmul(spec);
  expect(kernel.fuses).toEqual(['linear', 'glu']);
  const x = inputsFor(kernel, seed);
  expect(x.gate, 'the kernel has a gate binding').toBeDefined();
  const err = maxAbsError(await runMatmul(gpu.device, kernel, x), referenceMatmul(spec, x));
  expect(err, `${JSON.stringify(spec)}: max abs error`).toBeLessThanOrEqual(tolerance(spec.K));
}

describe('gated matmul (C = fn(gate) · (A·B + bias)) matches the float64 reference', () => {
  TUNINGS.forEach((tuning, t) => {
    VARIANTS.forEach((variant, v) => {
      // (s + 2v + t) % 4: over the four (tuning, variant) pairs every gate function runs
      // three times, on different shapes; bias alternates so each function runs both ways.
      const cases = SHAPES.map(([M, N, K], s) => ({
        M, N, K, fn: GATE_FNS[(s + 2 * v + t) % GATE_FNS.length]!, bias: (s + v + t) % 2 === 0,
      }));
      const label = cases.map((c) => `${c.M}×${c.N}×${c.K} ${c.fn}${c.bias ? '+bias' : ''}`).join(', ');
      it(`'${tuning}' ${variant}: ${label}`, async () => {
        for (const [s, c] of cases.entries()) {
          const sg = tuning === 'cpu' ? { subgroupMinSize: gpu.subgroupMinSize } : {};
          await check({ M: c.M, N: c.N, K: c.K, variant, bias: c.bias, gate: { fn: c.fn }, tuning, ...sg }, 300 + 20 * t + 10 * v + s);
        }
      });
    });
  });

  it("'cpu' without subgroups, and the tn variant", async () => {
    await check({ M: 65, N: 127, K: 33, variant: 'nt', bias: true, gate: { fn: 'gelu' }, tuning: 'cpu' }, 350);
    await check({ M: 7, N: 13, K: 5, variant: 'tn', gate: { fn: 'silu' }, tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize }, 351);
  });

  it('batched: the gate is per batch entry, laid out like C', async () => {
    await check({ M: 9, N: 12, K: 20, batch: 3, variant: 'nt', bias: true, gate: { fn: 'silu' }, tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize }, 360);
    await check({ M: 7, N: 13, K: 5, batch: 2, variant: 'tn', gate: { fn: 'gelu_tanh' }, tuning: 'gpu' }, 361);
  });
});
