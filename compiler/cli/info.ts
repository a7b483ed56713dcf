/** `mspec info FILE[#model]`: the cost model of each model, as a table or `--json`. */
import type { Analysis } from '../passes/analyze.js';
import { toJson } from '../passes/analyze.js';
import type { CompiledModel } from '../index.js';
import { allLayers, type ModelSpec } from '../semantics/model.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { SourceFile } from '../diagnostics/span.js';
import { fmtNum } from '../semantics/evaluate.js';
import { licenseText } from '../semantics/licenses.js';
import { zooRow, zooTable } from './info-table.js';
import { diagnosticsJson, printDiagnostics } from './output.js';
import { compileTarget } from './spec-target.js';
import { bytes, exact, flops, short, table } from './units.js';

export interface InfoArgs {
  /** One or more `file.model[#name]`. */
  targets: readonly string[];
  json: boolean;
  /** One row per model (info-table.ts) instead of each model's full report. */
  table?: boolean | undefined;
  batch?: number | undefined;
  seq?: number | undefined;
}

export function runInfo(args: InfoArgs): number {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, SourceFile>();
  const good: (CompiledModel & { analysis: Analysis })[] = [];
  for (const target of args.targets) {
    const r = compileTarget(target, { batch: args.batch, seq: args.seq });
    diagnostics.push(...r.diagnostics);
    for (const [k, v] of r.sources) sources.set(k, v);
    good.push(...r.models.filter((m): m is CompiledModel & { analysis: Analysis } => m.ok && m.analysis !== undefined));
  }
  const errors = diagnostics.some((d) => d.severity === 'error');
  if (args.json) {
    const items = args.table
      ? good.map((m) => zooRow(m.spec, m.analysis))
      : good.map((m) => ({ ...toJson(m.analysis), architecture: summaryJson(m.spec), license: m.spec.license }));
    if (errors) {
      process.stdout.write(
        JSON.stringify({ error: true, diagnostics: diagnosticsJson(diagnostics, sources), models: items }, null, 2) + '\n',
      );
      return 1;
    }
    // The table is always an array (a zoo of one is still a zoo); a single report stays an object.
    process.stdout.write(JSON.stringify(items.length === 1 && !args.table ? items[0] : items, null, 2) + '\n');
    return 0;
  }
  printDiagnostics(diagnostics, sources);
  if (args.table) process.stdout.write(good.length ? zooTable(good.map((m) => zooRow(m.spec, m.analysis))) + '\n' : '');
  else process.stdout.write(good.map((m) => render(m.spec, m.analysis)).join('\n\n') + (good.length ? '\n' : ''));
  return errors ? 1 : 0;
}

function attentionKind(heads: number, kv: number): string {
  return kv === heads ? 'MHA' : kv === 1 ? 'MQA' : `GQA ${heads / kv}:1`;
}

export function describeArchitecture(s: ModelSpec): string {
  const layers = allLayers(s);
  const l0 = layers[0];
  const stacks =
    s.arch === 'encoder_decoder' ? `${s.encoder!.layers.length}+${s.decoder!.layers.length} layers` : `${layers.length} layers`;
  const parts = [s.arch.replace('_', '–'), stacks, `d_model ${s.d_model}`];
  if (l0) parts.push(`${l0.attention.heads} heads (${attentionKind(l0.attention.heads, l0.attention.kv_heads)})`);
  parts.push(
    `context ${exact(s.context)}`,
    `vocab ${exact(s.vocab)}${s.vocab !== s.vocab_raw ? ` (padded from ${exact(s.vocab_raw)})` : ''}`,
  );
  const moe = layers.find((l) => l.moe);
  if (moe?.moe)
    parts.push(`MoE ${moe.moe.experts} experts top-${moe.moe.top_k} on ${layers.filter((l) => l.moe).length}/${layers.length} layers`);
  const windows = [...new Set(layers.map((l) => l.attention.window))];
  if (windows.some((w) => w !== null)) parts.push(`window ${windows.map((w) => (w === null ? 'global' : exact(w))).join('/')}`);
  parts.push(s.embedding.positions.kind);
  if (s.head.logit_scale !== 1) parts.push(`logits × ${fmtNum(s.head.logit_scale)}`);
  return parts.join(' · ');
}

function summaryJson(s: ModelSpec): object {
  const l0 = allLayers(s)[0];
  return {
    arch: s.arch,
    layers: s.arch === 'encoder_decoder' ? { encoder: s.encoder!.layers.length, decoder: s.decoder!.layers.length } : allLayers(s).length,
    d_model: s.d_model,
    heads: l0?.attention.heads,
    kv_heads: l0?.attention.kv_heads,
    head_dim: l0?.attention.head_dim,
    context: s.context,
    vocab: s.vocab,
    positions: s.embedding.positions.kind,
    tied: s.embedding.tied,
    ...(s.head.logit_scale !== 1 ? { logit_scale: s.head.logit_scale } : {}),
  };
}

