/**
 * The optimizer step on the real adapter: sum_squares per tensor, clip_scale, then adamw per
 * tensor, all in one submit per step, over 5 steps with fresh random gradients (uniform(-1, 1),
 * some exact zeros) and a learning rate that changes every step (the Optim uniform is rewritten),
 * against a float64 reference of torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW
 * (single-tensor path: p·(1 − lr·wd), then lerp m, v, p −= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)).
 * Three tensors: 1000 floats (vec4 path), 37 (scalar path), 1 — the first decayed when decay is on.
 * Tolerances (after 5 steps): param |err| <= 1e-6·(1 + |ref|) (f32 storage of p, ~1 ulp per step,
 * plus relative ~1e-6 of each lr-sized update); m <= 5e-8 + 1e-5·|ref| (m = m + 0.1·(g − m) cancels:
 * an absolute term of ~ulp(|g|)); v <= 1e-12 + 2e-6·|ref| (a sum of squares, no cancellation).
 */
import { describe, expect, it } from 'vitest';
import {
  generateAdamW,
  generateClipScale,
  generateSumSquares,
  OPTIM_BYTES,
  OPTIM_WGSL,
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
const STEPS = 5;
const SIZES = [1000, 37, 1];
const BASE: AdamWHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1 };
const lrAt = (t: number) => BASE.lr * (1 - 0.15 * (t - 1));

interface Case {
  decay: boolean;
  /** 0: clipping off. */
  maxNorm: number;
  zeroGrad: boolean;
  /** Put a NaN into tensor 1's gradient at this step (1-based). */
  nanAt?: number;
}

/** Gradients of tensor `k` at step t. */
function gradient(k: number, t: number): Float32Array {
  const g = random(SIZES[k]!, 100 * t + k);
  if (g.length > 10) g[3] = g[7] = 0;
  return g;
}

class Reference {
  p = SIZES.map((n, k) => Float64Array.from(random(n, 1000 + k)));
  m = SIZES.map((n) => new Float64Array(n));
  v = SIZES.map((n) => new Float64Array(n));

  step(c: Case, t: number): void {
    const g = SIZES.map((_, k) => gradient(k, t));
    let ss = 0;
    for (const x of g) for (const y of x) ss += y * y;
    const norm = Math.sqrt(ss);
    const coef = c.maxNorm > 0 ? Math.min(1, c.maxNorm / (norm + 1e-6)) : 1;
    const lr = lrAt(t);
    const { beta1: b1, beta2: b2, eps, wd } = BASE;
    const bc1 = 1 - b1 ** t,
      bc2 = 1 - b2 ** t;
    SIZES.forEach((n, k) => {
      const p = this.p[k]!,
        m = this.m[k]!,
        v = this.v[k]!;
      const decay = c.decay && k === 0;
      for (let i = 0; i < n; i++) {
        const gi = g[k]![i]! * coef;
        if (decay) p[i]! *= 1 - lr * wd;
        m[i] = m[i]! + (1 - b1) * (gi - m[i]!);
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        p[i] = p[i]! - (lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps));
      }
    });
  }
}

function storage(r: KernelRunner, data: Float32Array | Uint32Array, usage = GPUBufferUsage.STORAGE): GPUBuffer {
  const buf = r.device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: usage | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  r.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  return buf;
}

async function readF32(r: KernelRunner, b: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(r.device, b, b.size)).slice(0, n);
}

