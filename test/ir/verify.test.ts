import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder, IRError, type Node } from '../../compiler/ir/graph.js';
import { verify } from '../../compiler/ir/verify.js';

/** x (B, T, 8) → linear 8→4 → gelu; small enough to break by hand. */
function small(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', 'f32', ['B', 'T', 8]);
  const w = b.param({ name: 'w.weight', shape: [4, 8], component: 'mlp' });
  const y = b.op('linear', [x, w], { bias: false, activation: null }); // (B, T, 4)
  b.output(b.op('gelu', [y], {}));
  return b.finish();
}

/** A deep, mutable copy (the graph types are read-only). */
type Mutable<T> = {
  -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? Mutable<U>[] : T[K] extends object ? Mutable<T[K]> : T[K];
};
const copy = (g: Graph) => structuredClone(g) as unknown as Mutable<Graph>;

describe('verify', () => {
  it('accepts a well-formed graph', () => {
    expect(verify(small())).toEqual([]);
  });

  it('catches an output shape that disagrees with the shape rule', () => {
    const g = copy(small());
    g.values[g.nodes[0]!.output]!.type = { dtype: 'f32', shape: ['B', 'T', 5] };
    const problems = verify(g as Graph);
    expect(problems.some((p) => /records f32\(B, T, 5\) but its shape rule gives f32\(B, T, 4\)/.test(p))).toBe(true);
  });

  it('catches a use before definition', () => {
    const g = copy(small());
    g.nodes.reverse();
    g.nodes.forEach((n, i) => (n.id = i));
    expect(verify(g as Graph)).toContain('node 0 (gelu at <model>) reads linear before it is defined');
  });

  it('catches dangling values and unused parameters', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'f32', ['B', 8]);
    b.param({ name: 'unused.weight', shape: [8, 8], component: 'mlp' });
    b.op('relu', [x], {}, 'lost');
    b.output(x);
    const problems = verify(b.finish());
    expect(problems).toContain('value unused.weight (param) is never used');
    expect(problems).toContain('value lost (node) is never used');
  });

  it('catches duplicate parameter names and a reference to a missing value', () => {
    const g = copy(small());
    g.params.push({ ...g.params[0]!, value: 99 });
    (g.nodes[1] as Mutable<Node>).inputs = [42];
    const problems = verify(g as Graph);
    expect(problems).toContain('parameter name w.weight is not unique');
    expect(problems.some((p) => p.includes('reads value 42, which does not exist'))).toBe(true);
  });

  it('the builder refuses ill-typed ops and reused parameter names', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'f32', ['B', 8]);
    const w = b.param({ name: 'w', shape: [4, 7], component: 'mlp' });
    expect(() => b.op('linear', [x, w], { bias: false, activation: null })).toThrow(IRError);
    expect(() => b.param({ name: 'w', shape: [4], component: 'mlp' })).toThrow(/defined twice/);
  });
});