/**
 * What the `head` row holds: an LM head (an MLM head on an encoder), tied or not, and/or
 * BERT's pooler. A tied LM head is the token table, counted under embeddings.
 */
export function headLabel(s: ModelSpec): string {
  const parts: string[] = [];
  if (s.head.kind === 'lm') parts.push(`${s.arch === 'encoder' ? 'MLM' : 'LM'} head${s.embedding.tied ? ' (tied to embeddings)' : ''}`);
  if (s.head.pooler) parts.push('pooler');
  return parts.length ? parts.join(' + ') : 'head (none)';
}

/** The weights' license, or why there is none: a base's license is not inherited (ModelSpec.license). */
function licenseLine(s: ModelSpec): string {
  if (s.license) return licenseText(s.license);
  return s.lineage.length ? `none stated (a license is not inherited from ${s.lineage[0]} through extends)` : 'none stated';
}

function render(s: ModelSpec, a: Analysis): string {
  const p = a.params;
  const pct = (n: number) => `${((100 * n) / Math.max(1, p.total)).toFixed(1)}%`;
  const c = p.by_component;
  const out: string[] = [];
  out.push(`${s.name}${s.lineage.length ? ` (extends ${s.lineage.join(' → ')})` : ''}`);
  out.push(`  ${describeArchitecture(s)}`);
  out.push(`  license: ${licenseLine(s)}`);
  out.push('', 'parameters');
  const rows: string[][] = [
    ['embeddings', exact(c.embeddings), pct(c.embeddings)],
    ['attention', exact(c.attention), pct(c.attention)],
    [allLayers(s).some((l) => l.moe) ? 'mlp (experts + router)' : 'mlp', exact(c.mlp), pct(c.mlp)],
    ['norms', exact(c.norms), pct(c.norms)],
    [headLabel(s), exact(c.head), pct(c.head)],
    ['total', exact(p.total), short(p.total)],
  ];
  if (p.active !== p.total) rows.push(['active per token', exact(p.active), short(p.active)]);
  rows.push(['non-embedding', exact(p.non_embedding), short(p.non_embedding)]);
  out.push(table(rows));
  const f = a.flops_per_token;
  out.push('', `compute per token (at context ${exact(f.context)})`);
  out.push(
    table([
      ['forward', exact(f.forward), flops(f.forward)],
      ['  matmuls', exact(f.matmul), flops(f.matmul)],
      ['  attention', exact(f.attention), flops(f.attention)],
      ['train (3 × forward)', exact(f.train), flops(f.train)],
      ['elementwise (not counted above)', exact(f.elementwise_forward), flops(f.elementwise_forward)],
    ]),
  );
  out.push('', 'KV cache (decoder self-attention)');
  const kv = a.kv_cache_bytes_per_token;
  const kvc = a.kv_cache_bytes_at_context;
  const kvRows = [
    ['per token', `f16 ${exact(kv.f16)} B`, `f32 ${exact(kv.f32)} B`],
    [`at context ${exact(kvc.context)}, batch 1`, `f16 ${bytes(kvc.f16)}`, `f32 ${bytes(kvc.f32)}`],
  ];
  if (a.cross_kv_bytes_per_source_token)
    kvRows.push([
      'cross-attention per source token',
      `f16 ${exact(a.cross_kv_bytes_per_source_token.f16)} B`,
      `f32 ${exact(a.cross_kv_bytes_per_source_token.f32)} B`,
    ]);
  out.push(table(kvRows));
  if (s.arch === 'encoder') out.push('  (an encoder does not decode token by token, so it keeps no KV cache)');
  const m = a.train_memory_bytes;
  out.push('', `training memory (batch ${m.batch} × seq ${exact(m.seq)}, f32 weights, AdamW)`);
  out.push(
    table([
      ['weights', bytes(m.weights)],
      ['gradients', bytes(m.gradients)],
      ['optimizer state', bytes(m.optimizer)],
      ['activations (saved for backward)', bytes(m.activations)],
      ['total', bytes(m.total)],
    ]),
  );
  const co = a.compute_optimal;
  out.push('', `compute-optimal training (${co.source})`);
  out.push(
    table([
      [`tokens (20 × ${co.params_basis} parameters)`, exact(co.tokens), short(co.tokens)],
      ['FLOPs', co.flops.toExponential(3), flops(co.flops)],
    ]),
  );
  if (co.note) out.push(`  note: ${co.note}`);
  return out.join('\n');
}
