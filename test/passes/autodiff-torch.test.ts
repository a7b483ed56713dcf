/**
 * Our CPU gradients against PyTorch's, on the tiny GPT-2-style (tied head) and Llama-style
 * (GQA, RoPE) fixtures: the weights of <name>.safetensors, the batch of <name>.expected.json,
 * and the gradient of the mean cross-entropy of every parameter from <name>.grads.json
 * (PyTorch float64 forward and backward; scripts/fixtures/make_torch_grads.py).
 *
 * Tolerance, per entry: |ours − torch| ≤ 1e-5, or ≤ 1e-4·|torch|. Ours runs with f32 storage
 * (f64 sums inside each op), so the difference is f32 rounding, not a different formula.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { loadTorchFixture, TORCH_FIXTURE_DIR, TORCH_FIXTURES } from '../fixtures/torch/load.js';

const ABS_TOL = 1e-5;
const REL_TOL = 1e-4;

interface GradsJson {
  model: string;
  loss: number;
  grads: Record<string, { shape: number[]; values: number[] }>;
}

describe.each(TORCH_FIXTURES)('gradients vs PyTorch: %s', (name) => {
  const fx = loadTorchFixture(name);
  const expected = JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${name}.grads.json`), 'utf8')) as GradsJson;
  const compiled = compileFile(fx.specPath).models[0]!;
  const graph = compiled.graph!;

  it('the gradient file covers exactly the graph parameters, with their shapes', () => {
    expect(Object.keys(expected.grads).sort()).toEqual(graph.params.map((p) => p.name).sort());
    for (const p of graph.params) expect(expected.grads[p.name]!.shape, p.name).toEqual(p.shape);
    expect(Math.abs(expected.loss - fx.loss)).toBeLessThan(1e-9);
  });

  it(`every gradient entry within ${ABS_TOL} absolute or ${REL_TOL} relative`, () => {
    const inputs = new Map<string, Int32Array>([
      ['tokens', fx.tokens],
      ['positions', fx.positions],
      ['targets', fx.targets],
    ]);
    const { loss, grads } = gradients(graph, { params: fx.params, inputs, B: fx.B, T: fx.T });
    expect(Math.abs(loss - fx.loss)).toBeLessThan(1e-5);
    const bad: string[] = [];
    let maxAbs = 0;
    let maxRel = 0;
    for (const p of graph.params) {
      const ours = grads.get(p.name)!;
      const theirs = expected.grads[p.name]!.values;
      expect(ours.length, p.name).toBe(theirs.length);
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - theirs[i]!);
        maxAbs = Math.max(maxAbs, d);
        if (Math.abs(theirs[i]!) > 1e-3) maxRel = Math.max(maxRel, d / Math.abs(theirs[i]!));
        // !(d <= tol) so that a NaN gradient is counted as bad instead of passing.
        if (!(d <= ABS_TOL) && !(d <= REL_TOL * Math.abs(theirs[i]!))) bad.push(`${p.name}[${i}]: ours ${ours[i]}, torch ${theirs[i]}`);
      }
    }
    console.log(`${name}: max |ours − torch| ${maxAbs.toExponential(2)}, max relative (|torch| > 1e-3) ${maxRel.toExponential(2)}`);
    expect(bad.slice(0, 10), `${bad.length} entries out of tolerance`).toEqual([]);
  });
});
