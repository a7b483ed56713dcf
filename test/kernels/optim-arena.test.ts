/**
 * The multi-tensor optimizer kernels (sum_squares_arena, adamw_arena) on the real adapter.
 * Five tensors (1000, 36, 4, 2048, 12 floats; every other one decayed) sit in one gradient
 * arena and in m/v arenas laid out alike (offsets aligned to 256 bytes). Over 4 steps with fresh
 * gradients and a changing learning rate, the arena path (one sum-of-squares dispatch, the clip
 * kernel, AdamW 3 + 2 tensors per dispatch) must give exactly the bits of the per-tensor kernels
 * (sum_squares + adamw per tensor, already checked against torch in optim-adamw.test.ts), and
 * match a float64 reference of clip_grad_norm_ + torch.optim.AdamW within that test's
 * tolerances. A NaN gradient skips the step on both paths.
 */
import { describe, expect, it } from 'vitest';
import {
  generateAdamW,
  generateAdamWArena,
  generateClipScale,
  generateSumSquares,
  generateSumSquaresArena,
  OPTIM_BYTES,
  optimUniform,
  packOptim,
  type AdamWHyper,
} from '../../compiler/codegen/wgsl/kernels/optim/index.js';
import type { KernelCore } from '../../compiler/codegen/wgsl/kernel-types.js';
import { bindKernel, encodeKernel, readBuffer, waitForQueue } from '../../runtime/device.js';
import { expectClose, random, useGpu, type KernelRunner } from './gpu-harness.js';

const gpu = useGpu();
const P_TOL = { abs: 1e-6, rel: 1e-6 };
const M_TOL = { abs: 5e-8, rel: 1e-5 };
const V_TOL = { abs: 1e-12, rel: 2e-6 };
const SIZES = [1000, 36, 4, 2048, 12];
const DECAY = SIZES.map((_, k) => k % 2 === 0);
const OFFSETS = SIZES.map((_, k) => SIZES.slice(0, k).reduce((o, n) => Math.ceil((o + n) / 64) * 64, 0));
const ARENA = OFFSETS.at(-1)! + SIZES.at(-1)!;
const BASE: AdamWHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1 };
const STEPS = 4;
const MAX_NORM = 1;
const lrAt = (t: number) => BASE.lr * (1 - 0.15 * (t - 1));
const gradient = (k: number, t: number) => random(SIZES[k]!, 100 * t + k);

function buffer(r: KernelRunner, data: Float32Array | Uint32Array, usage = GPUBufferUsage.STORAGE): GPUBuffer {
  const buf = r.device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: usage | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  r.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  return buf;
}

const read = async (r: KernelRunner, b: GPUBuffer) => new Float32Array(await readBuffer(r.device, b, b.size));

class Reference {
  p = SIZES.map((n, k) => Float64Array.from(random(n, 1000 + k)));
  m = SIZES.map((n) => new Float64Array(n));
  v = SIZES.map((n) => new Float64Array(n));

  step(t: number): void {
    const g = SIZES.map((_, k) => gradient(k, t));
    const norm = Math.sqrt(g.reduce((s, x) => x.reduce((a, y) => a + y * y, s), 0));
    const coef = Math.min(1, MAX_NORM / (norm + 1e-6));
    const lr = lrAt(t);
    const { beta1: b1, beta2: b2, eps, wd } = BASE;
    SIZES.forEach((n, k) => {
      const [p, m, v] = [this.p[k]!, this.m[k]!, this.v[k]!];
      for (let i = 0; i < n; i++) {
        const gi = g[k]![i]! * coef;
        if (DECAY[k]) p[i]! *= 1 - lr * wd;
        m[i] = m[i]! + (1 - b1) * (gi - m[i]!);
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        p[i] = p[i]! - (lr / (1 - b1 ** t)) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps));
      }
    });
  }
}

interface Result {
  params: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  norms: number[];
}

