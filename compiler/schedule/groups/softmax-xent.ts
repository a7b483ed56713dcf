/**
 * softmax_xent: the loss over the logits, as per-row losses then their mean (two kernels, so
 * the mean is summed in a fixed order). Training writes d(mean loss)/d(logits) over the
 * logits in the same kernel (the probabilities are never stored apart), so the backward has
 * nothing left to do. Sampling plans (prefill/decode) read logits only and skip it. Padding
 * columns of a vocab_multiple vocabulary (past `classes`) are masked in the kernel: out of the
 * loss, zero gradient.
 */
import { generateSoftmaxXent, generateXentMean } from '../../codegen/wgsl/kernels/softmax-xent.js';
import {
  generateXentChunkCombine,
  generateXentChunkGrad,
  generateXentChunkStats,
} from '../../codegen/wgsl/kernels/softmax-xent-chunked.js';
import type { VocabChunk } from '../chunks.js';
import type { GroupModule, PlanContext } from '../context.js';

export interface SoftmaxXentGroup {
  readonly kind: 'softmax_xent';
  readonly logits: number;
  readonly targets: number;
  /** The real vocabulary when the logits are padded past it (the IR op's `classes`); null: every column. */
  readonly classes: number | null;
  readonly out: number;
  readonly scope: string;
}

/**
 * Logits the LM head wrote in vocabulary chunks (groups/linear.ts): per-chunk row statistics,
 * one combine into the log-sum-exp and the row losses (and accuracy flags when evaluating),
 * then, training, each chunk's gradient in place (../../codegen/wgsl/kernels/softmax-xent-chunked.ts).
 */
function chunkedXent(c: PlanContext, g: SoftmaxXentGroup, lossRows: string, rows: number, classes: number, chunks: readonly VocabChunk[]) {
  const { P, graph } = c;
  const sg = { tuning: c.tuning, subgroupMinSize: c.sg };
  const logits = P.buf(g.logits);
  const targets = P.buf(g.targets);
  const stats = P.scratch(`xent.stats:${logits}`, [rows, chunks.length, 2]);
  const tlogit = P.scratch(`xent.target_logit:${logits}`, [rows]);
  const lse = P.scratch(`xent.lse:${logits}`, [rows]);
  const spec = (ch: VocabChunk, chunk: number) => ({ rows, cols: ch.cols, col0: ch.col0, chunks: chunks.length, chunk, classes, ...sg });
  chunks.forEach((ch, j) =>
    P.emit(generateXentChunkStats(spec(ch, j)), { logits, targets, stats, tlogit }, g.scope, {}, { logits: ch.logits }),
  );
  const correct = c.training ? null : P.scratch(`${graph.values[g.out]!.name}.correct#${g.out}`, [rows]);
  P.emit(
    generateXentChunkCombine({ rows, chunks: chunks.length, classes, correct: correct !== null }),
    { stats, targets, tlogit, lse, loss_rows: lossRows, ...(correct ? { correct_rows: correct } : {}) },
    g.scope,
  );
  if (correct) c.correct = correct;
  if (c.training)
    chunks.forEach((ch, j) => P.emit(generateXentChunkGrad(spec(ch, j)), { logits, targets, lse }, g.scope, {}, { logits: ch.logits }));
}

export const softmaxXent: GroupModule<SoftmaxXentGroup> = {
  forward(c, g) {
    if (c.cached) return;
    const { P, graph } = c;
    const { rows, width } = P.rowsOf(g.logits);
    const sg = { tuning: c.tuning, subgroupMinSize: c.sg };
    const lossRows = c.training
      ? P.scratch(`loss_rows:${P.buf(g.out)}`, [rows])
      : P.add({ name: `${graph.values[g.out]!.name}.rows#${g.out}`, kind: 'activation', dtype: 'f32', shape: [rows], bytes: 4 * rows });
    const classes = g.classes !== null ? { classes: g.classes } : {};
    if (c.logitChunks?.buffer === P.buf(g.logits)) {
      chunkedXent(c, g, lossRows, rows, g.classes ?? width, c.logitChunks.chunks);
      P.emit(
        generateXentMean({ rows, V: width, ...classes, ...sg }),
        { loss_rows: lossRows, targets: P.buf(g.targets), loss: P.buf(g.out) },
        g.scope,
      );
      c.loss = P.buf(g.out);
      return;
    }
    // Evaluation also flags the rows whose argmax is the target: accuracy without reading logits back.
    const correct = c.training ? null : P.scratch(`${graph.values[g.out]!.name}.correct#${g.out}`, [rows]);
    const xent = generateSoftmaxXent({
      rows,
      V: width,
      ...classes,
      ...(c.training ? { dlogits: 'in_place' as const } : { correct: true }),
      mean: 'separate',
      ...sg,
    });
    P.emit(
      xent,
      { logits: P.buf(g.logits), targets: P.buf(g.targets), loss_rows: lossRows, ...(correct ? { correct_rows: correct } : {}) },
      g.scope,
    );
    if (correct) c.correct = correct;
    P.emit(
      generateXentMean({ rows, V: width, ...classes, ...sg }),
      { loss_rows: lossRows, targets: P.buf(g.targets), loss: P.buf(g.out) },
      g.scope,
    );
    c.loss = P.buf(g.out);
  },
  backward() {
    // d(logits) was written by the forward kernel.
  },
};
