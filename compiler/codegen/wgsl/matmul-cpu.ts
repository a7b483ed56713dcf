/**
 * The 'cpu' matmul tuning, for software adapters (Mesa lavapipe/llvmpipe).
 *
 * lavapipe runs a workgroup as a loop over SIMD-8 slices of invocations on one CPU thread,
 * each invocation one SIMD lane ("SoA": a vec4 is four 8-wide registers). So:
 *  - no shared memory and no barriers: they are plain memory and a loop split there;
 *  - each invocation accumulates a TM-row × (4·TN4)-column block in registers;
 *  - A is addressed only through the workgroup id, so lavapipe sees the address is uniform
 *    and loads each A element once per SIMD slice (a broadcast) instead of once per lane;
 *  - B is read as vec4<f32> rows when the layout allows (N % 4 == 0 for nn/tn, K % 4 == 0
 *    for nt, where the vec4 runs along K and is transposed in registers).
 * Tails: row and column indices are clamped on read (extra lanes recompute the last valid
 * row/column) and guarded on write, so the k-loop has no branches.
 *
 * Tuning log (1024³ nn, lavapipe on 2 cores, sleeping wait, robustness on; GFLOP/s):
 * see TUNING_NOTES below; the default tile is the best measured.
 */
import type { KernelGeometry, ResolvedMatmul } from './matmul.js';

export interface CpuTile {
  /** Rows of C per invocation (TM). */
  rows: number;
  /** vec4 column groups per invocation (TN4); columns per invocation = 4·TN4. */
  vec4s: number;
  /** Invocations per workgroup (along x). */
  workgroupSize: number;
  /** Emit fma() rather than a*b+c. */
  fma: boolean;
  /** k values per loop iteration when K % kStep == 0 (else 1). */
  kStep: number;
  /** Read A as vec4 along K when kStep is 4 and the layout allows. */
  aVec: boolean;
}

export const DEFAULT_CPU_TILE: CpuTile = { rows: 8, vec4s: 1, workgroupSize: 64, fma: true, kStep: 4, aVec: true };

export const TUNING_NOTES = `
(filled in from bench/tune-matmul.mjs runs)
`;

function layout(r: ResolvedMatmul, t: CpuTile) {
  const { N, K, variant } = r;
  const kStep = K % t.kStep === 0 ? t.kStep : 1;
  const aVec = t.aVec && kStep === 4 && variant !== 'tn'; // A rows read as vec4 along K
  const bVec = variant === 'nt' ? K % 4 === 0 && kStep === 4 : N % 4 === 0;
  const cVec = N % 4 === 0;
  return { aVec, bVec, cVec, kStep, N4: Math.ceil(N / 4), K4: K / 4 };
}

