import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';

/** The MS2001/MS2002 messages of a model body. */
function messages(body: string): string[] {
  const text = `model m {\n  vocab = 64\n  context = 16\n  d_model = 32\n  layers = 1\n${body}\n}\n`;
  const host: Host = { readFile: (p) => (p === 'm.model' ? text : { error: 'not found' }), charVocab: () => 64 };
  const r = compileFile('m.model', { host, analyze: false });
  return r.diagnostics.filter((d) => d.code === 'MS2001' || d.code === 'MS2002').map((d) => d.message);
}

describe('did you mean', () => {
  it("names mspec's value for another framework's name, which no edit distance finds", () => {
    expect(messages('  block {\n    attention { heads: 4 }\n    mlp { activation: swish }\n  }')).toEqual([
      "unknown value 'swish' for activation; did you mean 'silu'? (mspec's name for swish)",
    ]);
    expect(messages('  embedding { positions: rotary }\n  block { attention { heads: 4 } }')).toEqual([
      "unknown value 'rotary' for positions; did you mean 'rope'? (mspec's name for rotary)",
    ]);
  });

  it('names the knob for a Hugging Face or nanoGPT knob name in the same section', () => {
    expect(messages('  block {\n    attention { num_attention_heads: 4 }\n  }')[0]).toBe(
      "unknown knob 'num_attention_heads' in block.attention; did you mean 'heads'? (mspec's name for num_attention_heads)",
    );
    expect(messages('  n_layer = 2\n  block { attention { heads: 4 } }')[0]).toMatch(/did you mean 'layers'\?/);
  });

  it('says which section holds a knob set in the wrong place, under its own or another name', () => {
    expect(messages('  positions = rope\n  block { attention { heads: 4 } }')).toEqual([
      "unknown knob 'positions' in model; it goes in embedding { positions: … }",
    ]);
    // Without heads set, the missing-knob error (MS2004) is a knock-on of the n_head one and is not repeated.
    const host: Host = {
      readFile: () => 'model m {\n  vocab = 64\n  context = 16\n  d_model = 32\n  layers = 1\n  n_head = 4\n}\n',
      charVocab: () => 64,
    };
    expect(compileFile('m.model', { host, analyze: false }).diagnostics.map((d) => d.code)).toEqual(['MS2001']);
    // Nor after a misspelling whose MS2001 already names the knob; a knob nothing suggested is still missing.
    const typo: Host = {
      readFile: () => 'model m {\n  vocab = 64\n  contxt = 16\n  layers = 1\n  block { attention { heads: 2 } }\n}\n',
      charVocab: () => 64,
    };
    expect(compileFile('m.model', { host: typo, analyze: false }).diagnostics.map((d) => d.message)).toEqual([
      "unknown knob 'contxt' in model; did you mean 'context'?",
      "missing required knob 'd_model' in model",
    ]);
    expect(messages('  n_head = 4\n  block { attention { heads: 4 } }')).toEqual([
      "unknown knob 'n_head' in model; mspec calls it 'heads', which goes in block { attention { heads: … } }",
    ]);
  });

  it('points a knob in the wrong body to the other one, and an argument to its knob', () => {
    const text = (body: string, train: string) =>
      `model m {\n  vocab = 64\n  context = 16\n  d_model = 32\n  layers = 1\n${body}\n  block { attention { heads: 2 } }\n}\ntrain m {\n${train}\n}\n`;
    const host: Host = { readFile: () => text('  batch = 8', '  dropout = 0.1\n  learning_rate = 1e-3'), charVocab: () => 64 };
    const got = compileFile('m.model', { host, analyze: false }).diagnostics.map((d) => d.message);
    expect(got).toEqual([
      "unknown knob 'batch' in model; it belongs to the train body: batch = …",
      "unknown knob 'dropout' in train; it belongs to the model body: dropout = …",
      "unknown knob 'learning_rate' in train; mspec calls it 'lr', which is an argument of optimizer: optimizer = adamw(lr: …)",
    ]);
  });

  it('still finds misspellings by edit distance, and suggests nothing for an unrelated word', () => {
    expect(messages('  block {\n    attention { heads: 4 }\n    mlp { activation: gelu_tahn }\n  }')[0]).toMatch(
      /did you mean 'gelu_tanh'\?$/,
    );
    expect(messages('  block {\n    attention { heads: 4 }\n    mlp { activation: banana }\n  }')[0]).toBe(
      "unknown value 'banana' for activation",
    );
  });
});
