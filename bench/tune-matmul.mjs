// Tries 'cpu' matmul tiles on this machine's adapter and prints GFLOP/s for each.
// Usage: npm run build && node bench/tune-matmul.mjs [M,N,K] [variant]
//   TILES='8x1x64,4x2x32' to choose tiles (rows x vec4s x workgroupSize [x nofma] [x k1] [x ascalar])
import { acquireDevice, compileKernel, bindKernel, encodeKernel, uploadBuffer, waitForQueue } from '../dist/runtime/device.js';
import { generateMatmul } from '../dist/compiler/codegen/wgsl/matmul.js';

const [M, N, K] = (process.argv[2] ?? '1024,1024,1024').split(',').map(Number);
const variant = process.argv[3] ?? 'nn';
const tiles = (process.env.TILES ?? '8x1x64,8x1x32,8x1x16,4x1x64,4x2x64,8x2x32,8x1x64xnofma,16x1x64')
  .split(',').map((s) => {
    const [rows, vec4s, wg, ...extra] = s.split('x');
    return { rows: +rows, vec4s: +vec4s, workgroupSize: +wg, fma: !extra.includes('nofma'),
      kStep: extra.includes('k1') ? 1 : 4, aVec: !extra.includes('ascalar') };
  });
const ctx = await acquireDevice({ limits: { maxStorageBufferBindingSize: 'max' }, disableRobustness: process.env.ROBUST !== '1' });
const { device } = ctx;
console.log(`${ctx.adapter.summary}; ${M}x${N}x${K} ${variant}; robustness ${process.env.ROBUST === '1' ? 'on' : 'off'}`);
const rand = (n) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const bufs = {
  A: uploadBuffer(device, rand(M * K)), B: uploadBuffer(device, rand(K * N)),
  C: device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }),
};
for (const tile of tiles) {
  const k = generateMatmul({ M, N, K, variant, tuning: 'cpu', cpuTile: tile });
  const p = await compileKernel(device, k);
  const bg = bindKernel(device, p, k, bufs);
  const run = async (reps, expectMs) => {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    encodeKernel(enc, p, bg, k, reps);
    device.queue.submit([enc.finish()]);
    await waitForQueue(device, expectMs);
    return (performance.now() - t0) / reps;
  };
  // Sleep-before-await: sleep 75% of the best time seen so far, so the estimate can only
  // shrink towards the true time (oversleeping would inflate it; spinning slows lavapipe).
  let best = await run(1, 0); // warm-up
  for (let i = 0; i < 3; i++) best = Math.min(best, await run(1, best * 0.75));
  const reps = Math.max(2, Math.ceil(1000 / best));
  for (let i = 0; i < 4; i++) best = Math.min(best, await run(reps, best * reps * 0.75));
  console.log(`${JSON.stringify(tile).padEnd(60)} ${(k.flops / best / 1e6).toFixed(2).padStart(7)} GFLOP/s  (${best.toFixed(2)} ms)`);
}
ctx.release();
