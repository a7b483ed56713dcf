// Tries 'cpu' matmul tiles on this machine's adapter and prints GFLOP/s for each.
// Usage: npm run build && node bench/tune-matmul.mjs [M,N,K] [variant]
//   TILES='8x1x64,4x2x32' to choose tiles (rows x vec4s x workgroupSize [x noshare] [x k1|k4|k8])
import { acquireDevice, compileKernel, bindKernel, encodeKernel, uploadBuffer, waitForQueue } from '../dist/runtime/device.js';
import { generateMatmul } from '../dist/compiler/codegen/wgsl/matmul.js';

const [M, N, K] = (process.argv[2] ?? '1024,1024,1024').split(',').map(Number);
const variant = process.argv[3] ?? 'nn';
const tiles = (process.env.TILES ?? '8x1x16,8x1x8,8x1x32,8x1x16xk8,8x1x16xnoshare').split(',').map((s) => {
  const [rows, vec4s, wg, ...extra] = s.split('x');
  const k = extra.find((e) => /^k\d$/.test(e));
  return { rows: +rows, vec4s: +vec4s, workgroupSize: +wg, shareA: !extra.includes('noshare'), ...(k ? { kStep: +k.slice(1) } : {}) };
});
const ctx = await acquireDevice({ limits: { maxStorageBufferBindingSize: 'max' }, disableRobustness: process.env.ROBUST !== '1' });
const { device } = ctx;
console.log(`${ctx.adapter.summary}; ${M}x${N}x${K} ${variant}; robustness ${process.env.ROBUST === '1' ? 'on' : 'off'}`);
const rand = (n) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const bufs = {
  A: uploadBuffer(device, rand(M * K)),
  B: uploadBuffer(device, rand(K * N)),
  C: device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }),
};
// Round-robin over the tiles several times and keep each one's best: this machine's speed
// drifts by up to 2x over seconds (shared host), so only interleaved best-of-N is comparable.
const rounds = +(process.env.ROUNDS ?? 3);
const entries = [];
for (const tile of tiles) {
  const k = generateMatmul({ M, N, K, variant, tuning: 'cpu', cpuTile: tile, subgroupMinSize: ctx.subgroupMinSize });
  const p = await compileKernel(device, k);
  entries.push({ tile, k, p, bg: bindKernel(device, p, k, bufs), best: Infinity });
}
for (let round = 0; round < rounds; round++) {
  for (const e of entries) {
    const run = async (reps, expectMs) => {
      const t0 = performance.now();
      const enc = device.createCommandEncoder();
      encodeKernel(enc, e.p, e.bg, e.k, reps);
      device.queue.submit([enc.finish()]);
      await waitForQueue(device, expectMs);
      return (performance.now() - t0) / reps;
    };
    // Sleep-before-await: sleep 75% of the best time seen so far, so the estimate can only
    // shrink towards the true time (oversleeping would inflate it; spinning slows lavapipe).
    if (e.best === Infinity) e.best = await run(1, 0); // warm-up
    for (let i = 0; i < 2; i++) e.best = Math.min(e.best, await run(1, e.best * 0.75));
    const reps = Math.max(2, Math.ceil(600 / e.best));
    for (let i = 0; i < 2; i++) e.best = Math.min(e.best, await run(reps, e.best * reps * 0.75));
  }
}
for (const e of entries) {
  console.log(
    `${JSON.stringify(e.tile).padEnd(64)} ${(e.k.flops / e.best / 1e6).toFixed(2).padStart(7)} GFLOP/s  (${e.best.toFixed(2)} ms)`,
  );
}
ctx.release();
