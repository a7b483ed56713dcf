/**
 * `mspec info specs/*.model --table`: the model zoo as one table, a row per model: size,
 * active size, context, KV cache per token, the compute-optimal token budget and the license
 * of the weights. Printed as a Markdown pipe table with padded columns, so it reads as plain
 * text in a terminal and pastes into a README unchanged; `--json` gives the same rows with
 * exact numbers.
 */
import type { Analysis } from '../passes/analyze.js';
import type { ModelSpec } from '../semantics/model.js';
import type { LicenseInfo } from '../semantics/licenses.js';
import { bytes, exact, short } from './units.js';

export interface ZooRow {
  readonly model: string;
  readonly file: string;
  readonly params: number;
  readonly active_params: number;
  readonly context: number;
  /** Decoder self-attention K and V per token at f16 (0 for an encoder, which keeps no cache). */
  readonly kv_cache_bytes_per_token_f16: number;
  /** 20 × parameters (Hoffmann et al. 2022), as `mspec info` reports. */
  readonly compute_optimal_tokens: number;
  readonly license: LicenseInfo | null;
}

export function zooRow(spec: ModelSpec, a: Analysis): ZooRow {
  return {
    model: spec.name,
    file: spec.file,
    params: a.params.total,
    active_params: a.params.active,
    context: spec.context,
    kv_cache_bytes_per_token_f16: a.kv_cache_bytes_per_token.f16,
    compute_optimal_tokens: a.compute_optimal.tokens,
    license: spec.license,
  };
}

const HEADER = ['model', 'parameters', 'active', 'context', 'KV cache/token (f16)', 'tokens (20 × params)', 'license', 'kind'];
/** Numbers align right (`---:`), words left. */
const RIGHT = [false, true, true, true, true, true, false, false];

export function zooTable(rows: readonly ZooRow[]): string {
  const cells = rows.map((r) => [
    r.model,
    short(r.params),
    short(r.active_params),
    exact(r.context),
    r.kv_cache_bytes_per_token_f16 === 0 ? '—' : bytes(r.kv_cache_bytes_per_token_f16),
    short(r.compute_optimal_tokens),
    r.license?.id ?? '—',
    r.license?.kind ?? '—',
  ]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((x, i) => (RIGHT[i] ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (RIGHT[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(HEADER), rule, ...cells.map(line)].join('\n');
}
