/**
 * `mspec graph` and `mspec diff --svg`: the picture holds the blocks and labels a spec implies
 * (read back from the SVG Graphviz lays out), every spec in specs/ draws in every format, and
 * a diff colours the part whose knob changed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instance } from '@viz-js/viz';
import { afterAll, describe, expect, it } from 'vitest';
import { archGraph } from '../../compiler/cli/graph/arch-graph.js';
import { toDot, toMermaid } from '../../compiler/cli/graph/render.js';
import { compileFile } from '../../compiler/index.js';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-graph-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const unescape = (s: string) =>
  s
    .replace(/&#45;/g, '-')
    .replace(/&#160;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

/** What a reader sees in an SVG from Graphviz: its text, its clusters and nodes by class. */
function read(svg: string) {
  expect(svg).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1]!));
  const groups = [...svg.matchAll(/<g id="[^"]*" class="([^"]*)">\s*<title>([^<]*)<\/title>/g)].map((m) => ({
    cls: m[1]!.split(' '),
    title: unescape(m[2]!),
  }));
  return {
    text: texts.join('\n'),
    texts,
    clusters: groups.filter((g) => g.cls[0] === 'cluster'),
    nodes: groups.filter((g) => g.cls[0] === 'node'),
    count: (line: string) => texts.filter((t) => t === line).length,
  };
}

function graph(spec: string): ReturnType<typeof read> {
  const r = mspec('graph', `specs/${spec}.model`);
  expect(r.code, r.stderr).toBe(0);
  return read(r.stdout);
}

