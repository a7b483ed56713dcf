/**
 * The 'cpu' matmul tuning, for software adapters (Mesa lavapipe/llvmpipe, measured on Mesa
 * 25.0 with LLVM 15 on a 2-core AVX-512 machine).
 *
 * How lavapipe runs a compute shader: a workgroup is a loop over SIMD-8 slices of
 * invocations on one CPU thread, one invocation per SIMD lane ("SoA": a vec4 is four 8-wide
 * registers). Arithmetic is cheap; what costs is memory access. A storage-buffer load whose
 * address is not a compile-time constant is emitted lane by lane (extract the address,
 * bounds-check, branch, scalar load, insert) — about ten instructions per lane and
 * component, even when every lane uses the same address (the address is only treated as
 * uniform when it is built from constants, which a loop counter is not). So the kernel is
 * designed to minimise lane-loads per FMA:
 *  - no shared memory, no barriers: every invocation accumulates a TM-row × 4·TN4-column
 *    block of C in registers (TM·TN4 vec4 accumulators; 8×1 fits the 32 vector registers);
 *  - B is read as vec4<f32> rows (N % 4 == 0 for nn/tn; for nt the vec4 runs along K and is
 *    transposed in registers), each lane loading only the columns it owns;
 *  - A (the operand every lane of a subgroup shares): with subgroups, lane l loads row l's
 *    next k-values (a vec4 along K) and subgroupBroadcast hands each to all lanes, so each A element
 *    is loaded once per subgroup instead of once per lane ('shareA'). Without subgroups
 *    every lane loads its rows' values itself (about half the speed).
 * Tails: rows and columns are clamped on read (extra lanes recompute the last valid
 * row/column) and guarded on write, so the k-loop has no branches and every access is in
 * bounds (safe with Dawn's robustness off); K % kStep is handled by a second, short loop.
 * The gated epilogue reads `gate` (declared like C: vec4 when N % 4 == 0) at exactly the
 * addresses it writes C, inside the same guards.
 *
 * TUNING LOG (1024³ nn unless noted, GFLOP/s, bench/tune-matmul.mjs: interleaved rounds, best
 * of each; this shared 2-core machine drifts by up to 2x, so only same-run numbers compare.
 * TensorFlow.js's WebGPU backend in the same conditions: 6.2 quiet, 3.2 when loaded):
 *   no sharing, 8 rows × vec4, workgroup 64, k step 4 (A as vec4) ....... 10.3
 *     k step 1: 10.5;  k step 8: 2.8-6 (and 3x the compile time);  a*b+c vs fma(): same
 *     (lavapipe splits fma into mul+add anyway); workgroup 16: 11.2, 32: 10.1, 8: 9.6
 *     4 rows × vec4: 9.6;  4 rows × 2 vec4: 4.0;  8 rows × 2 vec4: 2.5;  16 rows: 1.9
 *     (beyond 32 accumulators LLVM spills)
 *   lanes on rows instead (each lane 1 row × 32 columns, B address shared): 1.5-2.4
 *   shareA (subgroupBroadcast of A), 8 rows × vec4:
 *     k step 4, workgroup 16: 22-24  <- default;  workgroup 8: 24 (same; 16 also fills a
 *       16-wide subgroup);  k step 8: 17-20;  workgroup 32/64/128 (k8): 11-16
 *     2 vec4 per lane: 9-13;  16 rows (two broadcast groups): 6.5
 *     nt: 18.5 (no sharing 11.0);  tn: 20.6 (no sharing 4.5)
 *   B from an rgba32float texture (textureLoad) instead of a buffer: +15% in a prototype;
 *     not adopted, it would force matmul operands into textures.
 *   Dawn's robustness transform on vs off: no measurable difference (lavapipe
 *     bounds-checks every buffer access itself).
 */
import { COMP, range } from './kernels/common.js';
import type { KernelGeometry, ResolvedMatmul } from './matmul-types.js';

export interface CpuTile {
  /** Rows of C per invocation (TM). */
  rows: number;
  /** vec4 column groups per invocation (TN4); columns per invocation = 4·TN4. */
  vec4s: number;
  /** Invocations per workgroup (along x). */
  workgroupSize: number;
  /** k values per main-loop iteration (1, 4 or 8). */
  kStep: number;
  /** Share A through subgroupBroadcast when the device has subgroups of >= rows lanes. */
  shareA: boolean;
}

