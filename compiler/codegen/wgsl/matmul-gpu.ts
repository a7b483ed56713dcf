/**
 * The 'gpu' matmul tuning: the classic shared-memory tiled kernel. A 16×16 workgroup
 * computes a 64×64 tile of C, stepping K by 16; each invocation owns a 4×4 block at stride
 * 16 (rows ty + 16i, columns tx + 16j), so global loads and stores of neighbouring
 * invocations are adjacent. Tiles are staged with bounds checks (zero fill), so any
 * M, N, K works. Correctness is tested on lavapipe; speed matters only on real GPUs.
 */
import type { KernelGeometry, ResolvedMatmul } from './matmul.js';

const TILE = 64, BK = 16, THREADS = 16, PER = TILE / THREADS; // PER×PER outputs per invocation

export function gpuMatmulGeometry(r: ResolvedMatmul): KernelGeometry {
  return {
    workgroupSize: [THREADS, THREADS, 1],
    dispatch: [Math.ceil(r.N / TILE), Math.ceil(r.M / TILE), r.batch],
    note: `gpu (shared-memory tiles ${TILE}×${TILE}, K step ${BK}, ${PER}×${PER} outputs per invocation)`,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function emitGpuMatmul(r: ResolvedMatmul): string {
  const { M, N, K, variant, batch } = r;
  const aIdx = variant === 'tn' ? 'k * M + m' : 'm * K + k';
  const bIdx = variant === 'nt' ? 'n * K + k' : 'k * N + n';
  // Which tile coordinate runs fastest through consecutive invocations: the one that is
  // contiguous in memory, so the staging loads coalesce.
  const aSplit = variant === 'tn'
    ? `let mm = e % ${TILE}u; let kk = e / ${TILE}u;`
    : `let kk = e % ${BK}u; let mm = e / ${BK}u;`;
  const bSplit = variant === 'nt'
    ? `let kk = e % ${BK}u; let nn = e / ${BK}u;`
    : `let nn = e % ${TILE}u; let kk = e / ${TILE}u;`;
  const off = (name: string, size: number) => (batch > 1 ? `wg.z * ${size}u + ` : '') + name;
  const L: string[] = [];
  L.push(`const M = ${M}u;`, `const N = ${N}u;`, `const K = ${K}u;`);
  L.push(`@group(0) @binding(0) var<storage, read> A: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> B: array<f32>;`);
  if (r.bias) L.push(`@group(0) @binding(2) var<storage, read> bias: array<f32>;`);
  L.push(`@group(0) @binding(3) var<storage, read_write> C: array<f32>;`);
  L.push(`var<workgroup> As: array<f32, ${TILE * BK}>; // [kk][mm]`);
  L.push(`var<workgroup> Bs: array<f32, ${TILE * BK}>; // [kk][nn]`);
  L.push('');
  L.push(`@compute @workgroup_size(${THREADS}, ${THREADS})`);
  L.push(`fn ${r.entryPoint}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,`);
  L.push(`        @builtin(local_invocation_index) tid: u32) {`);
  L.push(`  let m0 = wg.y * ${TILE}u;`);
  L.push(`  let n0 = wg.x * ${TILE}u;`);
  for (const i of range(PER)) for (const j of range(PER)) L.push(`  var acc${i}_${j} = 0.0;`);
  L.push(`  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {`);
  L.push(`    for (var e = tid; e < ${TILE * BK}u; e += ${THREADS * THREADS}u) {`);
  L.push(`      {`);
  L.push(`        ${aSplit}`);
  L.push(`        let m = m0 + mm; let k = k0 + kk;`);
  L.push(`        var v = 0.0;`);
  L.push(`        if (m < M && k < K) { v = A[${off(aIdx, M * K)}]; }`);
  L.push(`        As[kk * ${TILE}u + mm] = v;`);
  L.push(`      }`);
  L.push(`      {`);
  L.push(`        ${bSplit}`);
  L.push(`        let n = n0 + nn; let k = k0 + kk;`);
  L.push(`        var v = 0.0;`);
  L.push(`        if (n < N && k < K) { v = B[${off(bIdx, K * N)}]; }`);
  L.push(`        Bs[kk * ${TILE}u + nn] = v;`);
  L.push(`      }`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`    for (var kk = 0u; kk < ${BK}u; kk++) {`);
  for (const i of range(PER)) L.push(`      let a${i} = As[kk * ${TILE}u + lid.y + ${i * THREADS}u];`);
  for (const j of range(PER)) L.push(`      let b${j} = Bs[kk * ${TILE}u + lid.x + ${j * THREADS}u];`);
  for (const i of range(PER)) for (const j of range(PER)) L.push(`      acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`  }`);
  for (const i of range(PER)) for (const j of range(PER)) {
    L.push(`  {`);
    L.push(`    let m = m0 + lid.y + ${i * THREADS}u; let n = n0 + lid.x + ${j * THREADS}u;`);
    L.push(`    if (m < M && n < N) { C[${off('m * N + n', M * N)}] = act(acc${i}_${j}${r.bias ? ' + bias[n]' : ''}); }`);
    L.push(`  }`);
  }
  L.push('}');
  return L.join('\n');
}