describe('mspec graph: what each architecture draws', () => {
  it('a decoder (GPT-2 small): embedding with learned positions, one pre-norm block ×12, tied head, shapes and params', () => {
    const g = graph('gpt2-small');
    for (const line of [
      'token embedding 50,257 × 768',
      '+ learned positions 1,024 × 768 (786K params)',
      'decoder block ×12',
      'self-attention (causal)',
      'MHA 12 heads · head_dim 64',
      'MLP · GELU (tanh)',
      '768 → 3,072 → 768 · bias',
      'LayerNorm (pre)',
      'final LayerNorm',
      'LM head 768 → 50,257',
      'tied to the token embedding',
      '[B, T, 768]',
      '[B, T, 50257]',
      '124M parameters',
      'residual',
    ])
      expect(g.texts).toContain(line);
    expect(g.clusters.map((c) => c.title)).toEqual(['cluster_decoder', 'cluster_decoder0']);
    expect(g.count('LayerNorm (pre)')).toBe(2);
    expect(g.count('+')).toBe(2); // two residual adds
    expect(g.text).toContain('2.36M params'); // attention of one layer: 4·768² + 4·768
  });

  it('grouped-query and sliding-window attention (Mistral 7B), RoPE inside attention, SwiGLU', () => {
    const g = graph('mistral-7b');
    for (const line of ['GQA 32 q / 8 kv · head_dim 128', 'q 32×128 · k, v 8×128', 'sliding window 4,096', 'RoPE on q, k (base 10,000)'])
      expect(g.texts).toContain(line);
    expect(g.texts).toContain('positions: RoPE (in attention)');
    expect(g.texts).toContain('MLP · SwiGLU, gated');
    expect(g.texts).toContain('4,096 → 2×14,336 → 4,096');
    expect(g.texts).toContain('untied');
    expect(g.texts).toContain('RMSNorm (pre)');
  });

  it('a mixture of experts (tiny Mixtral): a router, top-2 of 4 experts, active parameters', () => {
    const g = graph('tiny-mixtral');
    expect(g.clusters.map((c) => c.title)).toContain('cluster_decoder0_mlp');
    expect(g.texts).toContain('mixture of experts: top-2 of 4 experts');
    expect(g.texts).toContain('top-2 of 4 experts, renormalised');
    expect(g.texts).toContain('load-balancing loss × 0.02');
    expect(g.texts).toContain('4 experts · MLP SwiGLU, gated');
    expect(g.text).toMatch(/active per token: [\d.]+K of [\d.]+K in this layer/);
    expect(g.text).toMatch(/\(\d+K active per token\)/);
    expect(g.nodes.filter((n) => n.cls.includes('router'))).toHaveLength(1);
  });

  it('an encoder (BERT base): bidirectional post-norm blocks, segments and embedding norm, the pooler, no decoder', () => {
    const g = graph('bert-base');
    for (const line of [
      'encoder block ×12',
      'self-attention (bidirectional)',
      'LayerNorm (post)',
      '+ 2 segment embeddings (1.54K params)',
      'LayerNorm on the sum',
      'pooler: first token, dense 768 → 768 + tanh',
      'hidden states',
    ])
      expect(g.texts).toContain(line);
    expect(g.text).not.toMatch(/decoder|causal|LM head/);
  });

  it('an encoder–decoder (T5 small): both stacks, cross-attention fed by the encoder output, relative bias', () => {
    const g = graph('t5-small');
    expect(g.clusters.map((c) => c.title)).toEqual(['cluster_encoder', 'cluster_encoder0', 'cluster_decoder', 'cluster_decoder0']);
    for (const line of [
      'encoder block ×6',
      'decoder block ×6',
      'cross-attention (over the encoder)',
      'encoder output',
      'K, V from [B, S, 512]',
      '[B, S, 512]',
      'source tokens',
      'target tokens',
      'relative position bias (32 buckets, max distance 128)',
      'unscaled scores (no 1/√d)',
      'shared by encoder, decoder and head',
    ])
      expect(g.texts).toContain(line);
    expect(g.count('+')).toBe(2 + 3); // encoder: attention, MLP; decoder: attention, cross-attention, MLP
  });

  it('layers that differ by selector are drawn apart; parallel blocks share one sum; shared experts; ALiBi', () => {
    const spec = join(tmp, 'mixed.model');
    writeFileSync(
      spec,
      `import "${join(ROOT, 'specs/tiny-llama.model')}"\n` +
        'model mixed extends tiny_llama {\n  block[1::2] { attention { window: 16 } }\n}\n' +
        'model par extends tiny_llama {\n  block { parallel: true, shared_norm: true }\n}\n' +
        'model shared extends tiny_llama {\n  embedding { positions: alibi }\n  block { mlp { experts: 4, top_k: 1, shared_experts: 1 } }\n}\n',
    );
    const g = read(mspec('graph', `${spec}#mixed`).stdout);
    expect(g.texts).toContain('decoder block, layers 0, 2 (×2 of 4)');
    expect(g.texts).toContain('decoder block, layers 1, 3 (×2 of 4)');
    expect(g.count('sliding window 16')).toBe(1);
    const p = read(mspec('graph', `${spec}#par`).stdout);
    expect(p.texts).toContain('RMSNorm (pre, shared)');
    expect(p.count('+')).toBe(1);
    const sh = read(mspec('graph', `${spec}#shared`).stdout);
    expect(sh.texts).toContain('1 shared expert (every token)');
    expect(sh.texts).toContain('mixture of experts: top-1 of 4 experts');
    expect(sh.texts).toContain('ALiBi bias on scores');
  });

  it('bad input: a missing file or a spec error is exit 1 with diagnostics, an unknown format exit 2', () => {
    const missing = mspec('graph', 'nope.model');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("MS5001: cannot read 'nope.model'");
    const bad = join(tmp, 'bad.model');
    writeFileSync(bad, 'model bad {\n  vocab = 256\n  context = 16\n  d_model = 30\n  layers = 1\n  block { attention { heads: 4 } }\n}\n');
    const r = mspec('graph', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error MS\d{4}/);
    expect(r.stdout).toBe('');
    const f = mspec('graph', 'specs/tiny-llama.model', '--format', 'png');
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("unknown --format 'png'");
    const dir = mspec('graph', 'specs/tiny-llama.model', '--format', 'dot', '-o', tmp);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toBe(`error: cannot write ${tmp}: it is a folder; give the file to write, e.g. ${join(tmp, 'tiny_llama.dot')}\n`);
  });

  it('-o writes the file (svg, dot, mermaid)', () => {
    for (const format of ['svg', 'dot', 'mermaid']) {
      const out = join(tmp, `tiny.${format}`);
      const r = mspec('graph', 'specs/tiny-llama.model', '-o', out, '--format', format);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(readFileSync(out, 'utf8')).toContain('GQA 4 q / 2 kv');
    }
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('every spec in specs/ draws, in every format', async () => {
  const viz = await instance();
  const specs = readdirSync(join(ROOT, 'specs')).filter((f) => f.endsWith('.model'));
  it.each(specs)('%s', (file) => {
    const r = compileFile(join(ROOT, 'specs', file));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    for (const m of r.models) {
      const g = archGraph(m.spec, m.analysis!);
      const dot = toDot(g);
      const svg = viz.render(dot, { format: 'svg' });
      // Graphviz warns that it has no width table for non-ASCII characters (×, →): not an error.
      expect(svg.errors.filter((e) => e.level === 'error')).toEqual([]);
      expect(svg.status).toBe('success');
      expect(read(svg.output!).texts).toContain(m.spec.name);
      // mermaid: a flowchart whose subgraphs close and whose edges join declared nodes.
      const mm = toMermaid(g).split('\n');
      expect(mm).toContain('flowchart TB');
      expect(mm.filter((l) => /^\s*subgraph /.test(l)).length).toBe(mm.filter((l) => /^\s*end$/.test(l)).length);
      const declared = new Set(mm.map((l) => /^\s+(\w+)[[(]/.exec(l)?.[1]).filter(Boolean));
      for (const l of mm.filter((x) => /-->|-\.->|==>/.test(x))) {
        const [, from, to] = /^\s+(\w+) (?:-->|-\.->|==>)(?:\|"[^"]*"\|)? (\w+)$/.exec(l) ?? [];
        expect(declared.has(from!) && declared.has(to!), l).toBe(true);
      }
    }
  });
});

describe('mspec diff --svg', () => {
  it('draws both models side by side, the changed attention in red, with the cost deltas', () => {
    const spec = join(tmp, 'mqa.model');
    writeFileSync(
      spec,
      `import "${join(ROOT, 'specs/tiny-llama.model')}"\nmodel tiny_mqa extends tiny_llama {\n  block { attention { kv_heads: 1 } }\n}\n`,
    );
    const out = join(tmp, 'diff.svg');
    const r = mspec('diff', 'specs/tiny-llama.model', spec, '--svg', out);
    expect(r.code, r.stderr).toBe(1); // the models differ
    expect(r.stdout).toContain('block.attention.kv_heads   2 → 1');
    const g = read(readFileSync(out, 'utf8'));
    expect(g.clusters.filter((c) => c.cls.includes('model')).map((c) => c.title)).toEqual(['cluster_a', 'cluster_b']);
    const changed = g.nodes.filter((n) => n.cls.includes('changed'));
    expect(changed.map((n) => n.title).sort()).toEqual(['a_decoder0_attn', 'b_decoder0_attn']);
    expect(g.texts).toContain('GQA 4 q / 2 kv · head_dim 32');
    expect(g.texts).toContain('MQA 4 q / 1 kv · head_dim 32');
    expect(g.texts).toContain('block.attention.kv_heads: 2 → 1');
    expect(g.texts).toContain('KV cache at full context (f16): 128 KiB → 64.0 KiB, Δ −64.0 KiB (−50.0%)');
    expect(g.texts).toContain('parameters (total): 804K → 771K, Δ −32.8K (−4.08%)');
    expect(g.text).not.toContain('active per token'); // the same as the total for dense models
  });
});
