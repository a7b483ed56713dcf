/**
 * Softmax + cross-entropy over logits too large for one storage binding (GPT-2's 50,257-wide
 * rows × a 1,024-token sequence is 206 MB): the LM head writes the logits as vocabulary
 * chunks, chunk j a contiguous [rows, N_j] block of columns n0_j … n0_j + N_j − 1, and the
 * loss is taken chunk by chunk in three kernels:
 *   stats   (per chunk) — each row's (max, Σ exp(x − max)) over the chunk's columns into
 *           stats[row, j], and the target's logit into tlogit[row] from the one chunk
 *           holding the target;
 *   combine (once)      — lse = M + log Σ_j s_j·exp(m_j − M) with M = max_j m_j; loss_rows,
 *           and correct_rows (the target's logit is the row maximum) for evaluation;
 *   grad    (per chunk, training) — dlogits = (exp(x − lse) − onehot) / count over the chunk, in place.
 * generateXentMean (./softmax-xent.ts) then takes the mean. Targets < 0 or ≥ classes are
 * ignored rows and padding columns (≥ classes) are out of the loss with a zero gradient,
 * exactly as in the one-binding kernel; every sum runs in a fixed order (deterministic).
 */
import type { KernelTuning, WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, grid, linear, NEG, rowWorkgroupSize, u32 } from './common.js';
import { useSubgroups, workgroupReduce } from './reduce.js';

/** One vocabulary chunk of the logits: columns col0 … col0 + cols − 1. */
export interface XentChunkSpec {
  rows: number;
  /** Columns of this chunk. */
  cols: number;
  /** Its first column in the whole vocabulary. */
  col0: number;
  /** Chunks in all, and this chunk's index. */
  chunks: number;
  chunk: number;
  /** The real vocabulary (columns ≥ classes are padding). */
  classes: number;
  tuning?: KernelTuning;
  subgroupMinSize?: number;
}

function check(kernel: string, s: XentChunkSpec): number {
  for (const d of ['rows', 'cols', 'chunks', 'classes'] as const) checkInt(kernel, d, s[d]);
  checkInt(kernel, 'col0', s.col0, 0);
  checkInt(kernel, 'chunk', s.chunk, 0);
  if (s.chunk >= s.chunks) throw new Error(`${kernel}: chunk ${s.chunk} of ${s.chunks}`);
  return rowWorkgroupSize(s.cols, s.tuning ?? 'gpu', s.subgroupMinSize ?? 0);
}

const valid = (e: string, classes: number) => `${e} >= 0i && ${e} < ${classes}i`;

/**
 * Bindings: logits [rows, cols] (this chunk), targets (i32 [rows]), stats [rows, chunks, 2]
 * (read_write: this chunk's pair of every row), tlogit [rows] (read_write: the rows whose target is in this chunk).
 */
export function generateXentChunkStats(s: XentChunkSpec): WgslKernel {
  const entryPoint = entryName('xent_chunk_stats', undefined);
  const WG = check(entryPoint, s);
  const sg = s.subgroupMinSize ?? 0;
  const { rows, cols, col0, chunks, chunk, classes } = s;
  const b = new Bindings(entryPoint)
    .storage('logits', 'read', [rows, cols])
    .storage('targets', 'read', [rows], 'i32')
    .storage('stats', 'read_write', [rows, chunks, 2])
    .storage('tlogit', 'read_write', [rows]);
  const g = grid(entryPoint, rows, WG);
  // Columns of this chunk that are classes (not vocabulary padding).
  const real = Math.max(0, Math.min(cols, classes - col0));
  return assemble({
    entryPoint,
    fuses: ['softmax_xent'],
    shapes: { logits: [rows, cols] },
    notes: [
      `vocabulary chunk ${chunk + 1} of ${chunks} (columns ${col0}..${col0 + cols - 1}): stats[row, ${chunk}] = (max, Σ exp(x − max)) over its ${real} class columns; tlogit[row] when the row's target is here`,
      `one workgroup of ${WG} per row; online (max, sum exp); ${useSubgroups(WG, sg) ? 'subgroup' : 'tree'} reductions`,
    ],
    bindings: b,
    launch: g,
    flops: rows * real * 4,
    ...workgroupReduce(WG, sg, ['max', 'sum']),
    main: g.main(`let base = wg * ${u32(cols)};
  var m = ${NEG};
  var s = 0.0;
  for (var c = lid; c < ${u32(real)}; c += ${u32(WG)}) {
    let x = logits[base + c];
    let mn = max(m, x);
    s = s * exp(m - mn) + exp(x - mn);
    m = mn;
  }
  let row_max = wg_max(m, lid);
  let row_sum = wg_sum(s * exp(m - row_max), lid);
  if (lid == 0u) {
    let at = (wg * ${u32(chunks)} + ${u32(chunk)}) * 2u;
    stats[at] = row_max;
    stats[at + 1u] = row_sum;
    let tgt = targets[wg];
    if (${valid('tgt', classes)} && tgt >= ${col0}i && tgt < ${col0 + cols}i) { tlogit[wg] = logits[base + u32(tgt - ${col0}i)]; }
  }`),
  });
}

