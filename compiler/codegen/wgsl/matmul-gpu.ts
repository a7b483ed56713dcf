/**
 * The 'gpu' matmul tuning: the classic shared-memory tiled kernel. A 16×16 workgroup
 * computes a 64×64 tile of C, stepping K by 16 through workgroup memory; each invocation
 * owns a 4×4 block (rows 4·ty.., columns 4·tx..) held as four vec4 accumulators and reads
 * its A and B fragments from workgroup memory as one vec4 each per k. Tiles are staged with
 * bounds checks (zero fill), so any M, N, K works. The gated epilogue reads `gate` at the
 * address it writes C, behind the same bounds check. Correctness is tested on lavapipe, where
 * this kernel is slow (shared memory and barriers cost there; see matmul-cpu.ts); its
 * speed matters only on real GPUs.
 */
import { COMP, range } from './kernels/common.js';
import type { KernelGeometry, ResolvedMatmul } from './matmul-types.js';

const TILE = 64,
  BK = 16,
  THREADS = 16,
  PER = TILE / THREADS; // PER×PER outputs per invocation

export function gpuMatmulGeometry(r: ResolvedMatmul): KernelGeometry {
  return {
    workgroupSize: [THREADS, THREADS, 1],
    dispatch: [Math.ceil(r.N / TILE), Math.ceil(r.M / TILE), r.batch],
    note: `gpu (shared-memory tiles ${TILE}×${TILE}, K step ${BK}, ${PER}×${PER} outputs per invocation)`,
    workgroupStorageBytes: 2 * BK * TILE * 4, // As and Bs: BK × TILE f32 each
  };
}

export function emitGpuMatmul(r: ResolvedMatmul): string {
  const { M, N, K, variant, batch } = r;
  const aIdx = variant === 'tn' ? 'k * M + m' : 'm * K + k';
  const bIdx = variant === 'nt' ? 'n * K + k' : 'k * N + n';
  // Which tile coordinate runs fastest through consecutive invocations: the one that is
  // contiguous in memory, so the staging loads coalesce.
  const aSplit = variant === 'tn' ? `let mm = e % ${TILE}u; let kk = e / ${TILE}u;` : `let kk = e % ${BK}u; let mm = e / ${BK}u;`;
  const bSplit = variant === 'nt' ? `let kk = e % ${BK}u; let nn = e / ${BK}u;` : `let nn = e % ${TILE}u; let kk = e / ${TILE}u;`;
  const off = (name: string, size: number) => (batch > 1 ? `wg.z * ${size}u + ` : '') + name;
  const V = TILE / 4; // vec4s per tile row
  const L: string[] = [];
  L.push(`const M = ${M}u;`, `const N = ${N}u;`, `const K = ${K}u;`);
  L.push(`@group(0) @binding(0) var<storage, read> A: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> B: array<f32>;`);
  if (r.bias) L.push(`@group(0) @binding(2) var<storage, read> bias: array<f32>;`);
  if (r.gate) L.push(`@group(0) @binding(4) var<storage, read> gate: array<f32>; // laid out like C`);
  L.push(`@group(0) @binding(3) var<storage, read_write> C: array<f32>;`);
  L.push(`var<workgroup> As: array<vec4<f32>, ${BK * V}>; // [kk][mm / 4], component mm % 4`);
  L.push(`var<workgroup> Bs: array<vec4<f32>, ${BK * V}>; // [kk][nn / 4], component nn % 4`);
  L.push('');
  L.push(`@compute @workgroup_size(${THREADS}, ${THREADS})`);
  L.push(`fn ${r.entryPoint}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,`);
  L.push(`        @builtin(local_invocation_index) tid: u32) {`);
  L.push(`  let m0 = wg.y * ${TILE}u;`);
  L.push(`  let n0 = wg.x * ${TILE}u;`);
  for (const i of range(PER)) L.push(`  var acc${i} = vec4<f32>(0.0); // row 4·ty + ${i}, columns 4·tx ..`);
  L.push(`  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {`);
  L.push(`    for (var e = tid; e < ${TILE * BK}u; e += ${THREADS * THREADS}u) {`);
  L.push(`      {`);
  L.push(`        ${aSplit}`);
  L.push(`        let m = m0 + mm; let k = k0 + kk;`);
  L.push(`        var v = 0.0;`);
  L.push(`        if (m < M && k < K) { v = A[${off(aIdx, M * K)}]; }`);
  L.push(`        As[kk * ${V}u + mm / 4u][mm % 4u] = v;`);
  L.push(`      }`);
  L.push(`      {`);
  L.push(`        ${bSplit}`);
  L.push(`        let n = n0 + nn; let k = k0 + kk;`);
  L.push(`        var v = 0.0;`);
  L.push(`        if (n < N && k < K) { v = B[${off(bIdx, K * N)}]; }`);
  L.push(`        Bs[kk * ${V}u + nn / 4u][nn % 4u] = v;`);
  L.push(`      }`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`    for (var kk = 0u; kk < ${BK}u; kk++) {`);
  L.push(`      let a = As[kk * ${V}u + lid.y];`);
  L.push(`      let b = Bs[kk * ${V}u + lid.x];`);
  for (const i of range(PER)) L.push(`      acc${i} = fma(vec4<f32>(a.${COMP[i]}), b, acc${i});`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`  }`);
  for (const i of range(PER)) {
    L.push(`  {`);
    L.push(`    let m = m0 + lid.y * ${PER}u + ${i}u;`);
    L.push(`    if (m < M) {`);
    for (const j of range(PER)) {
      const sum = `acc${i}.${COMP[j]}${r.bias ? ' + bias[n]' : ''}`;
      const store = r.gate
        ? `let o = ${off('m * N + n', M * N)}; C[o] = gate_act(gate[o]) * ${r.bias ? `(${sum})` : sum};`
        : `C[${off('m * N + n', M * N)}] = act(${sum});`;
      L.push(`      { let n = n0 + lid.x * ${PER}u + ${j}u; if (n < N) { ${store} } }`);
    }
    L.push(`    }`);
    L.push(`  }`);
  }
  L.push('}');
  return L.join('\n');
}
