/**
 * softmax_xent: the loss over the logits, as per-row losses then their mean (two kernels, so
 * the mean is summed in a fixed order). Training writes d(mean loss)/d(logits) over the
 * logits in the same kernel (the probabilities are never stored apart), so the backward has
 * nothing left to do. Sampling plans (prefill/decode) read logits only and skip it. Padding
 * columns of a vocab_multiple vocabulary (past `classes`) are masked in the kernel: out of the
 * loss, zero gradient.
 */
import { generateSoftmaxXent, generateXentMean } from '../../codegen/wgsl/kernels/softmax-xent.js';
import type { GroupModule } from '../context.js';

export interface SoftmaxXentGroup {
  readonly kind: 'softmax_xent';
  readonly logits: number;
  readonly targets: number;
  /** The real vocabulary when the logits are padded past it (the IR op's `classes`); null: every column. */
  readonly classes: number | null;
  readonly out: number;
  readonly scope: string;
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
