/**
 * Gradient arenas (compiler/schedule/grad-arena.ts): the layout (aligned offsets, capacity, a
 * tensor too large for one binding left out), the conflicts WebGPU would refuse, the step
 * rewriting (ranges composed, copies offset, clears of whole arenas), and the benchmark GPT's
 * training plan built with them: one sum-of-squares dispatch, ceil(68 / K) AdamW dispatches,
 * every gradient, moment and accumulator range inside its arena, aligned and disjoint.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFile } from '../../compiler/index.js';
import { arenaConflicts, layoutArenas, moveIntoArenas, type Move } from '../../compiler/schedule/grad-arena.js';
import { PlanBuilder } from '../../compiler/schedule/plan-builder.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import type { KernelPlan, PlanStep } from '../../runtime/plan-types.js';

describe('layoutArenas', () => {
  it('packs in order at aligned offsets, opens a new arena when full, leaves out what exceeds one', () => {
    const l = layoutArenas(
      [
        { name: 'a', bytes: 100 },
        { name: 'b', bytes: 256 },
        { name: 'big', bytes: 2000 },
        { name: 'c', bytes: 600 },
        { name: 'd', bytes: 4 },
      ],
      1024,
      256,
    );
    expect(Object.fromEntries(l.places)).toEqual({
      a: { arena: 0, offset: 0 },
      b: { arena: 0, offset: 256 },
      c: { arena: 1, offset: 0 },
      d: { arena: 1, offset: 768 },
    });
    expect(l.arenas).toEqual([512, 772]);
  });
});

/** A builder with one kernel of the given binding accesses (steps are pushed by the tests). */
function builder(access: Record<string, 'read' | 'read_write'>): PlanBuilder {
  const P = new PlanBuilder({ params: [], values: [], nodes: [], outputs: [], inputs: [] } as never, 1, 1);
  P.kernels.push({
    name: 'k',
    code: '',
    entryPoint: 'k',
    dispatch: [1, 1, 1],
    bindings: Object.entries(access).map(([name, a], binding) => ({ binding, name, access: a, bytes: 4 })),
    flops: 0,
    bytes: 0,
    fuses: [],
  });
  for (const n of ['g1', 'g2', 'x']) P.scratch(n, [16]);
  return P;
}

const moves = new Map<string, Move>([
  ['g1', { arena: 'A', offset: 0, bytes: 64 }],
  ['g2', { arena: 'A', offset: 256, bytes: 64 }],
]);

describe('arenaConflicts', () => {
  const P = builder({ src: 'read', dst: 'read_write' });
  const access = (k: number, b: string) => P.kernels[k]!.bindings.find((x) => x.name === b)!.access;
  it('flags a buffer read while another tensor of its arena is written, and a copy within one arena', () => {
    const kernel: PlanStep = { kind: 'kernel', kernel: 0, bind: { src: 'g1', dst: 'g2' }, scope: 's' };
    expect([...arenaConflicts([kernel], access, moves)]).toEqual(['g1']);
    const copy: PlanStep = { kind: 'copy', src: 'g2', dst: 'g1', bytes: 64, scope: 's' };
    expect([...arenaConflicts([copy], access, moves)]).toEqual(['g2']);
    const fine: PlanStep = { kind: 'kernel', kernel: 0, bind: { src: 'x', dst: 'g2' }, scope: 's' };
    expect(arenaConflicts([fine], access, moves).size).toBe(0);
  });
});

describe('moveIntoArenas', () => {
  it('binds byte ranges (composed with existing ones), offsets copies, clears whole arenas', () => {
    const P = builder({ src: 'read', dst: 'read_write' });
    P.steps.push(
      { kind: 'clear', buffers: ['x', 'g1', 'g2'], scope: 'zero' },
      { kind: 'kernel', kernel: 0, bind: { src: 'x', dst: 'g2' }, ranges: { dst: { offset: 16, size: 32 } }, scope: 'k1' },
      { kind: 'kernel', kernel: 0, bind: { src: 'x', dst: 'g1' }, scope: 'k2' },
      { kind: 'copy', src: 'x', dst: 'g2', bytes: 64, scope: 'c' },
    );
    moveIntoArenas(P, moves, [{ name: 'A', kind: 'activation', dtype: 'f32', shape: [80], bytes: 320 }]);
    expect(P.steps).toEqual([
      { kind: 'clear', buffers: ['x', 'A'], scope: 'zero' },
      { kind: 'kernel', kernel: 0, bind: { src: 'x', dst: 'A' }, ranges: { dst: { offset: 272, size: 32 } }, scope: 'k1' },
      { kind: 'kernel', kernel: 0, bind: { src: 'x', dst: 'A' }, ranges: { dst: { offset: 0, size: 64 } }, scope: 'k2' },
      { kind: 'copy', src: 'x', dst: 'A', bytes: 64, srcOffset: 0, dstOffset: 256, scope: 'c' },
    ]);
    expect([...P.buffers.keys()].sort()).toEqual(['A', 'step', 'x']);
  });

  it('refuses to clear only part of an arena', () => {
    const P = builder({ src: 'read', dst: 'read_write' });
    P.steps.push({ kind: 'clear', buffers: ['g1'], scope: 'zero' });
    expect(() => moveIntoArenas(P, moves, [])).toThrow(/clears part of arena A/);
  });
});

