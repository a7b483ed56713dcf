/**
 * Global-norm clipping kernels (sum_squares per tensor, then clip_scale) on the real adapter
 * against float64 references. Gradients uniform(-1, 1).
 * Tolerances: each Σ g² |err| <= 1e-6·|ref| (f32 sums in blocks of 64 loads, then a tree;
 * measured ~1e-7 at n = 100 003); norm and scale the same relative 1e-6 (a square root halves
 * the relative error of Σ). Reruns must be bit-identical (fixed summation order).
 */
import { describe, expect, it } from 'vitest';
import { generateClipScale, generateSumSquares, type SumSquaresSpec } from '../../compiler/codegen/wgsl/kernels/optim/index.js';
import { bindKernel, encodeKernel, readBuffer, waitForQueue } from '../../runtime/device.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 0, rel: 1e-6 };
const SENTINEL = -7;

function sumSquares(g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return s;
}

async function checkSumSquares(s: SumSquaresSpec, seed: number): Promise<void> {
  const parts = s.parts ?? 1;
  const g = random(s.n, seed);
  const r = gpu()
    .set('grad', g)
    .set('partial', new Float32Array(s.slots * parts).fill(SENTINEL));
  const k = generateSumSquares(s);
  await r.run(k);
  const first = (await r.read('partial')).slice(0, s.slots * parts);
  const mine = first.subarray(s.slot * parts, (s.slot + 1) * parts);
  const what = JSON.stringify(s);
  expectClose([mine.reduce((a, b) => a + b, 0)], [sumSquares(g)], TOL, `${what} Σ g²`);
  // Other slots are untouched; every part of this slot is written.
  first.forEach((x, i) => {
    const own = Math.floor(i / parts) === s.slot;
    if (own !== (x !== SENTINEL)) throw new Error(`${what}: partial[${i}] = ${x}`);
  });
  // Deterministic: a rerun gives the same bits.
  await r.run(k);
  expect(Array.from((await r.read('partial')).slice(0, s.slots * parts))).toEqual(Array.from(first));
}

describe('sum_squares matches float64', () => {
  it('n = 1', () => checkSumSquares({ n: 1, slot: 0, slots: 1 }, 1));
  it('odd n = 1001 (scalar path), slot 2 of 5', () => checkSumSquares({ n: 1001, slot: 2, slots: 5 }, 2));
  it('n = 100 003 (scalar, long loops), cpu tuning', () => checkSumSquares({ n: 100_003, slot: 1, slots: 3, tuning: 'cpu' }, 3));
  it('n = 100 003 with the adapter subgroups, 4 parts', () =>
    checkSumSquares({ n: 100_003, slot: 0, slots: 2, parts: 4, tuning: 'cpu', subgroupMinSize: gpu().gpu.subgroupMinSize }, 4));
  it('n = 65 536 (vec4 path), 7 parts, last slot', () => checkSumSquares({ n: 65_536, slot: 3, slots: 4, parts: 7 }, 5));
  it('n = 4 (vec4 path, one item)', () => checkSumSquares({ n: 4, slot: 0, slots: 1 }, 6));

  it('rejects a slot outside slots', () => {
    expect(() => generateSumSquares({ n: 8, slot: 2, slots: 2 })).toThrow(/slot 2/);
    expect(() => generateSumSquares({ n: 0, slot: 0, slots: 1 })).toThrow(/n must be/);
  });
});

/** Runs sum_squares for each tensor and clip_scale in one submit; returns the outputs. */
async function clip(grads: Float32Array[], maxNorm: number, parts = 1) {
  const r = gpu();
  const slots = grads.length;
  const enc = r.device.createCommandEncoder();
  const make = (data: Float32Array | Uint32Array, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST) => {
    const buf = r.device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage });
    r.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return buf;
  };
  const shared = {
    partial: make(new Float32Array(slots * parts).fill(SENTINEL)),
    scale: make(new Float32Array([SENTINEL])),
    norm: make(new Float32Array([SENTINEL])),
    nonfinite: make(new Uint32Array([7])),
  };
  const owned: GPUBuffer[] = Object.values(shared);
  for (const [slot, g] of grads.entries()) {
    const k = generateSumSquares({ n: g.length, slot, slots, parts });
    const grad = make(g);
    owned.push(grad);
    const p = await r.pipeline(k);
    encodeKernel(enc, p, bindKernel(r.device, p, k, { ...shared, grad }), k);
  }
  const k = generateClipScale({ slots, parts, maxNorm });
  const p = await r.pipeline(k);
  encodeKernel(enc, p, bindKernel(r.device, p, k, shared), k);
  r.device.queue.submit([enc.finish()]);
  await waitForQueue(r.device);
  const f32 = async (b: GPUBuffer) => new Float32Array(await readBuffer(r.device, b, 16))[0]!;
  const out = {
    scale: await f32(shared.scale),
    norm: await f32(shared.norm),
    nonfinite: new Uint32Array(await readBuffer(r.device, shared.nonfinite, 16))[0]!,
  };
  for (const b of owned) b.destroy();
  return out;
}

describe('clip_scale over several tensors', () => {
  const grads = [random(1000, 11), random(37, 12), random(1, 13), random(100_003, 14)];
  const norm = Math.sqrt(grads.reduce((a, g) => a + sumSquares(g), 0)); // ≈ 183

  it('clipping active: scale = maxNorm / (norm + 1e-6)', async () => {
    const out = await clip(grads, 1.0);
    expectClose([out.norm], [norm], TOL, 'norm');
    expectClose([out.scale], [1 / (norm + 1e-6)], TOL, 'scale');
    expect(out.nonfinite).toBe(0);
  });

  it('clipping inactive (maxNorm above the norm) and off (maxNorm 0): scale 1', async () => {
    for (const maxNorm of [1000, 0]) {
      const out = await clip(grads, maxNorm, 3);
      expectClose([out.norm], [norm], TOL, `norm, maxNorm ${maxNorm}`);
      expect(out.scale).toBe(1);
      expect(out.nonfinite).toBe(0);
    }
  });

  it('a NaN or an Inf in one gradient sets nonfinite and scale 0', async () => {
    for (const bad of [NaN, Infinity, -Infinity, 3e19]) {
      const g = random(101, 15);
      g[50] = bad;
      for (const maxNorm of [1, 0]) {
        const out = await clip([grads[0]!, g], maxNorm);
        expect(out.nonfinite, `${bad}, maxNorm ${maxNorm}`).toBe(1);
        expect(out.scale, `${bad}, maxNorm ${maxNorm}`).toBe(0);
        expect(Number.isFinite(out.norm)).toBe(false);
      }
    }
  });

  it('binds partial, scale, norm, nonfinite; sum_squares binds grad, partial', () => {
    expect(generateClipScale({ slots: 3, maxNorm: 1 }).bindings.map((b) => [b.name, b.access, b.bytes])).toEqual([
      ['partial', 'read', 12],
      ['scale', 'read_write', 4],
      ['norm', 'read_write', 4],
      ['nonfinite', 'read_write', 4],
    ]);
    const k = generateSumSquares({ n: 10, slot: 1, slots: 3, parts: 2 });
    expect(k.bindings.map((b) => [b.name, b.access, b.bytes])).toEqual([
      ['grad', 'read', 40],
      ['partial', 'read_write', 24],
    ]);
    expect(k.dispatch).toEqual([2, 1, 1]);
    expect(() => generateClipScale({ slots: 1, maxNorm: -1 })).toThrow(/maxNorm/);
  });
});
