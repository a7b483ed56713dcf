/**
 * Each epilogue activation and gate function of the matmul, at a size where the tolerance
 * can tell them apart: K = 16 with inputs in (−1, 1) puts the pre-activations over about
 * (−4, 4), where exact GELU and its tanh approximation differ by up to 4.7e-4 while the
 * tolerance (matmul-harness.ts MATMUL_TOL, relative to the float64 reference) is ~5e-6.
 * Every case also checks, on the CPU, that the reference of any *other* function on the same
 * inputs would fail that tolerance — so a kernel that swapped exact GELU for tanh-GELU (or
 * any pair) could not pass. (The old 1e-4·√K tolerance let that swap pass from K ≈ 24.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPILOGUE_ACTIVATIONS, GATE_FNS, type Activation, type GateFn } from '../../compiler/codegen/wgsl/epilogue.js';
import { generateMatmul, type KernelTuning, type MatmulSpec } from '../../compiler/codegen/wgsl/matmul.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { inputsFor, matmulCheck, matmulExcess, referenceWithScale } from './matmul-harness.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

const SHAPE = { M: 8, N: 16, K: 16 };
/**
 * The gated kernels at 8×16×16 took lavapipe minutes on a loaded machine; 7×13×5 is the shape
 * matmul-gated.test.ts runs in ~2 s. The gate input, not A·B, carries the range here (below).
 */
const GATE_SHAPE = { M: 7, N: 13, K: 5 };

/** The smallest excess any other function's exact output would have against `spec`'s tolerance. */
function swapMargin(spec: MatmulSpec, others: MatmulSpec[], x: ReturnType<typeof inputsFor>): number {
  const ref = referenceWithScale(spec, x);
  return Math.min(...others.map((o) => matmulExcess(Float32Array.from(referenceWithScale(o, x).C), ref).excess));
}

describe('matmul epilogue functions are told apart by the tolerance', () => {
  const acts = EPILOGUE_ACTIVATIONS.filter((a): a is Exclude<Activation, 'none'> => a !== 'none');
  it.each(['cpu', 'gpu'] as KernelTuning[])(
    'activations, tuning %s',
    async (tuning) => {
      for (const [i, activation] of acts.entries()) {
        // The 'gpu' tuning compiles slowly on lavapipe: only the two GELUs there.
        if (tuning === 'gpu' && !activation.startsWith('gelu')) continue;
        const spec: MatmulSpec = { ...SHAPE, variant: 'nt', bias: i % 2 === 0, activation, tuning };
        const kernel = generateMatmul(spec);
        const x = inputsFor(kernel, 300 + i);
        const margin = swapMargin(
          spec,
          acts.filter((a) => a !== activation).map((a) => ({ ...spec, activation: a })),
          x,
        );
        expect(margin, `${activation}: another activation would pass`).toBeGreaterThan(4);
        const { excess, message } = await matmulCheck(gpu.device, kernel, spec, x);
        expect(excess, message).toBeLessThanOrEqual(1);
      }
    },
    300_000,
  );

  // Every gate function's swap margin is checked (on the CPU); only the two GELU gates run
  // on the GPU here (the pair a swap would confuse; all gates, derivatives included, run in
  // matmul-gated.test.ts under the same tolerance): gated kernels are slow to build on lavapipe.
  it('gate functions (cpu): every swap is caught; gelu and gelu_tanh on the GPU', async () => {
    const fns = GATE_FNS as readonly GateFn[];
    for (const [i, fn] of fns.entries()) {
      const spec: MatmulSpec = { ...GATE_SHAPE, variant: 'nt', bias: i % 2 === 1, gate: { fn }, tuning: 'cpu' };
      const kernel = generateMatmul(spec);
      const x = inputsFor(kernel, 400 + i);
      // The gate input is uniform(−1, 1): scale it to (−4, 4) so the GELUs differ there too.
      x.gate = x.gate!.map((g) => 4 * g);
      const margin = swapMargin(
        spec,
        fns.filter((f) => f !== fn).map((f) => ({ ...spec, gate: { fn: f } })),
        x,
      );
      expect(margin, `${fn}: another gate function would pass`).toBeGreaterThan(4);
      if (fn !== 'gelu' && fn !== 'gelu_tanh') continue;
      const { excess, message } = await matmulCheck(gpu.device, kernel, spec, x);
      expect(excess, message).toBeLessThanOrEqual(1);
    }
  }, 300_000);
});
