/**
 * Mixture-of-experts training on the CPU reference against PyTorch: the interpreter's forward
 * (routing, logits, load-balancing losses, total loss) and the autodiff pass's gradient of
 * every parameter, on the tiny Mixtral-style fixtures of scripts/fixtures/make_torch_moe.py
 * (HF MixtralSparseMoeBlock in a Llama-like decoder; plain top-2 of 4 renormalised; with a
 * router bias, a shared expert and aux loss 0.02; not renormalised on alternate layers only,
 * aux loss 0.05). Weights are std 0.25, so every formula matters, and no token is within 1e-3
 * of a routing tie, so a float32 forward routes exactly as the float64 reference.
 *
 * Tolerances are relative to the float64 reference (abs + rel·|ref|). PyTorch's own float32
 * run differs from its float64 run by ≤ 6.8e-6 on logits (|logit| ≤ 5.3) and ≤ 2.3e-6 on
 * gradients (|g| ≤ 1.5) (the fixtures record it); the interpreter stores f32 and sums in f64.
 * A wrong rule moves far more: HF's aux-loss normalisation (k× ours) shifts the loss by
 * ≥ 0.02, the gates' softmax over the k chosen instead of all E the logits by ~0.1.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { describeWorst, type Tol, worstOf } from '../helpers/torch-compare.js';
import { loadMoeTorchFixture, MOE_TORCH_FIXTURES } from '../helpers/torch-moe.js';

const LOGITS: Tol = { abs: 1e-5, rel: 1e-5 };
const GRADS: Tol = { abs: 2e-6, rel: 1e-5 };
const LOSS_ABS = 2e-6;

describe.each(MOE_TORCH_FIXTURES)('%s: CPU interpreter and autodiff vs PyTorch', (name) => {
  const fx = loadMoeTorchFixture(name);
  const compiled = compileFile(fx.specPath);
  const graph = compiled.models[0]!.graph!;
  const data = { params: fx.params, inputs: fx.inputs, B: fx.B, T: fx.T };
  const valueNamed = (values: ReturnType<typeof interpretGraph>, n: string) => {
    const v = graph.values.find((x) => x.name === n);
    if (!v) throw new Error(`${name}: no value named ${n}`);
    return values.get(v.id)!.data;
  };

  it('compiles; the checkpoint holds exactly the lowered parameters, experts stacked (E, out, in)', () => {
    expect(compiled.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    expect(graph.params.map((p) => `${p.name} [${p.shape.join(',')}]`).sort()).toEqual(
      [...fx.shapes].map(([n, s]) => `${n} [${s.join(',')}]`).sort(),
    );
    expect([...fx.grads.keys()].sort()).toEqual(graph.params.map((p) => p.name).sort());
    const stacked = graph.params.filter((p) => p.expert && p.name.endsWith('.weight'));
    expect(stacked.length).toBe(3 * fx.moeLayers.length);
    for (const p of stacked) expect(p.shape[0], p.name).toBe(4);
    // The comparison means something only away from routing ties.
    for (const l of fx.moeLayers) expect(l.minRoutingGap, l.scope).toBeGreaterThan(1e-3);
  });

  it('forward: the same experts chosen, logits, each layer aux loss, cross-entropy and total loss', () => {
    const values = interpretGraph(graph, data);
    for (const l of fx.moeLayers) {
      expect([...valueNamed(values, `${l.scope}.experts_chosen`)], l.scope).toEqual([...l.expertsChosen]);
      if (l.auxLoss === null) expect(graph.values.some((v) => v.name === `${l.scope}.aux_loss`)).toBe(false);
      else expect(Math.abs(valueNamed(values, `${l.scope}.aux_loss`)[0]! - l.auxLoss), l.scope).toBeLessThan(LOSS_ABS);
    }
    const logits = values.get(graph.outputs[0]!)!.data;
    const w = worstOf(logits, fx.logits, LOGITS);
    expect(w.excess, describeWorst(`${name} logits`, w)).toBeLessThanOrEqual(1);
    const hasAux = fx.moeLayers.some((l) => l.auxLoss !== null);
    expect(Math.abs(valueNamed(values, hasAux ? 'head.xent' : 'head.loss')[0]! - fx.xent)).toBeLessThan(LOSS_ABS);
    expect(Math.abs(valueNamed(values, 'head.loss')[0]! - fx.loss)).toBeLessThan(LOSS_ABS);
  });

  it('backward: the total loss and every parameter gradient', () => {
    const { loss, grads } = gradients(graph, data);
    expect(Math.abs(loss - fx.loss)).toBeLessThan(LOSS_ABS);
    const failures: string[] = [];
    let worst = { excess: 0, line: '' };
    for (const p of graph.params) {
      const want = fx.grads.get(p.name)!;
      const got = grads.get(p.name)!;
      expect(got.length, p.name).toBe(want.values.length);
      const w = worstOf(got, want.values, GRADS);
      const line = describeWorst(`∂loss/∂${p.name}`, w);
      if (!(w.excess <= 1)) failures.push(line);
      if (!(w.excess <= worst.excess)) worst = { excess: w.excess, line };
    }
    if (process.env.TORCH_TOL_REPORT) console.log(`${name} worst gradient: ${worst.line}`);
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
