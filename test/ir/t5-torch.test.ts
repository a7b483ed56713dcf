/**
 * The T5-style encoder–decoder on the CPU reference against PyTorch
 * (scripts/fixtures/make_torch_t5.py, written after HF T5): the interpreter's logits and loss
 * and the autodiff pass's gradient of every parameter, the relative-bias tables included.
 * Sources (S = 9) and targets (T = 7) differ in length, so cross-attention over S ≠ T keys is
 * exercised; two targets are ignored (−1).
 *
 * Tolerances are relative to the float64 reference (abs + rel·|ref|). PyTorch's own float32
 * run differs from float64 by 7.5e-6 on the logits (|logit| ≤ 4.9) and 1.5e-5 on gradients
 * (|g| ≤ 8.2; the bias tables sum over every query–key pair); the interpreter stores f32 and
 * sums in f64. A wrong rule moves far more: a 1/√d scale, the encoder's buckets taken
 * causal, or a position bias on cross-attention change the logits by ≥ 0.1 at these weights.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { describeWorst, type Tol, worstOf } from '../helpers/torch-compare.js';
import { loadT5Fixture } from '../helpers/torch-t5.js';

const LOGITS: Tol = { abs: 2e-5, rel: 5e-6 };
const GRADS: Tol = { abs: 2e-5, rel: 2e-5 };
const LOSS_ABS = 2e-6;

describe('torch_t5: CPU interpreter and autodiff vs PyTorch', () => {
  const fx = loadT5Fixture();
  const compiled = compileFile(fx.specPath);
  const graph = compiled.models[0]?.graph;
  const data = () => ({
    params: fx.params,
    inputs: new Map([
      ['src_tokens', fx.srcTokens],
      ['tokens', fx.tokens],
      ['targets', fx.targets],
    ]),
    B: fx.B,
    T: fx.T,
    S: fx.S,
  });

  it('compiles; the checkpoint holds exactly the lowered parameters', () => {
    expect(compiled.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    expect(graph!.params.map((p) => `${p.name} [${p.shape.join(',')}]`).sort()).toEqual(
      [...fx.shapes].map(([n, s]) => `${n} [${s.join(',')}]`).sort(),
    );
  });

  it('forward: logits and the loss over the non-ignored targets', () => {
    const values = interpretGraph(graph!, data());
    const out = (suffix: string) => values.get(graph!.outputs.find((v) => graph!.values[v]!.name.endsWith(suffix))!)!.data;
    const w = worstOf(out('logits'), fx.logits, LOGITS);
    if (process.env.TORCH_TOL_REPORT) console.log(describeWorst('torch_t5 interpreter logits', w));
    expect(w.excess, describeWorst('logits', w)).toBeLessThanOrEqual(1);
    expect(Math.abs(out('loss')[0]! - fx.loss)).toBeLessThan(LOSS_ABS);
  });

  it('backward: every parameter gradient, the relative-bias tables included', () => {
    const { loss, grads } = gradients(graph!, data());
    expect(Math.abs(loss - fx.loss)).toBeLessThan(LOSS_ABS);
    const failures: string[] = [];
    for (const p of graph!.params) {
      const w = worstOf(grads.get(p.name)!, fx.grads.get(p.name)!, GRADS);
      if (!(w.excess <= 1)) failures.push(describeWorst(`∂loss/∂${p.name}`, w));
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