/** Runs STEPS optimizer steps of case c on the GPU and on the reference; compares after each. */
async function train(c: Case): Promise<void> {
  const r = gpu();
  const slots = SIZES.length;
  const shared = {
    partial: storage(r, new Float32Array(slots)),
    scale: storage(r, new Float32Array(1)),
    norm: storage(r, new Float32Array(1)),
    nonfinite: storage(r, new Uint32Array(1)),
    optim: storage(r, new Float32Array(OPTIM_BYTES / 4), GPUBufferUsage.UNIFORM),
  };
  const ref = new Reference();
  const tensors = SIZES.map((n, k) => ({
    param: storage(r, Float32Array.from(ref.p[k]!)),
    grad: storage(r, new Float32Array(n)),
    m: storage(r, new Float32Array(n)),
    v: storage(r, new Float32Array(n)),
  }));
  const plan: [KernelCore, Record<string, GPUBuffer>][] = [
    ...SIZES.map((n, slot): [KernelCore, Record<string, GPUBuffer>] => [
      generateSumSquares({ n, slot, slots }),
      { ...shared, ...tensors[slot]! },
    ]),
    [generateClipScale({ slots, maxNorm: c.maxNorm }), shared],
    ...SIZES.map((n, k): [KernelCore, Record<string, GPUBuffer>] => [
      generateAdamW({ n, decay: c.decay && k === 0, zeroGrad: c.zeroGrad }),
      { ...shared, ...tensors[k]! },
    ]),
  ];
  const what = JSON.stringify(c);
  try {
    for (let t = 1; t <= STEPS; t++) {
      const grads = SIZES.map((_, k) => gradient(k, t));
      if (t === c.nanAt) grads[1]![5] = NaN;
      grads.forEach((g, k) => r.device.queue.writeBuffer(tensors[k]!.grad, 0, g));
      r.device.queue.writeBuffer(shared.optim, 0, packOptim(optimUniform({ ...BASE, lr: lrAt(t) }, t)));
      const enc = r.device.createCommandEncoder();
      for (const [k, buffers] of plan) {
        const p = await r.pipeline(k);
        encodeKernel(enc, p, bindKernel(r.device, p, k, buffers), k);
      }
      r.device.queue.submit([enc.finish()]);
      await waitForQueue(r.device);

      const nonfinite = new Uint32Array(await readBuffer(r.device, shared.nonfinite, 16))[0];
      expect(nonfinite, `${what} step ${t} nonfinite`).toBe(t === c.nanAt ? 1 : 0);
      if (t !== c.nanAt) ref.step(c, t); // a non-finite step is skipped: p, m, v stay as they were
      for (const [k, n] of SIZES.entries()) {
        const b = tensors[k]!;
        expectClose(await readF32(r, b.param, n), ref.p[k]!, P_TOL, `${what} step ${t} param ${k}`);
        expectClose(await readF32(r, b.m, n), ref.m[k]!, M_TOL, `${what} step ${t} m ${k}`);
        expectClose(await readF32(r, b.v, n), ref.v[k]!, V_TOL, `${what} step ${t} v ${k}`);
        const g = await readF32(r, b.grad, n);
        expect(Array.from(g), `${what} step ${t} grad ${k}`).toEqual(c.zeroGrad ? Array.from(new Float32Array(n)) : Array.from(grads[k]!));
      }
    }
  } finally {
    for (const b of [...Object.values(shared), ...tensors.flatMap((x) => Object.values(x))]) b.destroy();
  }
}

describe('adamw + global-norm clipping match torch (float64 reference) over 5 steps', () => {
  // The gradient norm is ≈ 18.6 every step: maxNorm 1 clips, 100 does not, 0 turns clipping off.
  it('no decay, clipping active', () => train({ decay: false, maxNorm: 1, zeroGrad: false }));
  it('decay, clipping active, gradients zeroed', () => train({ decay: true, maxNorm: 1, zeroGrad: true }));
  it('decay, clipping inactive', () => train({ decay: true, maxNorm: 100, zeroGrad: false }));
  it('no decay, clipping off (maxNorm 0), gradients zeroed', () => train({ decay: false, maxNorm: 0, zeroGrad: true }));
  it('a NaN gradient at step 3 sets nonfinite and skips that step (grads still zeroed)', () =>
    train({ decay: true, maxNorm: 1, zeroGrad: true, nanAt: 3 }));
});

describe('the Optim uniform', () => {
  it('packs lr, beta1, beta2, eps, wd, bc1, bc2, pad as eight f32s', () => {
    const u = optimUniform({ lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1 }, 2);
    expect(u.bc1).toBeCloseTo(1 / 0.19, 12);
    expect(u.bc2).toBeCloseTo(1 / (1 - 0.999 ** 2), 9);
    expect(Array.from(packOptim(u))).toEqual(Array.from(new Float32Array([3e-4, 0.9, 0.999, 1e-8, 0.1, 1 / 0.19, u.bc2, 0])));
    expect(packOptim(u).byteLength).toBe(OPTIM_BYTES);
    expect(OPTIM_WGSL).toMatch(/lr: f32,\s+beta1: f32,\s+beta2: f32,\s+eps: f32,\s+wd: f32,\s+bc1: f32,\s+bc2: f32,\s+_pad: f32,/);
    expect(() => optimUniform(BASE, 0)).toThrow(/step/);
    expect(() => packOptim({ ...u, lr: NaN })).toThrow(/lr/);
  });

  it('adamw binds param, grad, m, v, scale, optim (uniform)', () => {
    const k = generateAdamW({ n: 6, decay: true, zeroGrad: true });
    expect(k.bindings.map((b) => [b.name, b.access, b.bytes])).toEqual([
      ['param', 'read_write', 24],
      ['grad', 'read_write', 24],
      ['m', 'read_write', 24],
      ['v', 'read_write', 24],
      ['scale', 'read', 4],
      ['optim', 'uniform', 32],
    ]);
    expect(generateAdamW({ n: 8, decay: false }).bindings[1]!.access).toBe('read');
    expect(generateAdamW({ n: 8, decay: false }).code).not.toMatch(/\.wd/);
    for (const b of k.bindings) expect(k.code).toMatch(b.access === 'uniform' ? /u_optim\./ : new RegExp(`[^A-Za-z_]${b.name}\\[`));
  });
});
