/**
 * `mspec profile`'s numbers: per plan step and per kind of step, time, GFLOP/s and GB/s from
 * the kernel's own FLOP and byte counts (PlanKernel.flops/bytes; a copy moves its bytes once),
 * and share; the sums against the step as the runtime runs it. One JSON shape, and the table
 * a user reads.
 */
import type { KernelPlan, PlanStep } from '../../runtime/plan-types.js';
import type { PlanTimings, TimingMethod } from '../../runtime/profile.js';
import { stepKind } from './profile-kinds.js';
import { table } from './units.js';

export interface StepRow {
  readonly index: number;
  readonly step: PlanStep['kind'];
  readonly scope: string;
  /** The kernel's name, or the step kind of a copy/clear. */
  readonly name: string;
  readonly kind: string;
  readonly ms: number;
  /** As timed, before the timing overhead was taken off. */
  readonly rawMs: number;
  /** Time between the previous step's end and this one's start in the profiled encoding (pass set-up). */
  readonly gapMs: number;
  readonly flops: number;
  readonly bytes: number;
  readonly gflops: number;
  readonly gbps: number;
  /** Of the sum of every step's time. */
  readonly share: number;
}

export interface KindRow {
  readonly kind: string;
  readonly steps: number;
  readonly ms: number;
  readonly flops: number;
  readonly bytes: number;
  readonly gflops: number;
  readonly gbps: number;
  readonly share: number;
}

export interface PlanReport {
  /** What was timed: 'decode', 'prefill', 'forward', 'encode' or 'train'. */
  readonly name: string;
  readonly mode: KernelPlan['mode'];
  readonly B: number;
  readonly T: number;
  /** Decode plans: the position the step decodes at. */
  readonly position?: number;
  readonly steps: readonly StepRow[];
  readonly kinds: readonly KindRow[];
  readonly totals: {
    /** Σ step times (kernels and copies) of one run, median over the runs. */
    readonly stepsMs: number;
    /** The same before the timing overhead was taken off each step. */
    readonly rawStepsMs: number;
    /** The timing overhead taken off each kernel and each copy/clear (runtime/profile-overhead.ts). */
    readonly overheadKernelMs: number;
    readonly overheadCopyMs: number;
    /** Σ gaps between steps in the profiled encoding (its own overhead, not in `stepsMs`). */
    readonly gapsMs: number;
    /** The whole profiled encoding (stepsMs + gapsMs with timestamps). */
    readonly profiledMs: number;
    /** The plan as the runtime encodes it (median). */
    readonly measuredMs: number;
    /** measuredMs − stepsMs of one round, median over the rounds: the step's time outside its kernels and copies (negative: they took longer alone). */
    readonly outsideMs: number;
    /** Σ steps / the measured step of the same round, median over the rounds: within 0.9–1.1 the steps account for the step. */
    readonly ratio: number;
    /** Wall clock per run, runs submitted back to back. */
    readonly wallMs: number;
    readonly flops: number;
  };
}

const rate = (amount: number, ms: number) => (ms > 0 ? amount / (ms * 1e6) : 0);

/** Bytes a memory step moves (written once; read too, for a copy). */
function memoryBytes(plan: KernelPlan, s: PlanStep): number {
  if (s.kind === 'copy') return 2 * s.bytes;
  if (s.kind === 'cache_write') return 2 * s.rows * s.rowBytes;
  if (s.kind === 'clear') return s.buffers.reduce((n, b) => n + (plan.buffers.find((x) => x.name === b)?.bytes ?? 0), 0);
  return 0;
}

