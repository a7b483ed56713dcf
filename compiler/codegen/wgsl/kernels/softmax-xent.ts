/**
 * Fused softmax + cross-entropy over rows of logits (rows, V) with i32 targets (rows):
 *   loss_rows[r] = logsumexp(logits[r]) − logits[r, target[r]]     (0 when the row is ignored)
 *   loss[0]      = mean of loss_rows over the counted rows           (0 when none is counted)
 *   dlogits[r]   = (softmax(logits[r]) − onehot(target[r])) / count  (optional; 0 for ignored rows)
 *   correct_rows[r] = 1 when the row counts and its target's logit is the row's maximum, else 0
 *                     (optional: a masked LM's accuracy without reading the logits back; a tie
 *                     for the maximum counts as correct)
 * A row is ignored when its target is < 0 (or >= V). With `classes` < V (a vocabulary padded to
 * vocab_multiple) only columns < classes are classes: the padding columns are read as −∞ (so
 * nothing they hold, even Inf or NaN, reaches the loss), get a zero gradient, and a target
 * among them is ignored like one past V. The probabilities are never stored: the
 * backward (dlogits) is written in the same pass, llm.c style, optionally over the logits
 * themselves (they are usually the largest buffer of a training step).
 *
 * One workgroup per row. Pass 1 keeps a running (max, sum of exp) per invocation, combined
 * across the workgroup by two reductions; pass 2 (dlogits only) writes exp(x − lse). The
 * mean is taken by whichever workgroup finishes last (an atomic ticket): it sums loss_rows
 * in a fixed order, so the result is deterministic; or, with mean: 'separate', by the small
 * generateXentMean kernel dispatched after this one.
 *
 * On the ticket: WGSL has no device-scope fence, so storageBarrier + an atomic counter (the
 * CUDA "threadfence reduction" pattern) is what every WebGPU implementation runs correctly in
 * practice (lavapipe: x86 memory order) but not something the WGSL memory model promises.
 * mean: 'separate' is the strictly portable choice; it costs one more (tiny) dispatch.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, grid, NEG, rowWorkgroupSize, u32, vectorized } from './common.js';
import { useSubgroups, workgroupReduce, type ReduceOptions } from './reduce.js';

/** Entry point default 'softmax_xent'. */
export interface SoftmaxXentSpec extends ReduceOptions {
  rows: number;
  /** Vocabulary size (row width). */
  V: number;
  /** The real vocabulary when the rows are padded past it; columns >= classes are no classes. Default V. */
  classes?: number;
  /** Write the gradient of the mean loss w.r.t. the logits: into dlogits ('separate') or over logits ('in_place'). Default none. */
  dlogits?: 'separate' | 'in_place';
  /**
   * 'last_workgroup' (default): this kernel also writes loss[0], using the xent_sync ticket
   * (a u32 that must be 0 before the first dispatch; the kernel leaves it 0). 'separate':
   * only loss_rows; dispatch generateXentMean next.
   */
  mean?: 'last_workgroup' | 'separate';
  /** Also write correct_rows (the argmax-equals-target flag of each row). Default false. */
  correct?: boolean;
}

/** classes (default V) checked to lie in [1, V]. */
function checkClasses(kernel: string, classes: number | undefined, V: number): number {
  checkInt(kernel, 'classes', classes);
  if (classes !== undefined && classes > V) throw new Error(`${kernel}: classes ${classes} must be <= V ${V}`);
  return classes ?? V;
}

/**
 * Bindings, in order: logits [rows, V] (read_write when dlogits is 'in_place'), targets (i32
 * [rows]), loss_rows [rows], loss [1] and xent_sync (u32 [1]) unless mean is 'separate',
 * dlogits [rows, V] when 'separate', correct_rows [rows] with `correct`.
 */
