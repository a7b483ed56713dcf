/**
 * activation_backward and glu_backward on the real adapter. Each run is checked twice:
 *  - against central finite differences (step 1e-3) of the float64 forward definitions
 *    (activation-fns.ts fnReference), loss L = Σ dout ⊙ fn(x) (glu: Σ dout ⊙ fn(gate)·up):
 *    |err| <= 1e-5 + 1e-4·|ref| (FD truncation h²/6·fn''' <= ~2e-7 here); relu is not
 *    differentiable at 0, so values within 2h of 0 are left out of its FD check;
 *  - against the analytic float64 derivatives (dfnReference): |err| <= 3e-7 + 3e-6·|ref|
 *    (a few f32 ulps of exp and division, A&S erfc's 7.5e-8 in Φ; measured <= 20% of it).
 * Inputs uniform(−6, 6) so the tails (saturated sigmoids, tanh near ±1) are exercised, plus
 * ±20 and ±80 (where exp(±x) would overflow if written naively: no NaN allowed); flat
 * sizes alternate vec4 and scalar (odd) paths, none a multiple of the 64-invocation workgroup.
 */
import { describe, expect, it } from 'vitest';
import { ACTIVATION_NAMES as ELEMENTWISE_FNS, ACTIVATIONS, type ActivationName as ElementwiseFn } from '../../compiler/ir/activations.js';
import type { GluFn } from '../../compiler/codegen/wgsl/kernels/activation.js';
import { generateActivationBackward, generateGluBackward } from '../../compiler/codegen/wgsl/kernels/backward/elementwise-bwd.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const FD_TOL = { abs: 1e-5, rel: 1e-4 };
const TOL = { abs: 3e-7, rel: 3e-6 };
const H = 1e-3;

/** fn'(x) by central differences of the float64 definition; NaN (skipped by the caller) where fn has a kink within 2h. */
function fdDerivative(fn: ElementwiseFn): (x: number) => number {
  const f = ACTIVATIONS[fn].f;
  return (x) => (fn === 'relu' && Math.abs(x) < 2 * H ? NaN : (f(x + H) - f(x - H)) / (2 * H));
}

/** Checks got against want where want is not NaN. */
function closeWhereDefined(got: Float32Array, want: Float64Array, tol: { abs: number; rel: number }, what: string): void {
  const keep = Array.from(want.keys()).filter((i) => !Number.isNaN(want[i]!));
  expect(keep.length).toBeGreaterThan(want.length / 2);
  expectClose(
    keep.map((i) => got[i]!),
    keep.map((i) => want[i]!),
    tol,
    what,
  );
}

describe("activation_backward: dx = dout · fn'(x)", () => {
  ELEMENTWISE_FNS.forEach((fn, i) => {
    const shape = i % 2 === 0 ? [2, 3, 22] : [3, 5, 7];
    const inPlace = i % 2 === 1;
    it(`${fn}, shape ${shape.join('×')}${inPlace ? ', in place over dout' : ''}`, async () => {
      const n = shape.reduce((a, b) => a * b);
      const x = random(n, 10 + i, -6, 6),
        dout = random(n, 20 + i);
      x.set([-80, 80, -20, 20], 1);
      const k = generateActivationBackward({ shape, fn, inPlace });
      expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(
        inPlace ? ['x:read', 'dout:read_write'] : ['x:read', 'dout:read', 'dx:read_write'],
      );
      const r = gpu().clear('dx').set('x', x).set('dout', dout);
      await r.run(k);
      const got = await r.read(inPlace ? 'dout' : 'dx');
      const fdd = fdDerivative(fn),
        d = ACTIVATIONS[fn].df;
      closeWhereDefined(
        got,
        Float64Array.from(x, (v, j) => dout[j]! * fdd(v)),
        FD_TOL,
        `${fn} vs finite differences`,
      );
      expectClose(
        got,
        Float64Array.from(x, (v, j) => dout[j]! * d(v)),
        TOL,
        `${fn} vs the analytic derivative`,
      );
    });
  });

  it('tanh from its saved output: dx = dout · (1 − y²)', async () => {
    const n = 45;
    const x = random(n, 30, -3, 3),
      dout = random(n, 31);
    const y = Float32Array.from(x, Math.tanh);
    const k = generateActivationBackward({ shape: [5, 9], fn: 'tanh', saved: 'output' });
    expect(k.bindings.map((b) => b.name)).toEqual(['y', 'dout', 'dx']);
    const r = gpu().clear('dx').set('y', y).set('dout', dout);
    await r.run(k);
    const got = await r.read('dx');
    // 1 − y² from the f32-rounded y: absolute error ~1e-7 near saturation.
    expectClose(
      got,
      Float64Array.from(y, (v, j) => dout[j]! * (1 - v * v)),
      TOL,
      'tanh from y',
    );
    closeWhereDefined(
      got,
      Float64Array.from(x, (v, j) => dout[j]! * fdDerivative('tanh')(v)),
      FD_TOL,
      'tanh from y vs finite differences',
    );
    expect(() => generateActivationBackward({ shape: [4], fn: 'gelu', saved: 'output' })).toThrow(/only tanh/);
  });
});

