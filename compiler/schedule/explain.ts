/**
 * A kernel plan as readable text: every buffer, every distinct kernel and every step with its
 * bindings. `mspec build --explain` prints the short form; the plan golden tests keep the full
 * form, so a change to fusion or scheduling shows up as a readable diff.
 */
import type { KernelPlan, PlanStep } from '../../runtime/plan-types.js';

export function explainPlanFull(p: KernelPlan): string {
  const lines = [`${p.model} ${p.mode} plan (B=${p.B}, T=${p.T}, vocab ${p.vocab}, context ${p.context})`];
  const chunked = chunkedPrefill(p);
  if (chunked) lines.push(chunked);
  lines.push(`buffers (${p.buffers.length}):`);
  for (const b of p.buffers) lines.push(`  ${b.kind.padEnd(10)} ${b.dtype} ${b.name} [${b.shape.join(', ')}]`);
  lines.push(`kernels (${p.kernels.length}):`);
  p.kernels.forEach((k, i) => {
    lines.push(
      `  #${i} ${k.name} fuses ${k.fuses.join(' + ')}; dispatch ${k.dispatch.join('×')}; ${k.flops} FLOP, ${k.bytes} B; binds ${k.bindings.map((b) => `${b.name}:${b.access}`).join(' ')}`,
    );
  });
  lines.push(`steps (${p.steps.length}):`);
  for (const s of p.steps) lines.push(`  ${s.scope.padEnd(24)} ${step(p, s)}`);
  lines.push(`io: ${JSON.stringify(p.io)}`);
  if (p.train)
    lines.push(
      `train: accumulation ${p.train.accumulation}, micro-steps ${p.train.microSteps}, optim ${p.train.optim}, ${p.train.params.length} parameters`,
    );
  return lines.join('\n') + '\n';
}

/**
 * A chunked prefill (a prefill plan of fewer rows than the context, compile-model.ts) in
 * words; null for any other plan.
 */
export function chunkedPrefill(p: KernelPlan): string | null {
  if (p.mode !== 'prefill' || p.T >= p.context) return null;
  return (
    `chunked prefill: ${p.T} rows per pass (the context's ${p.context} rows do not fit the binding limits); ` +
    `a prompt of n tokens runs as ceil(n / ${p.T}) passes (${Math.ceil(p.context / p.T)} for a full context) at Step.offset 0, ${p.T}, ${2 * p.T}, …`
  );
}

function step(p: KernelPlan, s: PlanStep): string {
  switch (s.kind) {
    case 'kernel':
      return `#${s.kernel} ${p.kernels[s.kernel]!.name}(${Object.entries(s.bind)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`;
    case 'cache_write':
      return `cache_write ${s.rows} row(s) of ${s.rowBytes} B ${s.src} → ${s.dst}`;
    case 'copy':
      return `copy ${s.bytes} B ${s.src} → ${s.dst}`;
    case 'clear':
      return `clear ${s.buffers.join(', ')}`;
  }
}