export const DEFAULT_CPU_TILE: CpuTile = { rows: 8, vec4s: 1, workgroupSize: 16, kStep: 4, shareA: true };

interface Layout {
  shareA: boolean;
  aVec: boolean; // A declared as vec4 along K (nn/nt, K % 4 == 0)
  bVec: boolean; // B declared as vec4 (nn/tn: along N; nt: along K)
  cVec: boolean; // C and bias declared as vec4 (N % 4 == 0)
  kStep: number;
  tailStep: number;
  N4: number;
  colsGuarded: boolean;
  rowsGuarded: boolean;
}

function layoutOf(r: ResolvedMatmul, t: CpuTile): Layout {
  const { M, N, K, variant } = r;
  const aVec = variant !== 'tn' && K % 4 === 0;
  const bVec = variant === 'nt' ? K % 4 === 0 : N % 4 === 0;
  const vecK = aVec || (variant === 'nt' && bVec); // blocks must then start at multiples of 4
  const shareA = t.shareA && r.subgroupMinSize >= t.rows;
  let kStep = [1, 4, 8].includes(t.kStep) ? t.kStep : 4;
  if (vecK && kStep < 4) kStep = 4;
  const N4 = Math.ceil(N / 4);
  return {
    shareA,
    aVec,
    bVec,
    cVec: N % 4 === 0,
    kStep,
    tailStep: vecK ? 4 : 1,
    N4,
    colsGuarded: N4 % (t.workgroupSize * t.vec4s) !== 0,
    rowsGuarded: M % t.rows !== 0,
  };
}

export function cpuMatmulGeometry(r: ResolvedMatmul, t: CpuTile): KernelGeometry {
  const L = layoutOf(r, t);
  return {
    workgroupSize: [t.workgroupSize, 1, 1],
    dispatch: [Math.ceil(L.N4 / (t.workgroupSize * t.vec4s)), Math.ceil(r.M / t.rows), r.batch],
    note:
      `cpu (registers only; each invocation ${t.rows} rows × ${4 * t.vec4s} columns; workgroup ${t.workgroupSize}; ` +
      `k step ${L.kStep}; A ${L.shareA ? 'shared by subgroupBroadcast' : 'loaded per lane'})`,
    workgroupStorageBytes: 0,
  };
}

const ty = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
const plus = (kk: number) => (kk === 0 ? 'k' : `(k + ${kk}u)`);