export function cpuMatmulGeometry(r: ResolvedMatmul, t: CpuTile): KernelGeometry {
  const N4 = Math.ceil(r.N / 4);
  return {
    workgroupSize: [t.workgroupSize, 1, 1],
    dispatch: [Math.ceil(N4 / (t.workgroupSize * t.vec4s)), Math.ceil(r.M / t.rows), r.batch],
    note: `cpu (no shared memory; each invocation ${t.rows} rows × ${4 * t.vec4s} columns; workgroup ${t.workgroupSize})`,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const COMP = ['x', 'y', 'z', 'w'];
const ty = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');

export function emitCpuMatmul(r: ResolvedMatmul, t: CpuTile): string {
  const { M, N, K, variant, batch } = r;
  const L = layout(r, t);
  const TM = t.rows, TN4 = t.vec4s, WG = t.workgroupSize;
  const rowsGuarded = M % TM !== 0;
  const colsGuarded = L.N4 % (WG * TN4) !== 0;
  const out: string[] = [];
  const line = (s: string, depth = 1) => out.push('  '.repeat(depth) + s);

  out.push(`const M = ${M}u;`, `const N = ${N}u;`, `const K = ${K}u;`, `const N4 = ${L.N4}u; // vec4 columns of C`);
  out.push(`@group(0) @binding(0) var<storage, read> A: array<${ty(L.aVec)}>;`);
  out.push(`@group(0) @binding(1) var<storage, read> B: array<${ty(L.bVec)}>;`);
  if (r.bias) out.push(`@group(0) @binding(2) var<storage, read> bias: array<${ty(L.cVec)}>;`);
  out.push(`@group(0) @binding(3) var<storage, read_write> C: array<${ty(L.cVec)}>;`);
  out.push('');
  out.push(`@compute @workgroup_size(${WG})`);
  out.push(`fn ${r.entryPoint}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`);

  // Batch offsets, in units of each array's element type.
  const off = (name: string) => (batch > 1 ? name : '0u');
  if (batch > 1) {
    line(`let aOff = wg.z * ${(M * K) / (L.aVec ? 4 : 1)}u;`);
    line(`let bOff = wg.z * ${(K * N) / (L.bVec ? 4 : 1)}u;`);
    line(`let cOff = wg.z * ${(M * N) / (L.cVec ? 4 : 1)}u;`);
  }
  const aOff = off('aOff'), bOff = off('bOff'), cOff = off('cOff');

  line(`// Rows depend only on the workgroup id (uniform: lavapipe loads A once per SIMD slice).`);
  line(`let row0 = wg.y * ${TM}u;`);
  for (const i of range(TM)) line(rowsGuarded ? `let r${i} = min(row0 + ${i}u, M - 1u);` : `let r${i} = row0 + ${i}u;`);
  line(`// vec4 column groups of C handled by this invocation (clamped copies for reading).`);
  for (const j of range(TN4)) {
    line(`let c${j} = wg.x * ${WG * TN4}u + ${j * WG}u + lid.x;`);
    line(colsGuarded ? `let cc${j} = min(c${j}, N4 - 1u);` : `let cc${j} = c${j};`);
  }
  // Scalar column indices where B or C is addressed per element.
  const needScalarCols = !L.bVec || !L.cVec || variant === 'nt';
  if (needScalarCols) {
    for (const j of range(TN4)) for (const q of range(4)) {
      line(N % 4 === 0 && !colsGuarded ? `let n${j}_${q} = cc${j} * 4u + ${q}u;` : `let n${j}_${q} = min(cc${j} * 4u + ${q}u, N - 1u);`);
    }
  }
  // Row bases of A.
  for (const i of range(TM)) {
    if (variant === 'tn') continue;
    line(`let a${i}Base = ${aOff} + r${i} * ${L.aVec ? K / 4 : K}u;`);
  }
  if (variant === 'nt') for (const j of range(TN4)) for (const q of range(4)) line(`let b${j}_${q}Base = ${bOff} + n${j}_${q} * ${L.bVec ? K / 4 : K}u;`);

  for (const i of range(TM)) for (const j of range(TN4)) line(`var acc${i}_${j} = vec4<f32>(0.0);`);
  line(`for (var k = 0u; k < K; k += ${L.kStep}u) {`);
  // A values a{i}_{kk} (scalars).
  const aExpr: string[][] = range(TM).map(() => []);
  for (const i of range(TM)) {
    if (variant !== 'tn' && L.aVec) {
      line(`let a${i} = A[a${i}Base + k / 4u];`, 2);
      for (const kk of range(L.kStep)) aExpr[i]![kk] = `a${i}.${COMP[kk]}`;
    } else {
      for (const kk of range(L.kStep)) {
        const kIdx = kk === 0 ? 'k' : `(k + ${kk}u)`;
        const idx = variant === 'tn' ? `${aOff} + ${kIdx} * M + r${i}` : `a${i}Base + ${kIdx}`;
        line(`let a${i}_${kk} = A[${idx}];`, 2);
        aExpr[i]![kk] = `a${i}_${kk}`;
      }
    }
  }
  // B values b{j}_{kk} (vec4 over 4 columns).
  for (const j of range(TN4)) {
    if (variant === 'nt' && L.bVec) {
      for (const q of range(4)) line(`let bt${j}_${q} = B[b${j}_${q}Base + k / 4u];`, 2);
      for (const kk of range(L.kStep)) {
        line(`let b${j}_${kk} = vec4<f32>(${range(4).map((q) => `bt${j}_${q}.${COMP[kk]}`).join(', ')});`, 2);
      }
      continue;
    }
    for (const kk of range(L.kStep)) {
      const kIdx = kk === 0 ? 'k' : `(k + ${kk}u)`;
      if (variant === 'nt') {
        line(`let b${j}_${kk} = vec4<f32>(${range(4).map((q) => `B[b${j}_${q}Base + ${kIdx}]`).join(', ')});`, 2);
      } else if (L.bVec) {
        line(`let b${j}_${kk} = B[${bOff} + ${kIdx} * N4 + cc${j}];`, 2);
      } else {
        line(`let b${j}_${kk} = vec4<f32>(${range(4).map((q) => `B[${bOff} + ${kIdx} * N + n${j}_${q}]`).join(', ')});`, 2);
      }
    }
  }
  for (const kk of range(L.kStep)) for (const i of range(TM)) for (const j of range(TN4)) {
    const a = aExpr[i]![kk]!, b = `b${j}_${kk}`, acc = `acc${i}_${j}`;
    line(t.fma ? `${acc} = fma(vec4<f32>(${a}), ${b}, ${acc});` : `${acc} += ${a} * ${b};`, 2);
  }
  line('}');

  // Epilogue: bias, activation, guarded store.
  for (const j of range(TN4)) {
    const depth = colsGuarded ? 2 : 1;
    if (colsGuarded) line(`if (c${j} < N4) {`);
    if (r.bias) {
      line(L.cVec ? `let bias${j} = bias[cc${j}];` : `let bias${j} = vec4<f32>(${range(4).map((q) => `bias[n${j}_${q}]`).join(', ')});`, depth);
    }
    for (const i of range(TM)) {
      const v = `act4(acc${i}_${j}${r.bias ? ` + bias${j}` : ''})`;
      const rowDepth = rowsGuarded ? depth + 1 : depth;
      if (rowsGuarded) line(`if (row0 + ${i}u < M) {`, depth);
      if (L.cVec) {
        line(`C[${cOff} + (row0 + ${i}u) * N4 + c${j}] = ${v};`, rowDepth);
      } else {
        line(`let v${i}_${j} = ${v};`, rowDepth);
        for (const q of range(4)) {
          const col = `c${j} * 4u + ${q}u`;
          line(`if (${col} < N) { C[${cOff} + (row0 + ${i}u) * N + ${col}] = v${i}_${j}.${COMP[q]}; }`, rowDepth);
        }
      }
      if (rowsGuarded) line('}', depth);
    }
    if (colsGuarded) line('}');
  }
  out.push('}');
  return out.join('\n');
}
