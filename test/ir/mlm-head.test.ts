/**
 * head { transform: … }: BERT's masked-LM head (BertLMPredictionHead) as a knob of the LM
 * head. It lowers to dense d_model → d_model with bias, the activation, and a norm with the
 * layers' settings before the vocabulary projection, all counted as head parameters; it is a
 * plain transform, so a decoder may have one too; without an LM head it is an error (MS2112),
 * and `diff` names it. The numbers against PyTorch are in test/runtime/bert-torch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { diffKnobs } from '../../compiler/passes/diff.js';
import type { Host } from '../../compiler/semantics/resolve.js';
import { initRules } from '../../compiler/ir/interpret/init.js';

const host = (text: string): Host => ({ readFile: () => text, charVocab: () => 65 });

function compile(head: string, arch = 'encoder') {
  const text = [
    'model m {',
    `  arch = ${arch}`,
    '  vocab = 50, context = 16, d_model = 32, layers = 2',
    '  block { norm: rmsnorm(eps: 1e-6), attention { heads: 4 } }',
    `  head { ${head} }`,
    '}',
  ].join('\n');
  return compileFile('m.model', { host: host(text) });
}

describe('head { transform }', () => {
  it('initialises the transform norm like every norm (scale 1, shift 0) though it counts as head', () => {
    const m = compile('kind: lm, transform: gelu').models[0]!;
    const rules = initRules(m.graph!);
    expect(rules.get('lm_head.transform.norm.weight')).toEqual({ kind: 'ones' });
    expect(rules.get('lm_head.transform.bias')).toEqual({ kind: 'zeros' });
    expect(rules.get('lm_head.transform.weight')).toEqual({ kind: 'normal', std: 0.02 });
  });

  it('lowers dense + activation + the layers’ norm before the projection, counted as head', () => {
    const m = compile('kind: lm, bias: true, transform: relu').models[0]!;
    expect(m.spec.head.transform).toBe('relu');
    const g = m.graph!;
    const head = g.params.filter((p) => p.component === 'head').map((p) => `${p.name} [${p.shape.join(',')}]`);
    // rmsnorm has a scale only: the transform's norm follows the layers' settings.
    expect(head.sort()).toEqual(
      ['lm_head.bias [50]', 'lm_head.transform.bias [32]', 'lm_head.transform.norm.weight [32]', 'lm_head.transform.weight [32,32]'].sort(),
    );
    const ops = g.nodes.filter((n) => n.scope.startsWith('lm_head.transform')).map((n) => n.op);
    expect(ops).toEqual(['linear', 'relu', 'rmsnorm']);
    const logits = g.nodes.find((n) => g.values[n.output]!.name === 'head.logits')!;
    expect(g.values[logits.inputs[0]!]!.name).toBe('lm_head.transform.norm.rmsnorm');
  });

  it('is the identity by default and may sit on a decoder', () => {
    expect(compile('kind: lm').models[0]!.graph!.params.some((p) => p.name.startsWith('lm_head.transform'))).toBe(false);
    const dec = compile('kind: lm, transform: gelu', 'decoder');
    expect(dec.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(dec.models[0]!.spec.head.transform).toBe('gelu');
  });

  it('needs an LM head: MS2112 at the knob', () => {
    const r = compile('kind: none, transform: gelu');
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(['MS2112 head transform needs kind: lm']);
  });

  it('diff names it', () => {
    const a = compile('kind: lm').models[0]!.spec;
    const b = compile('kind: lm, transform: gelu').models[0]!.spec;
    expect(diffKnobs(a, b).map((c) => [c.path, c.a, c.b])).toEqual([['head.transform', 'none', 'gelu']]);
  });
});
