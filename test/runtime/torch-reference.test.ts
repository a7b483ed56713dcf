/**
 * mspec's forward against PyTorch on the same weights: two tiny models (GPT-2-style and
 * Llama-style with GQA and RoPE), fixtures from scripts/fixtures/make_torch_reference.py.
 * The checkpoint must hold exactly the lowered graph's parameters, then the CPU reference
 * interpreter must reproduce PyTorch's logits (1e-4 absolute) and loss (1e-5).
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import type { Graph } from '../../compiler/ir/graph.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { loadTorchFixture, TORCH_FIXTURES, type TorchFixture } from '../fixtures/torch/load.js';

const LOGITS_TOL = 1e-4;
const LOSS_TOL = 1e-5;

function compiledGraph(fx: TorchFixture): Graph {
  const r = compileFile(fx.specPath);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`);
  expect(errors, `${fx.specPath} does not check`).toEqual([]);
  expect(r.models.length).toBe(1);
  const m = r.models[0]!;
  expect(m.ok).toBe(true);
  return m.graph!;
}

/** Every lowered parameter present with its shape, and nothing else in the checkpoint. */
function checkpointProblems(graph: Graph, fx: TorchFixture): string[] {
  const problems: string[] = [];
  const wanted = new Set<string>();
  for (const p of graph.params) {
    wanted.add(p.name);
    const shape = fx.shapes.get(p.name);
    if (!shape) problems.push(`missing tensor '${p.name}' (shape [${p.shape.join(', ')}])`);
    else if (shape.join(',') !== p.shape.join(',')) {
      problems.push(`tensor '${p.name}' has shape [${shape.join(', ')}], the graph needs [${p.shape.join(', ')}]`);
    }
  }
  for (const name of fx.shapes.keys()) {
    if (!wanted.has(name)) problems.push(`extra tensor '${name}' in ${fx.safetensorsPath} is not a parameter of the graph`);
  }
  return problems;
}

function outputNamed(graph: Graph, suffix: string): number {
  const id = graph.outputs.find((v) => graph.values[v]!.name.split('.').pop() === suffix);
  if (id === undefined) throw new Error(`the graph has no '${suffix}' output`);
  return id;
}

describe.each(TORCH_FIXTURES)('PyTorch reference: %s', (name) => {
  const fx = loadTorchFixture(name);

  it('fixture is self-consistent (next-token targets, ids in range)', () => {
    const { B, T, vocab, tokens, targets } = fx;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) expect(targets[b * T + t]).toBe(tokens[b * T + t + 1]);
    }
    expect([...tokens, ...targets].every((id) => id >= 0 && id < vocab)).toBe(true);
  });

  it('checkpoint holds exactly the parameters of the lowered graph', () => {
    const graph = compiledGraph(fx);
    const problems = checkpointProblems(graph, fx);
    expect(problems, problems.join('\n')).toEqual([]);
    expect(fx.params.size).toBe(graph.params.length);
  });

  it(`CPU interpreter logits within ${LOGITS_TOL} and loss within ${LOSS_TOL} of PyTorch`, () => {
    const graph = compiledGraph(fx);
    const problems = checkpointProblems(graph, fx);
    expect(problems, problems.join('\n')).toEqual([]);

    const inputs = new Map<string, Int32Array | Float32Array>([
      ['tokens', fx.tokens],
      ['positions', fx.positions],
      ['targets', fx.targets],
    ]);
    const unfed = graph.inputs.map((v) => graph.values[v]!.name).filter((n) => !inputs.has(n));
    expect(unfed, 'graph inputs this test does not feed').toEqual([]);

    const values = interpretGraph(graph, { params: fx.params, inputs, B: fx.B, T: fx.T });
    const logits = values.get(outputNamed(graph, 'logits'))!;
    const loss = values.get(outputNamed(graph, 'loss'))!;
    expect(logits.shape).toEqual([fx.B, fx.T, fx.vocab]);
    expect(logits.data.length).toBe(fx.logits.length);

    let maxDiff = 0;
    let worst = 0;
    for (let i = 0; i < fx.logits.length; i++) {
      const d = Math.abs(logits.data[i]! - fx.logits[i]!);
      if (!(d <= maxDiff)) {
        maxDiff = d;
        worst = i;
      }
    }
    const V = fx.vocab;
    const at = `b=${Math.floor(worst / (fx.T * V))}, t=${Math.floor(worst / V) % fx.T}, v=${worst % V}`;
    console.log(`${name}: max |logits − torch| = ${maxDiff.toExponential(2)} (at ${at}); loss ${loss.data[0]} vs ${fx.loss}`);
    expect(maxDiff, `max |Δlogit| ${maxDiff} at ${at}: mspec ${logits.data[worst]}, torch ${fx.logits[worst]}`).toBeLessThanOrEqual(
      LOGITS_TOL,
    );
    expect(loss.data.length).toBe(1);
    expect(Math.abs(loss.data[0]! - fx.loss)).toBeLessThanOrEqual(LOSS_TOL);
  });
});
