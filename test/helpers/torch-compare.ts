/**
 * Comparing mspec's float32 results with a float64 PyTorch reference: the worst element
 * measured against a tolerance abs + rel·|ref|, NaN counted as the worst possible, so a test
 * that asserts `excess <= 1` fails on NaN instead of passing it.
 */
import { expect } from 'vitest';
import type { ModelRuntime } from '../../runtime/model-runtime.js';
import type { TorchFixture } from '../fixtures/torch/load.js';

export interface Tol {
  readonly abs: number;
  readonly rel: number;
}

export interface Worst {
  /** max over i of |got − want| / (abs + rel·|want|); Infinity when any got is not finite. */
  readonly excess: number;
  /** max |got − want| (NaN-poisoned). */
  readonly maxAbs: number;
  readonly index: number;
  readonly got: number;
  readonly want: number;
}

export function worstOf(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): Worst {
  if (got.length < want.length) throw new Error(`test bug: ${got.length} values to compare with ${want.length}`);
  let w: Worst = { excess: 0, maxAbs: 0, index: -1, got: 0, want: 0 };
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? NaN : d;
    const e = Number.isFinite(d) ? d / (tol.abs + tol.rel * Math.abs(want[i]!)) : Infinity;
    if (!(e <= w.excess)) w = { excess: e, maxAbs: 0, index: i, got: got[i]!, want: want[i]! };
  }
  return { ...w, maxAbs };
}

export function describeWorst(what: string, w: Worst): string {
  return `${what}: max |Δ| ${w.maxAbs.toExponential(2)}; worst [${w.index}] got ${w.got} want ${w.want} (${w.excess.toFixed(2)}× the tolerance)`;
}

/** TORCH_TOL_REPORT=1 prints every measured error. */
export function report(line: string): void {
  if (process.env.TORCH_TOL_REPORT) console.log(line);
}

/** Asserts that every element of `got` is within `tol` of `want`; reports the worst. */
export function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): void {
  const w = worstOf(got, want, tol);
  report(describeWorst(what, w));
  expect(w.excess, describeWorst(what, w)).toBeLessThanOrEqual(1);
}

/**
 * Every parameter's gradient buffer (read back with `read`) against `want(name)`: every
 * parameter outside `tol` is listed in one failure; the worst of all is reported.
 */
export async function expectGradsClose(
  label: string,
  params: readonly { name: string; grad: string; offset: number; numel: number }[],
  /** Reads `count` floats of `buffer` from `byteOffset` (a gradient may sit in an arena: TrainIo.params). */
  read: (buffer: string, byteOffset: number, count: number) => Promise<Float32Array>,
  want: (name: string) => ArrayLike<number>,
  tol: Tol,
): Promise<void> {
  const failures: string[] = [];
  let worst = { excess: 0, line: '' };
  for (const p of params) {
    const w = worstOf(await read(p.grad, p.offset, p.numel), want(p.name), tol);
    const line = describeWorst(`∂loss/∂${p.name}`, w);
    if (!(w.excess <= 1)) failures.push(line);
    if (!(w.excess <= worst.excess)) worst = { excess: w.excess, line };
  }
  report(`${label} worst gradient: ${worst.line}`);
  expect(failures, failures.join('\n')).toEqual([]);
}

/**
 * A decoder-only fixture on the GPU: for each row, the prefill logits against PyTorch's; then
 * a prompt of 2 and one token at a time up to T through the KV cache, against the prefill
 * (`decode`) and PyTorch (`logits`).
 */
export async function expectPrefillAndDecode(
  rt: ModelRuntime,
  fx: TorchFixture,
  label: string,
  tol: { logits: Tol; decode: Tol },
): Promise<void> {
  const V = fx.vocab;
  for (let b = 0; b < fx.B; b++) {
    const row = Array.from(fx.tokens.subarray(b * fx.T, (b + 1) * fx.T));
    const want = fx.logits.subarray(b * fx.T * V, (b + 1) * fx.T * V);
    const full = await rt.logits(row);
    const w = worstOf(full, want, tol.logits);
    report(describeWorst(`${label} prefill logits b=${b}`, w));
    expect(w.excess, describeWorst(`prefill logits b=${b}`, w)).toBeLessThanOrEqual(1);

    await rt.prefillPrompt(row.slice(0, 2));
    const steps = new Float32Array((fx.T - 2) * V);
    for (let p = 2; p < fx.T; p++) steps.set(await rt.decodeStep(row[p]!, p), (p - 2) * V);
    const vsPrefill = worstOf(steps, full.subarray(2 * V), tol.decode);
    const vsTorch = worstOf(steps, want.subarray(2 * V), tol.logits);
    report(describeWorst(`${label} decode vs prefill b=${b}`, vsPrefill));
    report(describeWorst(`${label} decode vs torch b=${b}`, vsTorch));
    expect(vsPrefill.excess, describeWorst('decode vs prefill', vsPrefill)).toBeLessThanOrEqual(1);
    expect(vsTorch.excess, describeWorst('decode vs torch', vsTorch)).toBeLessThanOrEqual(1);
  }
}

/** A PyTorch fixture's <name>.grads.json. */
export interface GradsJson {
  loss: number;
  grads: Record<string, { shape: number[]; values: number[] }>;
}
