/**
 * `mspec info specs/*.model --table`: the model-zoo table over every bundled spec, as text and
 * JSON, against goldens (regenerate with UPDATE_GOLDEN=1 and review), plus the license each
 * spec states.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

const SPECS = readdirSync(join(ROOT, 'specs'))
  .filter((f) => f.endsWith('.model'))
  .sort()
  .map((f) => `specs/${f}`);

function golden(name: string, text: string): void {
  const path = join(ROOT, 'test', 'golden', 'info', name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

interface Row {
  model: string;
  params: number;
  active_params: number;
  context: number;
  kv_cache_bytes_per_token_f16: number;
  compute_optimal_tokens: number;
  license: { id: string; name: string; kind: string } | null;
}

describe('mspec info --table', () => {
  it('prints one Markdown row per bundled model', () => {
    const r = mspec('info', ...SPECS, '--table');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2 + SPECS.length);
    // Every row has the header's column boundaries, so the table lines up as plain text.
    const bars = (l: string) => [...l].flatMap((c, i) => (c === '|' ? [i] : []));
    for (const l of lines) expect(bars(l)).toEqual(bars(lines[0]!));
    golden('zoo-table.txt', r.stdout);
  });

  it('--json gives the same rows with exact numbers', () => {
    const r = mspec('info', ...SPECS, '--table', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows).toHaveLength(SPECS.length);
    const by = new Map(rows.map((x) => [x.model, x]));
    expect(by.get('llama2_7b')).toMatchObject({ params: 6_738_415_616, context: 4096, kv_cache_bytes_per_token_f16: 524_288 });
    expect(by.get('mixtral_8x7b')).toMatchObject({ params: 46_702_792_704, active_params: 12_879_925_248 });
    for (const x of rows) expect(x.compute_optimal_tokens).toBe(20 * x.params);
    expect(by.get('bert_base')!.kv_cache_bytes_per_token_f16).toBe(0);
    golden('zoo-table.json', r.stdout);
  });

  it('a single model is still an array of rows', () => {
    const r = mspec('info', 'specs/gpt2-small.model', '--table', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.map((x) => x.model)).toEqual(['gpt2_small']);
  });
});

describe('the licenses the bundled specs state', () => {
  const licenses = () => {
    const rows = JSON.parse(mspec('info', ...SPECS, '--table', '--json').stdout) as Row[];
    return Object.fromEntries(rows.map((x) => [x.model, x.license && `${x.license.id} ${x.license.kind}`]));
  };

  it('are the published weights’ licenses, and specs trained from scratch state none', () => {
    expect(licenses()).toEqual({
      bert_base: 'Apache-2.0 open-source',
      char_gpt: null,
      gpt2_medium: 'MIT open-source',
      gpt2_small: 'MIT open-source',
      llama2_7b: 'llama2 community',
      mistral_7b: 'Apache-2.0 open-source',
      mixtral_8x7b: 'Apache-2.0 open-source',
      t5_small: 'Apache-2.0 open-source',
      tiny_bert: null,
      tiny_llama: null,
      tiny_mixtral: null,
      tiny_t5: null,
    });
  });

  it('info says why a model that extends a licensed base has none', () => {
    const r = mspec('info', 'specs/tiny-llama.model');
    expect(r.stdout).toContain('license: none stated (a license is not inherited from llama2_7b through extends)');
    expect(mspec('info', 'specs/llama2-7b.model').stdout).toContain('license: Llama 2 Community License (llama2, community)');
  });
});
