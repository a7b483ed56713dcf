/**
 * `mspec diff A B`: what changed between two resolved models and what it costs. Exit 0 when
 * identical, 1 when different, 2 when either side cannot be compiled (like diff(1)).
 */
import type { CompiledModel } from '../index.js';
import type { Analysis } from '../passes/analyze.js';
import { type CostRow, diffModels, diffToJson, type ModelDiff } from '../passes/diff.js';
import { diagnosticsJson, printDiagnostics, splitTarget } from './output.js';
import { compileTarget } from './spec-target.js';
import { bytes, exact, flops, percent, signed, table } from './units.js';

export interface DiffArgs {
  a: string;
  b: string;
  json: boolean;
  batch?: number | undefined;
  seq?: number | undefined;
  /** Also draw both architectures side by side, the changes in red, into this SVG file. */
  svg?: string | undefined;
}

function one(
  target: string,
  args: DiffArgs,
  json: boolean,
): { model?: CompiledModel & { analysis: Analysis }; trouble: boolean; diagnostics: object[] } {
  const { file } = splitTarget(target);
  const r = compileTarget(target, { batch: args.batch, seq: args.seq });
  const errors = r.diagnostics.some((d) => d.severity === 'error');
  if (!json) printDiagnostics(r.diagnostics, r.sources);
  const good = r.models.filter((m): m is CompiledModel & { analysis: Analysis } => m.ok && m.analysis !== undefined);
  if (errors || good.length === 0) return { trouble: true, diagnostics: diagnosticsJson(r.diagnostics, r.sources) };
  if (good.length > 1) {
    const names = good.map((m) => m.spec.name);
    const msg = `${file} defines ${good.length} models (${names.join(', ')}); pick one with ${file}#${names[0]}`;
    if (!json) process.stderr.write(`error MS5002: ${msg}\n`);
    return { trouble: true, diagnostics: [{ code: 'MS5002', severity: 'error', message: msg }] };
  }
  return { model: good[0]!, trouble: false, diagnostics: [] };
}

export function costRows(a: Analysis, b: Analysis): CostRow[] {
  return [
    { key: 'params_total', label: 'parameters (total)', unit: 'count', a: a.params.total, b: b.params.total },
    { key: 'params_active', label: 'parameters (active per token)', unit: 'count', a: a.params.active, b: b.params.active },
    {
      key: 'params_non_embedding',
      label: 'parameters (non-embedding)',
      unit: 'count',
      a: a.params.non_embedding,
      b: b.params.non_embedding,
    },
    {
      key: 'flops_per_token_forward',
      label: 'FLOPs/token forward',
      unit: 'flops',
      a: a.flops_per_token.forward,
      b: b.flops_per_token.forward,
    },
    { key: 'flops_per_token_train', label: 'FLOPs/token train', unit: 'flops', a: a.flops_per_token.train, b: b.flops_per_token.train },
    {
      key: 'kv_cache_bytes_per_token_f16',
      label: 'KV cache bytes/token (f16)',
      unit: 'count',
      a: a.kv_cache_bytes_per_token.f16,
      b: b.kv_cache_bytes_per_token.f16,
    },
    {
      key: 'kv_cache_bytes_at_context_f16',
      label: 'KV cache at full context (f16)',
      unit: 'bytes',
      a: a.kv_cache_bytes_at_context.f16,
      b: b.kv_cache_bytes_at_context.f16,
    },
    {
      key: 'train_memory_bytes',
      label: `training memory (b${a.train_memory_bytes.batch}×${a.train_memory_bytes.seq} | b${b.train_memory_bytes.batch}×${b.train_memory_bytes.seq})`,
      unit: 'bytes',
      a: a.train_memory_bytes.total,
      b: b.train_memory_bytes.total,
    },
  ];
}

export function runDiff(args: DiffArgs): number | Promise<number> {
  const A = one(args.a, args, args.json);
  const B = one(args.b, args, args.json);
  if (!A.model || !B.model) {
    if (args.json) process.stdout.write(JSON.stringify({ error: true, diagnostics: [...A.diagnostics, ...B.diagnostics] }, null, 2) + '\n');
    return 2;
  }
  const d = diffModels(A.model.spec, B.model.spec, costRows(A.model.analysis, B.model.analysis));
  if (args.json) process.stdout.write(JSON.stringify(diffToJson(d), null, 2) + '\n');
  else process.stdout.write(render(d) + '\n');
  const code = d.identical ? 0 : 1;
  if (!args.svg) return code;
  const svg = args.svg;
  return import('./diff-svg.js').then(({ writeDiffSvg }) => writeDiffSvg(d, A.model!, B.model!, svg, code));
}

const show = (v: unknown): string => (v === undefined ? '—' : v === null ? 'none' : typeof v === 'number' ? exact(v) : String(v));

function render(d: ModelDiff): string {
  const out: string[] = [`${d.a} → ${d.b}`];
  if (d.identical) {
    out.push('', 'identical: every resolved knob is the same');
    return out.join('\n');
  }
  out.push('', `knobs (${d.knobs.length} differ)`);
  const pathW = Math.max(...d.knobs.map((k) => k.path.length));
  const aW = Math.max(...d.knobs.map((k) => show(k.a).length));
  let group = '';
  for (const k of d.knobs) {
    if (k.group !== group) {
      group = k.group;
      out.push(`  [${group}]`);
    }
    out.push(`    ${k.path.padEnd(pathW)}   ${show(k.a).padStart(aW)} → ${show(k.b)}`);
  }
  out.push('', 'costs');
  const fmt = (unit: CostRow['unit']) => (unit === 'count' ? exact : unit === 'bytes' ? bytes : flops);
  const costRows = [['', d.a, d.b, 'Δ', '']];
  for (const c of d.costs) {
    const f = fmt(c.unit);
    costRows.push([c.label, unit(c.a, c.unit, f), unit(c.b, c.unit, f), c.a === c.b ? '0' : signed(c.b - c.a, f), percent(c.b - c.a, c.a)]);
  }
  out.push(table(costRows));
  return out.join('\n');
}

function unit(v: number, u: CostRow['unit'], f: (x: number) => string): string {
  return u === 'count' ? exact(v) : f(v);
}