const GPT = `model g {
  vocab = 65
  context = 16
  d_model = 32
  layers = 2
  bias = true
  embedding { positions: learned, tied: true }
  block {
    norm: layernorm(eps: 1e-5)
    placement: pre
    attention { heads: 2 }
    mlp { activation: gelu_tanh, hidden: 4 * d_model }
  }
  final_norm = layernorm(eps: 1e-5)
}`;

function gptPlan(opts: { maxStorageBuffers?: number; accumulation?: number; maxBinding?: number }): KernelPlan {
  const dir = mkdtempSync(join(tmpdir(), 'grad-arena-'));
  writeFileSync(join(dir, 'g.model'), GPT);
  const m = compileFile(join(dir, 'g.model')).models[0]!;
  rmSync(dir, { recursive: true, force: true });
  return planTraining(m.spec!, m.graph!, { B: 2, T: 16, tuning: 'cpu', subgroupMinSize: 8, clip: 1, ...opts });
}

const kernelSteps = (plan: KernelPlan, name: string) =>
  plan.steps.filter((s) => s.kind === 'kernel' && plan.kernels[s.kernel]!.name === name).length;

describe('a GPT training plan with gradient arenas', () => {
  it('updates K = maxStorageBuffers − 4 parameters per AdamW dispatch after one sum-of-squares dispatch', () => {
    for (const [limit, K] of [
      [8, 4],
      [16, 12],
    ] as const) {
      const plan = gptPlan({ maxStorageBuffers: limit });
      const n = plan.train!.params.length;
      expect(kernelSteps(plan, 'adamw_arena')).toBe(Math.ceil(n / K));
      expect(kernelSteps(plan, 'sum_squares_arena')).toBe(1);
      expect(kernelSteps(plan, 'adamw') + kernelSteps(plan, 'sum_squares')).toBe(0);
    }
  });

  it('places every gradient, moment and accumulator range inside its arena, aligned and disjoint', () => {
    const plan = gptPlan({ accumulation: 2 });
    const bytes = new Map(plan.buffers.map((b) => [b.name, b.bytes]));
    const io = plan.train!;
    const taken = new Map<string, [number, number][]>();
    for (const p of io.params) {
      expect(p.offset % 256, p.name).toBe(0);
      for (const buf of [p.grad, p.m, p.v]) {
        expect(p.offset + 4 * p.numel, `${p.name} in ${buf}`).toBeLessThanOrEqual(bytes.get(buf)!);
        const spans = taken.get(buf) ?? [];
        for (const [a, b] of spans) expect(p.offset >= b || p.offset + 4 * p.numel <= a, `${p.name} overlaps in ${buf}`).toBe(true);
        spans.push([p.offset, p.offset + 4 * p.numel]);
        taken.set(buf, spans);
      }
    }
    // No per-tensor gradient buffer of a parameter remains; the accumulators take one add per arena.
    for (const p of io.params) expect(bytes.has(`d:${p.name}`), p.name).toBe(false);
    expect(kernelSteps(plan, 'add') - kernelSteps(gptPlan({}), 'add')).toBe(new Set(io.params.map((p) => p.grad)).size);
  });

  it('leaves a tensor larger than one binding in buffers of its own, updated in chunks', () => {
    // The 65 × 32 token table is 8,320 bytes: over a 4 KiB binding.
    const plan = gptPlan({ maxBinding: 4096 });
    const wte = plan.train!.params.find((p) => p.name.includes('wte') || p.numel === 65 * 32)!;
    expect(wte.offset).toBe(0);
    expect(wte.m).toBe(`m:${wte.name}`);
    expect(plan.buffers.find((b) => b.name === wte.grad)!.bytes).toBe(4 * 65 * 32);
    expect(kernelSteps(plan, 'adamw')).toBeGreaterThanOrEqual(3);
    for (const b of plan.buffers) expect(b.name.startsWith('optim.') && b.bytes > 4096, b.name).toBe(false);
  });
});
