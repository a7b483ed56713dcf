/**
 * A layer made dense with a selector (`block[0] { mlp { experts: 1 } }`) inherits the block's
 * routing knobs; they are the other layers' and must not be reported against it. Routing knobs
 * written for the dense layer itself still are.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';

function compile(override: string) {
  const text =
    'model m {\n  vocab = 64\n  context = 16\n  d_model = 32\n  layers = 3\n' +
    `  block {\n    attention { heads: 2 }\n    mlp { experts: 4, top_k: 2, aux_loss: 0.02 }\n  }\n  ${override}\n}\n`;
  const host: Host = { readFile: () => text, charVocab: () => 64 };
  return { text, r: compileFile('m.model', { host, analyze: false }) };
}

describe('per-layer dense MLPs in a mixture of experts', () => {
  it('inherited routing knobs are not reported against the dense layer', () => {
    const { r } = compile('block[0] { mlp { experts: 1 } }');
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    expect(r.models[0]!.spec.decoder!.layers.map((l) => l.moe?.experts ?? 1)).toEqual([1, 4, 4]);
  });

  it("the dense layer's own routing knobs still are, at the override", () => {
    const { text, r } = compile('block[0] { mlp { experts: 1, top_k: 2 } }');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['MS2104']);
    expect(r.diagnostics[0]!.span!.start).toBe(text.lastIndexOf('top_k'));
  });
});