/** WGSL for a matmul 'cpu' kernel: enable directives (go first) and the rest. */
export function emitCpuMatmul(r: ResolvedMatmul, t: CpuTile): { enables: string[]; body: string } {
  const { M, N, K, variant, batch } = r;
  const L = layoutOf(r, t);
  const TM = t.rows,
    TN4 = t.vec4s,
    WG = t.workgroupSize;
  const out: string[] = [];
  const line = (s: string, depth = 1) => out.push('  '.repeat(depth) + s);

  out.push(`const M = ${M}u;`, `const N = ${N}u;`, `const K = ${K}u;`, `const N4 = ${L.N4}u; // vec4 columns of C`);
  out.push(`@group(0) @binding(0) var<storage, read> A: array<${ty(L.aVec)}>;`);
  out.push(`@group(0) @binding(1) var<storage, read> B: array<${ty(L.bVec)}>;`);
  if (r.bias) out.push(`@group(0) @binding(2) var<storage, read> bias: array<${ty(L.cVec)}>;`);
  if (r.gate) out.push(`@group(0) @binding(4) var<storage, read> gate: array<${ty(L.cVec)}>; // laid out like C`);
  out.push(`@group(0) @binding(3) var<storage, read_write> C: array<${ty(L.cVec)}>;`);
  out.push('');
  out.push(`@compute @workgroup_size(${WG})`);
  out.push(
    `fn ${r.entryPoint}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>` +
      `${L.shareA ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {`,
  );

  // Batch offsets, in units of each array's element type.
  const aOff = batch > 1 ? 'aOff' : '0u',
    bOff = batch > 1 ? 'bOff' : '0u',
    cOff = batch > 1 ? 'cOff' : '0u';
  if (batch > 1) {
    line(`let aOff = wg.z * ${(M * K) / (L.aVec ? 4 : 1)}u;`);
    line(`let bOff = wg.z * ${(K * N) / (L.bVec ? 4 : 1)}u;`);
    line(`let cOff = wg.z * ${(M * N) / (L.cVec ? 4 : 1)}u;`);
  }
  const aStride = L.aVec ? K / 4 : K; // row stride of A (nn/nt) in elements of A
  line(`let row0 = wg.y * ${TM}u;`);
  if (L.shareA) {
    line(`// Lane l loads row l's k-values; subgroupBroadcast shares them with the other lanes.`);
    line(`let myRow = min(row0 + lane, M - 1u);`);
    if (variant !== 'tn') line(`let aMine = ${aOff} + myRow * ${aStride}u;`);
  } else {
    for (const i of range(TM)) {
      line(L.rowsGuarded ? `let r${i} = min(row0 + ${i}u, M - 1u);` : `let r${i} = row0 + ${i}u;`);
      if (variant !== 'tn') line(`let a${i}Base = ${aOff} + r${i} * ${aStride}u;`);
    }
  }
  line(`// vec4 column groups of C owned by this invocation (cc: clamped copies for reading).`);
  for (const j of range(TN4)) {
    line(`let c${j} = wg.x * ${WG * TN4}u + ${j * WG}u + lid.x;`);
    line(L.colsGuarded ? `let cc${j} = min(c${j}, N4 - 1u);` : `let cc${j} = c${j};`);
  }
  if (!L.bVec || !L.cVec || variant === 'nt') {
    for (const j of range(TN4))
      for (const q of range(4)) {
        line(
          N % 4 === 0 && !L.colsGuarded ? `let n${j}_${q} = cc${j} * 4u + ${q}u;` : `let n${j}_${q} = min(cc${j} * 4u + ${q}u, N - 1u);`,
        );
      }
  }
  if (variant === 'nt') {
    for (const j of range(TN4)) for (const q of range(4)) line(`let b${j}_${q}Base = ${bOff} + n${j}_${q} * ${L.bVec ? K / 4 : K}u;`);
  }
  for (const i of range(TM)) for (const j of range(TN4)) line(`var acc${i}_${j} = vec4<f32>(0.0);`);

  /** Loads and FMAs for k .. k+S-1 (k a multiple of 4 whenever S >= 4). */
  const kBlock = (S: number) => {
    const d = 2;
    // a(i, kk): the A value of row i at k + kk, as an expression.
    let a: (i: number, kk: number) => string;
    if (L.shareA) {
      const mine: string[] = [];
      if (variant !== 'tn' && L.aVec) {
        for (const h of range(S / 4)) line(`let am${h} = A[aMine + k / 4u${h ? ` + ${h}u` : ''}];`, d);
        for (const kk of range(S)) mine.push(`am${kk >> 2}.${COMP[kk & 3]}`);
      } else {
        for (const kk of range(S)) {
          const idx = variant === 'tn' ? `${aOff} + ${plus(kk)} * M + myRow` : `aMine + ${plus(kk)}`;
          line(`let am${kk} = A[${idx}];`, d);
          mine.push(`am${kk}`);
        }
      }
      a = (i, kk) => `subgroupBroadcast(${mine[kk]}, ${i}u)`;
    } else {
      const names: string[][] = range(TM).map(() => []);
      for (const i of range(TM)) {
        if (variant !== 'tn' && L.aVec) {
          for (const h of range(S / 4)) line(`let a${i}_${h} = A[a${i}Base + k / 4u${h ? ` + ${h}u` : ''}];`, d);
          for (const kk of range(S)) names[i]!.push(`a${i}_${kk >> 2}.${COMP[kk & 3]}`);
        } else {
          for (const kk of range(S)) {
            const idx = variant === 'tn' ? `${aOff} + ${plus(kk)} * M + r${i}` : `a${i}Base + ${plus(kk)}`;
            line(`let a${i}_${kk} = A[${idx}];`, d);
            names[i]!.push(`a${i}_${kk}`);
          }
        }
      }
      a = (i, kk) => names[i]![kk]!;
    }
    // b(j, kk): vec4 of B over this invocation's 4 columns of group j at k + kk.
    for (const j of range(TN4)) {
      if (variant === 'nt' && L.bVec) {
        for (const q of range(4))
          for (const h of range(S / 4)) {
            line(`let bt${j}_${q}_${h} = B[b${j}_${q}Base + k / 4u${h ? ` + ${h}u` : ''}];`, d);
          }
        for (const kk of range(S)) {
          line(
            `let b${j}_${kk} = vec4<f32>(${range(4)
              .map((q) => `bt${j}_${q}_${kk >> 2}.${COMP[kk & 3]}`)
              .join(', ')});`,
            d,
          );
        }
        continue;
      }
      for (const kk of range(S)) {
        if (variant === 'nt') {
          line(
            `let b${j}_${kk} = vec4<f32>(${range(4)
              .map((q) => `B[b${j}_${q}Base + ${plus(kk)}]`)
              .join(', ')});`,
            d,
          );
        } else if (L.bVec) {
          line(`let b${j}_${kk} = B[${bOff} + ${plus(kk)} * N4 + cc${j}];`, d);
        } else {
          line(
            `let b${j}_${kk} = vec4<f32>(${range(4)
              .map((q) => `B[${bOff} + ${plus(kk)} * N + n${j}_${q}]`)
              .join(', ')});`,
            d,
          );
        }
      }
    }
    for (const kk of range(S))
      for (const i of range(TM))
        for (const j of range(TN4)) {
          line(`acc${i}_${j} = fma(vec4<f32>(${a(i, kk)}), b${j}_${kk}, acc${i}_${j});`, d);
        }
  };

  const kMain = K - (K % L.kStep);
  if (kMain > 0) {
    line(`for (var k = 0u; k < ${kMain}u; k += ${L.kStep}u) {`);
    kBlock(L.kStep);
    line('}');
  }
  if (kMain < K) {
    line(`for (var k = ${kMain}u; k < K; k += ${L.tailStep}u) {`);
    kBlock(L.tailStep);
    line('}');
  }

  // Epilogue: bias, then activation or gate (C = gate_act(gate) · (acc + bias)), guarded store.
  for (const j of range(TN4)) {
    const depth = L.colsGuarded ? 2 : 1;
    if (L.colsGuarded) line(`if (c${j} < N4) {`);
    if (r.bias) {
      line(
        L.cVec
          ? `let bias${j} = bias[cc${j}];`
          : `let bias${j} = vec4<f32>(${range(4)
              .map((q) => `bias[n${j}_${q}]`)
              .join(', ')});`,
        depth,
      );
    }
    for (const i of range(TM)) {
      const sum = `acc${i}_${j}${r.bias ? ` + bias${j}` : ''}`;
      const v = r.gate ? (r.bias ? `(${sum})` : sum) : `act4(${sum})`;
      const rowDepth = L.rowsGuarded ? depth + 1 : depth;
      if (L.rowsGuarded) line(`if (row0 + ${i}u < M) {`, depth);
      if (L.cVec) {
        const idx = `${cOff} + (row0 + ${i}u) * N4 + c${j}`;
        if (r.gate) {
          line(`let o${i}_${j} = ${idx};`, rowDepth);
          line(`C[o${i}_${j}] = gate_act4(gate[o${i}_${j}]) * ${v};`, rowDepth);
        } else {
          line(`C[${idx}] = ${v};`, rowDepth);
        }
      } else {
        line(`let v${i}_${j} = ${v};`, rowDepth);
        for (const q of range(4)) {
          const col = `c${j} * 4u + ${q}u`;
          const idx = `${cOff} + (row0 + ${i}u) * N + ${col}`;
          const val = r.gate ? `gate_act(gate[o]) * v${i}_${j}.${COMP[q]}` : `v${i}_${j}.${COMP[q]}`;
          line(r.gate ? `if (${col} < N) { let o = ${idx}; C[o] = ${val}; }` : `if (${col} < N) { C[${idx}] = ${val}; }`, rowDepth);
        }
      }
      if (L.rowsGuarded) line('}', depth);
    }
    if (L.colsGuarded) line('}');
  }
  out.push('}');
  return { enables: L.shareA ? ['enable subgroups;'] : [], body: out.join('\n') };
}
