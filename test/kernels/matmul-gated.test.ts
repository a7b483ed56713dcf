/**
 * The gated matmul epilogue, C = fn(gate) · (A·B + bias) (SwiGLU / GeGLU / ReGLU up
 * projections), on the real adapter (lavapipe here and in CI; no mocked GPU), against a
 * float64 CPU reference, for both tunings.
 * Tolerance as in matmul-cpu.test.ts (relative to the float64 reference). The gate is
 * uniform(-1, 1), so |fn(gate)| < 1 does not magnify the matmul's error, and fn itself adds
 * a few f32 ulps (the erf approximation at most 7.5e-8·|gate|).
 * Options rotate across shapes instead of taking the full cross product: each distinct
 * kernel costs 0.5-3 s of LLVM time on lavapipe (9 kernels here). Every gate function meets
 * both tunings, both the nt and nn variants, and runs with and without bias (see CASES).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { generateMatmul, type KernelTuning, type MatmulSpec, type MatmulVariant } from '../../compiler/codegen/wgsl/matmul.js';
import { GATE_FNS, type GateFn } from '../../compiler/codegen/wgsl/epilogue.js';
import { inputsFor, matmulCheck } from './matmul-harness.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

// Odd sizes reach the clamped/guarded scalar-column paths; 1×64×32 the vec4 paths with a
// single row (every other row of the tile a tail).
const [S7, S65, S1]: [number, number, number][] = [
  [7, 13, 5],
  [65, 127, 33],
  [1, 64, 32],
];

interface Case {
  shape: [number, number, number];
  fn: GateFn;
  bias: boolean;
  batch?: number;
}
/**
 * Each gate function runs twice, once with bias and once without, on a diagonal of
 * (tuning × variant): silu and gelu on ('cpu', nt) and ('gpu', nn), gelu_tanh and relu on
 * ('cpu', nn) and ('gpu', nt); so every function meets both tunings and both variants. The
 * 'cpu' tuning runs all three shapes; the 'gpu' one not 1×64×32: with K = 32 (two of its
 * 16-wide K steps) that kernel took 6-9 s of CPU to compile on lavapipe, against 2-3 s at
 * K = 33 (likely the short constant-trip K loop being unrolled).
 * Two cases are batched (the gate is per batch entry, laid out like C; with N % 4 == 0 the
 * 'cpu' kernel reads it as vec4, so its batch offset is in vec4s). 8 kernels instead of 48.
 */
const CASES: [KernelTuning, MatmulVariant, Case[]][] = [
  [
    'cpu',
    'nt',
    [
      { shape: S7, fn: 'silu', bias: true },
      { shape: S65, fn: 'gelu', bias: false },
    ],
  ],
  [
    'cpu',
    'nn',
    [
      { shape: S1, fn: 'gelu_tanh', bias: true, batch: 2 },
      { shape: S7, fn: 'relu', bias: false },
    ],
  ],
  [
    'gpu',
    'nt',
    [
      { shape: S65, fn: 'relu', bias: true },
      { shape: S7, fn: 'gelu_tanh', bias: false },
    ],
  ],
  [
    'gpu',
    'nn',
    [
      { shape: S7, fn: 'gelu', bias: true, batch: 2 },
      { shape: S65, fn: 'silu', bias: false },
    ],
  ],
];

async function check(spec: MatmulSpec, seed: number): Promise<void> {
  const kernel = generateMatmul(spec);
  const fn = spec.gate!.fn;
  expect(kernel.fuses).toEqual(fn.startsWith('d') ? ['linear_backward', `${fn.slice(1)}_backward`] : ['linear', 'glu']);
  const x = inputsFor(kernel, seed);
  expect(x.gate, 'the kernel has a gate binding').toBeDefined();
  const { excess, message } = await matmulCheck(gpu.device, kernel, spec, x);
  expect(excess, message).toBeLessThanOrEqual(1); // fails on NaN too
}

describe('gated matmul (C = fn(gate) · (A·B + bias)) matches the float64 reference', () => {
  it('the cases cover every gate function with and without bias, both tunings and both variants', () => {
    for (const fn of GATE_FNS.filter((f) => !f.startsWith('d'))) {
      const uses = CASES.flatMap(([tuning, variant, cases]) =>
        cases.filter((c) => c.fn === fn).map((c) => ({ tuning, variant, bias: c.bias })),
      );
      expect(new Set(uses.map((u) => u.tuning)).size, fn).toBe(2);
      expect(new Set(uses.map((u) => u.variant)).size, fn).toBe(2);
      expect(new Set(uses.map((u) => u.bias)).size, fn).toBe(2);
    }
    const shapesOf = (tuning: KernelTuning) => new Set(CASES.filter((c) => c[0] === tuning).flatMap((c) => c[2].map((x) => x.shape)));
    expect(shapesOf('cpu').size).toBe(3);
    expect(shapesOf('gpu').size).toBe(2);
  });

  CASES.forEach(([tuning, variant, cases], i) => {
    const label = cases.map((c) => `${c.batch ? `${c.batch}×` : ''}${c.shape.join('×')} ${c.fn}${c.bias ? ' + bias' : ''}`).join(', ');
    it(`'${tuning}' ${variant}: ${label}`, async () => {
      for (const [
        s,
        {
          shape: [M, N, K],
          fn,
          bias,
          batch,
        },
      ] of cases.entries()) {
        // The 'cpu' tuning with subgroups where the adapter has them (the default path on lavapipe).
        const sg = tuning === 'cpu' ? { subgroupMinSize: gpu.subgroupMinSize } : {};
        await check({ M, N, K, variant, bias, gate: { fn }, tuning, ...sg, ...(batch ? { batch } : {}) }, 300 + 10 * i + s);
      }
    });
  });

  it("tn, on the 'cpu' tuning without subgroups", async () => {
    await check({ M: 7, N: 13, K: 5, variant: 'tn', bias: true, gate: { fn: 'silu' }, tuning: 'cpu' }, 360);
  });
});

// The derivative gates are the fused activation backward of training: C = act'(pre) · (dY · W).
describe("activation-backward gate (C = act'(gate) · (A·B)) matches the float64 reference", () => {
  const cases: [KernelTuning, GateFn, [number, number, number]][] = [
    ['cpu', 'dgelu_tanh', S65],
    ['cpu', 'drelu', S7],
    ['gpu', 'dgelu', S7],
    ['gpu', 'dsilu', S65],
  ];
  cases.forEach(([tuning, fn, [M, N, K]], i) => {
    it(`${tuning} nn ${M}×${N}×${K} ${fn}`, async () => {
      await check({ M, N, K, variant: 'nn', gate: { fn }, tuning, subgroupMinSize: tuning === 'cpu' ? gpu.subgroupMinSize : 0 }, 900 + i);
    });
  });
});