describe("glu_backward: dgate = dout · up · fn'(gate), dup = dout · fn(gate)", () => {
  const cases: [GluFn, number[], boolean][] = [
    ['silu', [2, 4, 24], false],
    ['gelu', [3, 11], true],
    ['relu', [5, 9], false],
    ['gelu_tanh', [3, 8], true],
  ];
  for (const [fn, shape, packed] of cases) {
    it(`${fn}, shape ${shape.join('×')}${packed ? ', gate and up packed in one tensor' : ''}`, async () => {
      const n = shape.reduce((a, b) => a * b),
        F = shape[shape.length - 1]!,
        rows = n / F;
      const gate = random(n, 40, -6, 6),
        up = random(n, 41, -2, 2),
        dout = random(n, 42);
      gate.set([-80, 80, -20, 20], 1);
      const k = generateGluBackward({ shape, fn, packed });
      const r = gpu().clear('dgate', 'dup', 'dgate_up').set('dout', dout);
      if (packed) {
        expect(k.bindings.map((b) => b.name)).toEqual(['gate_up', 'dout', 'dgate_up']);
        const gu = new Float32Array(2 * n);
        for (let row = 0; row < rows; row++) {
          gu.set(gate.subarray(row * F, (row + 1) * F), row * 2 * F);
          gu.set(up.subarray(row * F, (row + 1) * F), row * 2 * F + F);
        }
        r.set('gate_up', gu);
      } else {
        expect(k.bindings.map((b) => b.name)).toEqual(['gate', 'up', 'dout', 'dgate', 'dup']);
        r.set('gate', gate).set('up', up);
      }
      await r.run(k);
      let dgate: Float32Array, dup: Float32Array;
      if (packed) {
        const d = await r.read('dgate_up');
        dgate = new Float32Array(n);
        dup = new Float32Array(n);
        for (let row = 0; row < rows; row++) {
          dgate.set(d.subarray(row * 2 * F, row * 2 * F + F), row * F);
          dup.set(d.subarray(row * 2 * F + F, row * 2 * F + 2 * F), row * F);
        }
      } else {
        dgate = await r.read('dgate');
        dup = await r.read('dup');
      }
      const f = ACTIVATIONS[fn].f,
        fdd = fdDerivative(fn),
        df = ACTIVATIONS[fn].df;
      // L = Σ dout · f(gate) · up: FD in up is f(gate) exactly (L is linear in up), so dup's FD check is its analytic one.
      closeWhereDefined(
        dgate,
        Float64Array.from(gate, (g, j) => dout[j]! * up[j]! * fdd(g)),
        FD_TOL,
        `glu ${fn} dgate vs finite differences`,
      );
      expectClose(
        dgate,
        Float64Array.from(gate, (g, j) => dout[j]! * up[j]! * df(g)),
        TOL,
        `glu ${fn} dgate`,
      );
      const upFd = (j: number) => ((f(gate[j]!) * (up[j]! + H) - f(gate[j]!) * (up[j]! - H)) / (2 * H)) * dout[j]!;
      expectClose(
        dup,
        Float64Array.from(gate, (_, j) => upFd(j)),
        FD_TOL,
        `glu ${fn} dup vs finite differences`,
      );
      expectClose(
        dup,
        Float64Array.from(gate, (g, j) => dout[j]! * f(g)),
        TOL,
        `glu ${fn} dup`,
      );
    });
  }
});
