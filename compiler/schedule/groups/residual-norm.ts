/**
 * residual_norm: the residual add and the LayerNorm/RMSNorm that reads it, one kernel
 * (sum = x + branch; out = norm(sum)), writing the new residual stream only when something
 * reads it. Training keeps the sum and the row statistics (mean, rstd) for the backward,
 * which produces d(sum) (plus the residual's own gradient) and the scale/bias gradients.
 */
import { generateNormParamGrad, generateResidualNormBackward } from '../../codegen/wgsl/kernels/backward/residual-norm-bwd.js';
import { generateResidualNorm } from '../../codegen/wgsl/kernels/residual-norm.js';
import type { GroupModule } from '../context.js';

export type NormKind = 'layernorm' | 'rmsnorm';

export interface ResidualNormGroup {
  readonly kind: 'residual_norm';
  readonly x: number;
  readonly branch: number | null;
  /** The residual sum, when a branch is added (null: nothing reads it). */
  readonly sum: number | null;
  readonly out: number;
  readonly norm: NormKind;
  readonly eps: number;
  readonly weight: number | null;
  readonly bias: number | null;
  readonly scope: string;
}

/** Training: the statistics buffer and the normalised input (the residual sum, or x). */
interface Saved {
  readonly stats: string;
  readonly sum: string;
}

export const residualNorm: GroupModule<ResidualNormGroup, Saved | null> = {
  forward(c, g) {
    const { P } = c;
    const { rows, width } = P.rowsOf(g.x);
    const common = {
      rows,
      C: width,
      norm: g.norm,
      eps: g.eps,
      branch: g.branch !== null,
      weight: g.weight !== null,
      bias: g.bias !== null,
      tuning: c.tuning,
      subgroupMinSize: c.sg,
    };
    if (!c.training) {
      const k = generateResidualNorm({ ...common, sum: g.branch === null || g.sum === null ? 'none' : 'separate' });
      const bind: Record<string, string> = { x: P.buf(g.x), out: P.buf(g.out) };
      if (g.branch !== null) bind.y = P.buf(g.branch);
      if (g.branch !== null && g.sum !== null) bind.sum = P.buf(g.sum);
      if (g.weight !== null) bind.weight = P.buf(g.weight);
      if (g.bias !== null) bind.bias = P.buf(g.bias);
      P.emit(k, bind, g.scope);
      return null;
    }
    // The backward needs the normalised input: the residual sum (always written here) and (mean, rstd).
    const sum = g.branch !== null ? (g.sum !== null ? P.buf(g.sum) : P.scratch(`sum:${P.buf(g.out)}`, [rows, width])) : P.buf(g.x);
    const stats = P.scratch(`stats:${P.buf(g.out)}`, [rows, 2]);
    const k = generateResidualNorm({ ...common, sum: g.branch === null ? 'none' : 'separate', stats: true });
    const bind: Record<string, string> = { x: P.buf(g.x), out: P.buf(g.out), stats };
    if (g.branch !== null) {
      bind.y = P.buf(g.branch);
      bind.sum = sum;
    }
    if (g.weight !== null) bind.weight = P.buf(g.weight);
    if (g.bias !== null) bind.bias = P.buf(g.bias);
    P.emit(k, bind, g.scope);
    return { stats, sum };
  },
  backward(c, d, g, saved) {
    const { P, graph } = c;
    const out = P.buf(g.out);
    const dOut = d.of(out);
    const { stats, sum } = saved!;
    const { rows, width } = P.rowsOf(g.x);
    const dResid = g.sum !== null ? d.of(P.buf(g.sum)) : undefined;
    if (!dOut && !dResid) return;
    // d(sum) = d(residual, if read downstream) + the norm's backward.
    const dSum = P.scratch(`dsum:${out}`, [rows, width]);
    const bytes = 4 * rows * width;
    if (dOut) {
      P.emit(
        generateResidualNormBackward({
          rows,
          C: width,
          norm: g.norm,
          eps: g.eps,
          weight: g.weight !== null,
          bias: g.bias !== null,
          accumulate: dResid !== undefined,
          tuning: c.tuning,
          subgroupMinSize: c.sg,
        }),
        {
          x: sum,
          stats,
          ...(g.weight !== null ? { weight: P.buf(g.weight) } : {}),
          dout: dOut,
          ...(dResid ? { dresid: dResid } : {}),
          dx: dSum,
        },
        g.scope,
      );
      if (g.weight !== null || g.bias !== null) {
        const bind: Record<string, string> = { dout: dOut };
        if (g.weight !== null) {
          bind.x = sum;
          bind.stats = stats;
          bind.dweight = P.scratch(d.name(P.buf(g.weight)), [width]);
          d.set(P.buf(g.weight), bind.dweight);
        }
        if (g.bias !== null) {
          bind.dbias = P.scratch(d.name(P.buf(g.bias)), [width]);
          d.set(P.buf(g.bias), bind.dbias);
        }
        P.emit(generateNormParamGrad({ rows, C: width, norm: g.norm, weight: g.weight !== null, bias: g.bias !== null }), bind, g.scope);
      }
    } else P.steps.push({ kind: 'copy', src: dResid!, dst: dSum, bytes, scope: g.scope });
    for (const v of g.branch !== null ? [g.x, g.branch] : [g.x]) {
      if (graph.values[v]!.source === 'input') continue;
      d.contribute(P.buf(v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dSum, dst, bytes, scope: g.scope }));
    }
  },
};