export function generateSoftmaxXent(spec: SoftmaxXentSpec): WgslKernel {
  const entryPoint = entryName('softmax_xent', spec.name);
  for (const d of ['rows', 'V'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows, V } = spec;
  const K = checkClasses(entryPoint, spec.classes, V);
  const grad = spec.dlogits ?? null;
  const lastWg = (spec.mean ?? 'last_workgroup') === 'last_workgroup';
  const { w, V: Vt, units: V4 } = vectorized(V);
  const sg = spec.subgroupMinSize ?? 0;
  const WG = spec.workgroupSize ?? rowWorkgroupSize(V4, spec.tuning ?? 'gpu', sg);

  const b = new Bindings(entryPoint)
    .storage('logits', grad === 'in_place' ? 'read_write' : 'read', [rows, V], Vt)
    .storage('targets', 'read', [rows], 'i32')
    .storage('loss_rows', 'read_write', [rows]);
  if (lastWg) b.storage('loss', 'read_write', [1]).storage('xent_sync', 'read_write', [1], 'atomic<u32>');
  if (grad === 'separate') b.storage('dlogits', 'read_write', [rows, V], Vt);
  if (spec.correct) b.storage('correct_rows', 'read_write', [rows]);

  const g = grid(entryPoint, rows, WG);
  const dst = grad === 'in_place' ? 'logits' : 'dlogits';
  const loopRow = (body: string, n = V4) => `for (var c = lid; c < ${u32(n)}; c += ${u32(WG)}) {\n    ${body}\n  }`;
  // Padding columns (>= K) read as NEG. The max/sum pass stops at the last vector holding a
  // class, so it masks only a vector that straddles K; the gradient pass covers every column.
  const K4 = Math.ceil(K / w);
  const load = (mask: boolean) =>
    !mask
      ? 'logits[base + c]'
      : w === 4
        ? `select(vec4<f32>(${NEG}), logits[base + c], vec4<u32>(c * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(${u32(K)}))`
        : `select(${NEG}, logits[base + c], c < ${u32(K)})`;
  const hmax = w === 4 ? 'max(max(x.x, x.y), max(x.z, x.w))' : 'x';
  const hexp = w === 4 ? 'dot(exp(x - vec4<f32>(mn)), vec4<f32>(1.0))' : 'exp(x - mn)';
  const valid = (e: string) => `${e} >= 0i && ${e} < ${K}i`;
  // The number of counted rows, summed by the whole workgroup (the same in every workgroup).
  const countRows = `var cnt = 0.0;
  for (var k = lid; k < ${u32(rows)}; k += ${u32(WG)}) { cnt += select(0.0, 1.0, ${valid('targets[k]')}); }
  let count = wg_sum(cnt, lid);`;
  const oneHot =
    w === 4
      ? `select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(c * 4u) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(u32(tgt)))`
      : `select(0.0, 1.0, c == u32(tgt))`;
  const gradient = grad
    ? `
  ${countRows}
  let scale = select(0.0, 1.0 / count, ok);  // ignored rows get a zero gradient
  ${loopRow(`${dst}[base + c] = (exp(${load(K < V)} - ${Vt}(lse)) - ${oneHot}) * scale;`)}`
    : '';
  const mean = lastWg
    ? `
  // The last workgroup to finish takes the mean, in a fixed order (deterministic).
  storageBarrier();
  if (lid == 0u) { ticket = atomicAdd(&xent_sync[0], 1u); }
  if (workgroupUniformLoad(&ticket) == ${u32(rows - 1)}) {
    var tot = 0.0;
    for (var k = lid; k < ${u32(rows)}; k += ${u32(WG)}) { tot += loss_rows[k]; }
    let total = wg_sum(tot, lid);
    ${grad ? '' : countRows}
    if (lid == 0u) {
      loss[0] = select(0.0, total / count, count > 0.0);
      atomicStore(&xent_sync[0], 0u);
    }
  }`
    : '';
  // logits[r, target] is read before anything is written over the logits (in place).
  const main = g.main(`let base = wg * ${u32(V4)};
  let tgt = targets[wg];
  let ok = ${valid('tgt')};
  let tcol = u32(clamp(tgt, 0i, ${V - 1}i));
  let x_t = logits[base + tcol${w === 4 ? ' / 4u][tcol % 4u' : ''}];
  var m = ${NEG};
  var s = 0.0;
  ${loopRow(
    `let x = ${load(K % w !== 0)};
    let mn = max(m, ${hmax});
    s = s * exp(m - mn) + ${hexp};
    m = mn;`,
    K4,
  )}
  let row_max = wg_max(m, lid);
  let row_sum = wg_sum(s * exp(m - row_max), lid);
  let lse = row_max + log(row_sum);
  if (lid == 0u) { loss_rows[wg] = select(0.0, lse - x_t, ok); }${spec.correct ? '\n  if (lid == 0u) { correct_rows[wg] = select(0.0, 1.0, ok && x_t >= row_max); }' : ''}${grad === 'in_place' ? '\n  storageBarrier(); // every x_t read before any logit is overwritten' : ''}${gradient}${mean}`);
  const reduce = workgroupReduce(WG, sg, ['max', 'sum']);
  const gradNote = grad ? `; ${grad === 'in_place' ? 'logits' : 'dlogits'} = (softmax − onehot) / count` : '';
  return assemble({
    entryPoint,
    fuses: ['softmax_xent'],
    shapes: { logits: [rows, V], targets: [rows] },
    notes: [
      `loss_rows = logsumexp − logit[target]${lastWg ? `; loss[0] = mean over rows with 0 <= target < ${K < V ? K : 'V'}` : ''}${gradNote}` +
        (K < V ? `; columns ${K}..${V - 1} are vocabulary padding: out of the logsumexp, zero gradient` : '') +
        (spec.correct ? '; correct_rows = (logit[target] is the row maximum)' : ''),
      `one workgroup of ${WG} per row; online (max, sum exp) per invocation; ${useSubgroups(WG, sg) ? 'subgroup' : 'tree'} reductions` +
        `${lastWg ? '; the last workgroup (atomic ticket in xent_sync) takes the mean' : ''}`,
    ],
    bindings: b,
    launch: g,
    flops: rows * (K * 4 + (grad ? V * 3 : 0)),
    ...reduce,
    prelude: reduce.prelude + (lastWg ? '\n\nvar<workgroup> ticket: u32;' : ''),
    workgroupStorageBytes: reduce.workgroupStorageBytes + (lastWg ? 4 : 0), // + the ticket
    main,
  });
}

/** Entry point default 'xent_mean'. */
export interface XentMeanSpec extends Omit<ReduceOptions, 'workgroupSize'> {
  rows: number;
  /** Vocabulary size: targets outside [0, V) are not counted. */
  V: number;
  /** The real vocabulary when padded: targets outside [0, classes) are not counted. Default V. */
  classes?: number;
}

/** One workgroup: loss[0] = Σ loss_rows / count of rows with a target in [0, V) (0 if none). Bindings: loss_rows [rows], targets (i32 [rows]), loss [1]. */
export function generateXentMean(spec: XentMeanSpec): WgslKernel {
  const entryPoint = entryName('xent_mean', spec.name);
  for (const d of ['rows', 'V'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows } = spec;
  const V = checkClasses(entryPoint, spec.classes, spec.V);
  const sg = spec.subgroupMinSize ?? 0;
  const WG = rowWorkgroupSize(rows, spec.tuning ?? 'gpu', sg);
  const b = new Bindings(entryPoint)
    .storage('loss_rows', 'read', [rows])
    .storage('targets', 'read', [rows], 'i32')
    .storage('loss', 'read_write', [1]);
  return assemble({
    entryPoint,
    fuses: ['softmax_xent'],
    shapes: { loss_rows: [rows] },
    notes: ['loss[0] = Σ loss_rows / (rows with 0 <= target < V), 0 when no row counts; one workgroup, fixed summation order'],
    bindings: b,
    launch: { workgroupSize: [WG, 1, 1], dispatch: [1, 1, 1] },
    flops: 2 * rows,
    ...workgroupReduce(WG, sg, ['sum'], 'vec2<f32>'),
    main: `@compute @workgroup_size(${WG})
fn ${entryPoint}(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2<f32>(0.0);
  for (var k = lid; k < ${u32(rows)}; k += ${u32(WG)}) {
    let t = targets[k];
    acc += vec2<f32>(loss_rows[k], select(0.0, 1.0, t >= 0i && t < ${V}i));
  }
  let tot = wg_sum(acc, lid);
  if (lid == 0u) { loss[0] = select(0.0, tot.x / tot.y, tot.y > ${f32(0)}); }
}`,
  });
}
