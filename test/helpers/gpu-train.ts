/** GPU tests: random weights, one training step at lr = 0, its gradients read back and compared. */
import { expect } from 'vitest';
import type { Graph } from '../../compiler/ir/graph.js';
import { initRules } from '../../compiler/ir/interpret.js';
import type { PlanRunner } from '../../runtime/plan-runner.js';
import { makeRng, type Rng } from '../../runtime/random.js';
import type { OptimSettings, Trainer } from '../../runtime/train/trainer.js';

/** What Trainer.create takes for each parameter of `graph`: name, shape, decay and init rule. */
export function paramInfos(graph: Graph) {
  const rules = initRules(graph);
  return graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name)! }));
}

/** AdamW at lr = 0: a step leaves the weights alone and the gradient buffers hold ∂loss/∂θ. */
export const ZERO_LR: OptimSettings = { lr: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 };

/** The trainer's (private) training-plan runner, to read gradients and io buffers back. */
export const trainRunner = (t: Trainer): PlanRunner => (t as unknown as { train: PlanRunner }).train;

/**
 * Gradients against a reference elementwise, each within max(2e-5, 1e-3·|want|): `check` each
 * parameter, then `expectNone` fails naming the worst element (a NaN fails too).
 */
export function gradChecker() {
  let worst = { name: '', err: 0 };
  return {
    check(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(got[i]! - want[i]!);
        const tol = Math.max(2e-5, 1e-3 * Math.abs(want[i]!));
        // !(err <= tol): a NaN gradient fails; the worst (or first NaN) is reported.
        if (!(err <= tol) && !(err <= worst.err))
          worst = { name: `${name}[${i}] got ${got[i]} want ${want[i]}`, err: Number.isNaN(err) ? Infinity : err };
      }
    },
    expectNone(): void {
      expect(worst.name, `worst gradient mismatch: ${worst.name}`).toBe('');
    },
  };
}

/**
 * Realistic random weights for `graph`: matrices N(0, 0.25²), norm scales 1 + N(0, 0.1²), the
 * rest N(0, 0.05²), drawn in parameter order from a fresh generator or from `rng` (which it advances).
 */
export function randomWeights(graph: Graph, seed: number | Rng): Map<string, Float32Array> {
  const rng = typeof seed === 'number' ? makeRng(seed) : seed;
  return new Map(
    graph.params.map((p) => {
      const n = p.shape.reduce((a, d) => a * d, 1);
      const draw =
        p.shape.length >= 2
          ? () => 0.25 * rng.normal()
          : p.component === 'norms'
            ? () => 1 + 0.1 * rng.normal()
            : () => 0.05 * rng.normal();
      return [p.name, Float32Array.from({ length: n }, draw)];
    }),
  );
}

/** max |a − b| over equal-length arrays; Infinity when any difference is NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}
