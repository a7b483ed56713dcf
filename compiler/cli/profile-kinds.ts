/**
 * The kind of work a plan step does, for `mspec profile`'s per-kind summary: kernels grouped
 * into families a user tunes together (matmuls, attention, norms, the optimizer, …) by their
 * generated names. Plans change as kernels are fused and renamed, so the rules are patterns
 * and anything unknown is its own kind (its name without the shape), never dropped.
 */
import type { PlanKernel, PlanStep } from '../../runtime/plan-types.js';

/** First match wins: the MoE expert matmuls are matmuls before the other MoE kernels are routing. */
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/^(mm_|linear|matmul|moe_grouped_(matmul|dw|dx))/, 'matmul'],
  [/^column_sum/, 'bias grad'],
  [/^(attention|relative_bias)/, 'attention'],
  [/norm/, 'norm'],
  [/^(embed|take)/, 'embedding'],
  [/^moe_/, 'moe routing'],
  [/(xent|loss)/, 'loss'],
  [/^(adamw|adam|sgd|sum_squares|clip|optim)/, 'optimizer'],
  [/^(add|activation|glu|rope|scale|mul|dropout)/, 'elementwise'],
  [/^sample/, 'sample'],
];

/** A kernel whose name says nothing known: the IR ops it fuses (PlanKernel.fuses), first match wins. */
const BY_OPS: readonly (readonly [RegExp, string])[] = [
  [/^(linear|matmul)/, 'matmul'],
  [/^attention/, 'attention'],
  [/norm/, 'norm'],
  [/^embedding/, 'embedding'],
  [/(xent|loss)/, 'loss'],
  [/^(add|rope|glu|gelu|relu|silu|mul|scale|dropout)/, 'elementwise'],
];

/** The kind of a plan step: a kernel's family, or 'copy' / 'clear' for the memory steps between kernels. */
export function stepKind(step: PlanStep, kernel: Pick<PlanKernel, 'name' | 'fuses'> | null): string {
  if (step.kind === 'clear') return 'clear';
  if (step.kind !== 'kernel' || !kernel) return 'copy';
  // The optimizer's kernels all sit under one scope, whatever they are called.
  if (step.scope === 'optim') return 'optimizer';
  for (const [re, kind] of FAMILIES) if (re.test(kernel.name)) return kind;
  // e.g. decode's fused projections that write the KV cache (qk_…, qkv_…_rope) are matmuls.
  for (const [re, kind] of BY_OPS) if (kernel.fuses.some((op) => re.test(op))) return kind;
  return kernel.name.replace(/_\d+(x\d+)*.*$/, '');
}