export function planReport(name: string, plan: KernelPlan, t: PlanTimings, position?: number): PlanReport {
  // Shares are of the table's own sum, so they add up to 1 (the medians' sum is near t.stepsMs).
  const tableMs = t.steps.reduce((a, s) => a + s.ms, 0);
  const rows: StepRow[] = plan.steps.map((s, index) => {
    const k = s.kind === 'kernel' ? plan.kernels[s.kernel]! : null;
    const { ms, rawMs, gapMs } = t.steps[index]!;
    const flops = k?.flops ?? 0;
    const bytes = k ? k.bytes : memoryBytes(plan, s);
    const kernelName = k?.name ?? s.kind;
    return {
      index,
      step: s.kind,
      scope: s.scope,
      name: kernelName,
      kind: stepKind(s, k),
      ms,
      rawMs,
      gapMs,
      flops,
      bytes,
      gflops: rate(flops, ms),
      gbps: rate(bytes, ms),
      share: tableMs > 0 ? ms / tableMs : 0,
    };
  });
  const byKind = new Map<string, { steps: number; ms: number; flops: number; bytes: number }>();
  for (const r of rows) {
    const k = byKind.get(r.kind) ?? { steps: 0, ms: 0, flops: 0, bytes: 0 };
    byKind.set(r.kind, { steps: k.steps + 1, ms: k.ms + r.ms, flops: k.flops + r.flops, bytes: k.bytes + r.bytes });
  }
  const kinds: KindRow[] = [...byKind]
    .map(([kind, k]) => ({ kind, ...k, gflops: rate(k.flops, k.ms), gbps: rate(k.bytes, k.ms), share: tableMs > 0 ? k.ms / tableMs : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return {
    name,
    mode: plan.mode,
    B: plan.B,
    T: plan.T,
    ...(position !== undefined ? { position } : {}),
    steps: rows,
    kinds,
    totals: {
      stepsMs: t.stepsMs,
      rawStepsMs: t.rawStepsMs,
      overheadKernelMs: t.overhead.kernelMs,
      overheadCopyMs: t.overhead.copyMs,
      gapsMs: t.gapsMs,
      profiledMs: t.profiledMs,
      measuredMs: t.stepMs,
      outsideMs: t.outsideMs,
      ratio: t.ratio,
      wallMs: t.wallMs,
      flops: rows.reduce((a, r) => a + r.flops, 0),
    },
  };
}

const ms = (x: number) => x.toFixed(x >= 100 ? 1 : x >= 1 ? 3 : 4);
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const METHOD_TEXT: Record<TimingMethod, string> = {
  timestamps: 'GPU timestamp queries, each step in a compute pass of its own',
  'wall-clock': 'wall clock, each step submitted alone less an empty submit (this adapter has no timestamp queries)',
};

function title(r: PlanReport): string {
  const at = r.position !== undefined ? `, at position ${r.position}` : '';
  return `${r.name} (${r.mode} plan, B ${r.B} × T ${r.T}${at}): ${r.steps.length} steps`;
}

/** The table of one plan: its steps, its kinds, and how the sums compare with the measured step. */
export function planText(r: PlanReport, runs: number): string {
  const head = ['#', 'scope', 'kernel', 'ms', 'GFLOP/s', 'GB/s', 'share'];
  const steps = r.steps.map((s) => [String(s.index), s.scope, s.name, ms(s.ms), num(s.gflops), num(s.gbps), pct(s.share)]);
  const kinds = r.kinds.map((k) => [k.kind, String(k.steps), ms(k.ms), num(k.gflops), num(k.gbps), pct(k.share)]);
  const t = r.totals;
  const signed = (x: number) => (x < 0 ? `−${ms(-x)}` : ms(x));
  const share = t.measuredMs > 0 ? (100 * t.outsideMs) / t.measuredMs : 0;
  const sums: [string, string, string][] = [
    [
      'kernels and copies (Σ of one run)',
      ms(t.stepsMs),
      `as timed ${ms(t.rawStepsMs)} ms, less ${ms(t.overheadKernelMs)} per kernel and ${ms(t.overheadCopyMs)} per copy for timing each alone`,
    ],
    ['step as the runtime encodes it', ms(t.measuredMs), ''],
    [
      'outside kernels (step − Σ)',
      signed(t.outsideMs),
      `${share < 0 ? '−' : ''}${Math.abs(share).toFixed(1)}% of the step; Σ/step ${t.ratio.toFixed(2)}`,
    ],
    [`wall clock per step (${runs} back to back)`, ms(t.wallMs), ''],
  ];
  const labelWidth = Math.max(...sums.map(([l]) => l.length));
  const valueWidth = Math.max(...sums.map(([, v]) => v.length));
  const sumLines = sums.map(([l, v, note]) => `  ${l.padEnd(labelWidth)}  ${v.padStart(valueWidth)} ms${note ? `   (${note})` : ''}`);
  return [
    title(r),
    table([head, ...steps]),
    '',
    '  by kind:',
    table([['kind', 'steps', 'ms', 'GFLOP/s', 'GB/s', 'share'], ...kinds], '    '),
    '',
    ...sumLines,
  ].join('\n');
}