/** STEPS optimizer steps, per tensor (arena = false) or over the arenas; a NaN in tensor 3's gradient at step `nanAt`. */
async function run(arena: boolean, nanAt = 0): Promise<Result> {
  const r = gpu();
  const slots = SIZES.length;
  const shared = {
    partial: buffer(r, new Float32Array(slots)),
    scale: buffer(r, new Float32Array(1)),
    norm: buffer(r, new Float32Array(1)),
    nonfinite: buffer(r, new Uint32Array(1)),
    optim: buffer(r, new Float32Array(OPTIM_BYTES / 4), GPUBufferUsage.UNIFORM),
  };
  const params = SIZES.map((n, k) => buffer(r, random(n, 1000 + k)));
  const own = SIZES.map((n) => ({
    grad: buffer(r, new Float32Array(n)),
    m: buffer(r, new Float32Array(n)),
    v: buffer(r, new Float32Array(n)),
  }));
  const arenas = { grad: buffer(r, new Float32Array(ARENA)), m: buffer(r, new Float32Array(ARENA)), v: buffer(r, new Float32Array(ARENA)) };
  const clip = generateClipScale({ slots, maxNorm: MAX_NORM });
  const tensors = SIZES.map((n, k) => ({ offset: OFFSETS[k]!, n, slot: k, decay: DECAY[k]! }));
  const kernels: [KernelCore, Record<string, GPUBuffer>][] = arena
    ? [
        [generateSumSquaresArena({ tensors, arenaFloats: ARENA, slots }), { ...shared, grad: arenas.grad }],
        [clip, shared],
        ...[tensors.slice(0, 3), tensors.slice(3)].map((group, g): [KernelCore, Record<string, GPUBuffer>] => [
          generateAdamWArena({ tensors: group, arenaFloats: ARENA, maxStorageBuffers: 8 }),
          { ...shared, ...arenas, ...Object.fromEntries(group.map((_, j) => [`param${j}`, params[3 * g + j]!])) },
        ]),
      ]
    : [
        ...SIZES.map((n, slot): [KernelCore, Record<string, GPUBuffer>] => [
          generateSumSquares({ n, slot, slots }),
          { ...shared, ...own[slot]! },
        ]),
        [clip, shared],
        ...SIZES.map((n, k): [KernelCore, Record<string, GPUBuffer>] => [
          generateAdamW({ n, decay: DECAY[k]! }),
          { ...shared, ...own[k]!, param: params[k]! },
        ]),
      ];
  const norms: number[] = [];
  try {
    for (let t = 1; t <= STEPS; t++) {
      SIZES.forEach((_, k) => {
        const g = gradient(k, t);
        if (t === nanAt && k === 3) g[17] = NaN;
        r.device.queue.writeBuffer(arena ? arenas.grad : own[k]!.grad, arena ? 4 * OFFSETS[k]! : 0, g);
      });
      r.device.queue.writeBuffer(shared.optim, 0, packOptim(optimUniform({ ...BASE, lr: lrAt(t) }, t)));
      const enc = r.device.createCommandEncoder();
      for (const [k, buffers] of kernels) {
        const p = await r.pipeline(k);
        encodeKernel(enc, p, bindKernel(r.device, p, k, buffers), k);
      }
      r.device.queue.submit([enc.finish()]);
      await waitForQueue(r.device);
      norms.push((await read(r, shared.norm))[0]!);
      expect(new Uint32Array((await read(r, shared.nonfinite)).buffer)[0], `step ${t} nonfinite`).toBe(t === nanAt ? 1 : 0);
    }
    const slice = async (b: GPUBuffer, k: number) => (arena ? (await read(r, b)).slice(OFFSETS[k]!, OFFSETS[k]! + SIZES[k]!) : null);
    const pick = async (which: 'm' | 'v') =>
      Promise.all(SIZES.map(async (n, k) => (await slice(arenas[which], k)) ?? (await read(r, own[k]![which])).slice(0, n)));
    return {
      params: await Promise.all(params.map(async (b, k) => (await read(r, b)).slice(0, SIZES[k]!))),
      m: await pick('m'),
      v: await pick('v'),
      norms,
    };
  } finally {
    for (const b of [...Object.values(shared), ...params, ...own.flatMap((x) => Object.values(x)), ...Object.values(arenas)]) b.destroy();
  }
}

const bits = (xs: Float32Array[]) => xs.map((x) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length)));

describe('multi-tensor optimizer kernels over arenas', () => {
  it('give the per-tensor kernels bit for bit, and match torch (float64) after 4 steps', async () => {
    const arena = await run(true);
    const single = await run(false);
    expect(arena.norms).toEqual(single.norms);
    expect(bits(arena.params)).toEqual(bits(single.params));
    expect(bits(arena.m)).toEqual(bits(single.m));
    expect(bits(arena.v)).toEqual(bits(single.v));
    const ref = new Reference();
    for (let t = 1; t <= STEPS; t++) ref.step(t);
    SIZES.forEach((_, k) => {
      expectClose(arena.params[k]!, ref.p[k]!, P_TOL, `param ${k}`);
      expectClose(arena.m[k]!, ref.m[k]!, M_TOL, `m ${k}`);
      expectClose(arena.v[k]!, ref.v[k]!, V_TOL, `v ${k}`);
    });
  });

  it('a NaN gradient flags the step and skips it on both paths alike', async () => {
    const arena = await run(true, 2);
    const single = await run(false, 2);
    expect(bits(arena.params)).toEqual(bits(single.params));
    expect(bits(arena.m)).toEqual(bits(single.m));
  });

  it('rejects tensors that are not vec4-aligned, overrun the arena, or need more storage buffers than allowed', () => {
    expect(() => generateAdamWArena({ tensors: [{ offset: 2, n: 8, decay: false }], arenaFloats: 16, maxStorageBuffers: 8 })).toThrow(
      /vec4/,
    );
    expect(() => generateSumSquaresArena({ tensors: [{ offset: 8, n: 12, slot: 0 }], arenaFloats: 16, slots: 1 })).toThrow(/overruns/);
    const five = Array.from({ length: 5 }, (_, j) => ({ offset: 4 * j, n: 4, decay: true }));
    expect(() => generateAdamWArena({ tensors: five, arenaFloats: 20, maxStorageBuffers: 8 })).toThrow(/9 storage buffers, over 8/);
    expect(generateAdamWArena({ tensors: five, arenaFloats: 20, maxStorageBuffers: 16 }).bindings.map((b) => b.name)).toEqual([
      'param0',
      'param1',
      'param2',
      'param3',
      'param4',
      'grad',
      'm',
      'v',
      'scale',
      'optim',
    ]);
  });
});