/**
 * Bindings: stats [rows, chunks, 2], targets (i32 [rows]), tlogit [rows], lse [rows]
 * (read_write), loss_rows [rows] (read_write), correct_rows [rows] (read_write; with `correct`).
 */
export function generateXentChunkCombine(s: { rows: number; chunks: number; classes: number; correct?: boolean }): WgslKernel {
  const entryPoint = 'xent_chunk_combine';
  for (const d of ['rows', 'chunks', 'classes'] as const) checkInt(entryPoint, d, s[d]);
  const { rows, chunks, classes } = s;
  const b = new Bindings(entryPoint)
    .storage('stats', 'read', [rows, chunks, 2])
    .storage('targets', 'read', [rows], 'i32')
    .storage('tlogit', 'read', [rows])
    .storage('lse', 'read_write', [rows])
    .storage('loss_rows', 'read_write', [rows]);
  if (s.correct) b.storage('correct_rows', 'read_write', [rows]);
  const lin = linear(entryPoint, rows);
  return assemble({
    entryPoint,
    fuses: ['softmax_xent'],
    shapes: { stats: [rows, chunks, 2] },
    notes: [
      `lse = M + log Σ_j s_j·exp(m_j − M) over ${chunks} vocabulary chunks; loss_rows = lse − logit[target] (0 for ignored rows)` +
        (s.correct ? '; correct_rows = (logit[target] is the row maximum)' : ''),
      'one invocation per row; chunks combined in order',
    ],
    bindings: b,
    launch: lin,
    flops: rows * chunks * 4,
    main: lin.main(`var mx = ${NEG};
  for (var j = 0u; j < ${u32(chunks)}; j++) { mx = max(mx, stats[(i * ${u32(chunks)} + j) * 2u]); }
  var sum = 0.0;
  for (var j = 0u; j < ${u32(chunks)}; j++) {
    let at = (i * ${u32(chunks)} + j) * 2u;
    sum += stats[at + 1u] * exp(stats[at] - mx);
  }
  let l = mx + log(sum);
  lse[i] = l;
  let tgt = targets[i];
  let ok = ${valid('tgt', classes)};
  loss_rows[i] = select(0.0, l - tlogit[i], ok);${s.correct ? '\n  correct_rows[i] = select(0.0, 1.0, ok && tlogit[i] >= mx);' : ''}`),
  });
}

/** Bindings: logits [rows, cols] (this chunk, read_write: overwritten by its gradient), targets (i32 [rows]), lse [rows]. */
export function generateXentChunkGrad(s: XentChunkSpec): WgslKernel {
  const entryPoint = 'xent_chunk_grad';
  const WG = check(entryPoint, s);
  const sg = s.subgroupMinSize ?? 0;
  const { rows, cols, col0, chunks, chunk, classes } = s;
  const b = new Bindings(entryPoint)
    .storage('logits', 'read_write', [rows, cols])
    .storage('targets', 'read', [rows], 'i32')
    .storage('lse', 'read', [rows]);
  const g = grid(entryPoint, rows, WG);
  return assemble({
    entryPoint,
    fuses: ['softmax_xent'],
    shapes: { logits: [rows, cols] },
    notes: [
      `vocabulary chunk ${chunk + 1} of ${chunks} (columns ${col0}..${col0 + cols - 1}): logits = (exp(x − lse) − onehot(target)) / count, in place; padding columns and ignored rows 0`,
      `one workgroup of ${WG} per row`,
    ],
    bindings: b,
    launch: g,
    flops: rows * cols * 3,
    ...workgroupReduce(WG, sg, ['sum']),
    main: g.main(`// The number of counted rows, summed by the whole workgroup (the same in every workgroup).
  var cnt = 0.0;
  for (var k = lid; k < ${u32(rows)}; k += ${u32(WG)}) { cnt += select(0.0, 1.0, ${valid('targets[k]', classes)}); }
  let count = wg_sum(cnt, lid);
  let tgt = targets[wg];
  let scale = select(0.0, 1.0 / count, ${valid('tgt', classes)});
  let l = lse[wg];
  let base = wg * ${u32(cols)};
  for (var c = lid; c < ${u32(cols)}; c += ${u32(WG)}) {
    let col = ${u32(col0)} + c;
    let p = select(0.0, exp(logits[base + c] - l), col < ${u32(classes)});
    logits[base + c] = (p - select(0.0, 1.0, i32(col) == tgt)) * scale;
  }`),
  });
}
