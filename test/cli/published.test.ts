/** The published figures of mission.md, from the bundled spec files through the whole front end. */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';

function analysis(file: string) {
  const r = compileFile(file);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  expect(r.models).toHaveLength(1);
  return r.models[0]!.analysis!;
}

describe('published parameter counts', () => {
  const cases: [string, number, number?][] = [
    ['specs/gpt2-small.model', 124_439_808],
    ['specs/gpt2-medium.model', 354_823_168],
    ['specs/llama2-7b.model', 6_738_415_616],
    ['specs/mistral-7b.model', 7_241_732_096],
    ['specs/mixtral-8x7b.model', 46_702_792_704, 12_879_925_248],
    ['specs/bert-base.model', 109_482_240],
    ['specs/t5-small.model', 60_506_624],
  ];
  for (const [file, total, active] of cases) {
    it(file, () => {
      const a = analysis(file);
      expect(a.params.total).toBe(total);
      expect(a.params.active).toBe(active ?? total);
    });
  }

  it('KV cache per token', () => {
    expect(analysis('specs/llama2-7b.model').kv_cache_bytes_per_token.f16).toBe(524_288);
    expect(analysis('specs/mistral-7b.model').kv_cache_bytes_per_token.f16).toBe(131_072);
    // Mistral's 4k window caps the cache at 4096 tokens even at a 32k context.
    expect(analysis('specs/mistral-7b.model').kv_cache_bytes_at_context.f16).toBe(131_072 * 4096);
    expect(analysis('specs/bert-base.model').kv_cache_bytes_per_token.f16).toBe(0);
  });

  it('char_gpt takes its vocabulary from the corpus', () => {
    const r = compileFile('specs/char-gpt.model');
    const spec = r.models[0]!.spec;
    expect(spec.vocab).toBeGreaterThan(60);
    expect(spec.train?.tokenizer).toBe('char');
  });
});
