/**
 * Few-row projections for decoding on software adapters ('cpu' tuning): C_p = x·B_pᵀ (+ bias_p)
 * for one input x of M <= 8 rows and several weights ("parts") in ONE dispatch — Q, K and V of
 * an attention layer, or the gate and up projections of a GLU MLP. On lavapipe a decode step's
 * cost is mostly per dispatch and per storage load (matmul-cpu.ts), so this kernel:
 *  - runs every part in one dispatch: workgroup x picks the part (a uniform branch);
 *  - gives each invocation one vec4 of columns for all M rows (no 8-row tile of which 7 rows
 *    would be clamped copies of the one decode row);
 *  - loads x per lane (shareX: lane l loads x's k-vec4 number l of each block of 8 and
 *    subgroupBroadcast hands it to the others; measured on lavapipe at M = 1, K = 128-512:
 *    no faster at 128, 1.5-2x slower at 512, the unrolled block costing more than the loads);
 *  - can finish a part in its epilogue with what used to be separate kernels or copies:
 *      rope:      rotate_half RoPE at position Step.offset + m (kernels/rope.ts; full rotary),
 *                 each invocation owning a column vec4 and its rotation partner half a head on;
 *      cacheRows: write row m at row Step.offset + m of a [cacheRows, N] buffer (a KV cache),
 *                 so no cache_write copy and no break of the compute pass;
 *      dual:      a second weight in the same loop, C = fn(x·Bgᵀ + biasg) · (x·Bᵀ + bias)
 *                 (GLU: the gate projection no longer needs a kernel and a buffer of its own).
 * Each output is the same sequence of f32 operations as the 'cpu' matmul (fma over k in order,
 * 4 columns per vec4), so a decode row equals the prefill row that matmul-cpu.ts computes.
 */
import { activationWgsl, gateWgsl, type Activation } from './epilogue.js';
import type { WgslBinding, WgslKernel } from './kernel-types.js';
import { STEP_BYTES, STEP_VAR, STEP_WGSL } from './kernel-types.js';
import { COMP, f32, product, range } from './kernels/common.js';
import { ropeInvFreq } from './kernels/rope.js';
import type { Act } from '../../ir/ops.js';

/** Storage buffers a kernel may bind (WebGPU's default limit; kernels/common.ts keeps to it too). */
export const ROWS_MAX_STORAGE = 8;
/** Rows one invocation accumulates (its registers hold M·(1 or 2)·(1 or 2) vec4 accumulators). */
export const ROWS_MAX_M = 8;
/** Invocations per workgroup (two SIMD-8 slices of lavapipe), and the k-vec4s of x one broadcast block shares. */
const DEFAULT_WG = 16;
const BLOCK = 8;

export interface RowsPart {
  /** Binding suffix: '' binds B, bias, C (Bg, biasg); 'q' binds B_q, bias_q, C_q. */
  readonly name: string;
  readonly N: number;
  readonly bias: boolean;
  readonly activation?: Activation;
  /** GLU: the gate's own weight [N, K] (and bias) and its function. */
  readonly dual?: { readonly fn: Act; readonly bias: boolean } | null;
  /** Write row m at row Step.offset + m of a [cacheRows, N] buffer (a KV cache). */
  readonly cacheRows?: number | null;
  /** Full-width rotate_half RoPE on heads of head_dim (head_dim % 8 == 0, N = heads · head_dim). */
  readonly rope?: { readonly heads: number; readonly head_dim: number; readonly base: number } | null;
}

export interface RowsSpec {
  readonly M: number;
  readonly K: number;
  readonly parts: readonly RowsPart[];
  /** The device's minimum subgroup size (0: no subgroups). */
  readonly subgroupMinSize: number;
  readonly name: string;
  /** Tuning experiments: invocations per workgroup (default 16) and x shared by broadcasts (default false; needs subgroups >= 8). */
  readonly workgroupSize?: number;
  readonly shareX?: boolean;
}

/** Storage buffers a part binds: its weight(s), bias(es) and output. */
export function rowsPartBuffers(p: RowsPart): number {
  return 2 + (p.bias ? 1 : 0) + (p.dual ? 1 + (p.dual.bias ? 1 : 0) : 0);
}

/** Why `spec` cannot be emitted, or null: the plan falls back to separate kernels then. */
export function rowsUnsupported(spec: RowsSpec): string | null {
  const { M, K, parts } = spec;
  if (!(Number.isInteger(M) && M >= 1 && M <= ROWS_MAX_M)) return `M ${M} is not in [1, ${ROWS_MAX_M}]`;
  if (!(Number.isInteger(K) && K >= 4 && K % 4 === 0)) return `K ${K} is not a multiple of 4`;
  if (parts.length === 0) return 'no parts';
  if (1 + parts.reduce((n, p) => n + rowsPartBuffers(p), 0) > ROWS_MAX_STORAGE) return `over ${ROWS_MAX_STORAGE} storage buffers`;
  const fns = new Set(parts.map((p) => (p.dual ? `g:${p.dual.fn}` : `a:${p.activation ?? 'none'}`)).filter((f) => f !== 'a:none'));
  if (fns.size > 1) return 'parts with different epilogue functions';
  for (const p of parts) {
    if (!(Number.isInteger(p.N) && p.N >= 4 && p.N % 4 === 0)) return `N ${p.N} is not a multiple of 4`;
    if (p.dual && (p.activation ?? 'none') !== 'none') return 'both a gate and an activation';
    if (p.rope && (p.rope.head_dim % 8 !== 0 || p.rope.heads * p.rope.head_dim !== p.N)) return 'a RoPE layout it cannot pair';
    if (p.rope && (p.dual || (p.activation ?? 'none') !== 'none')) return 'RoPE after an activation';
  }
  return null;
}

const suffix = (p: RowsPart, base: string) => (p.name ? `${base}_${p.name}` : base);

interface Decl {
  name: string;
  access: 'read' | 'read_write';
  shape: number[];
}

/** Generates the kernel (throws on a spec rowsUnsupported rejects). Bindings: A, then per part B, bias, Bg, biasg, C; step when used. */
export function generateRowsMatmul(spec: RowsSpec): WgslKernel {
  const why = rowsUnsupported(spec);
  if (why) throw new Error(`internal: rows matmul ${spec.name}: ${why}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(spec.name)) throw new Error(`internal: '${spec.name}' is not a WGSL identifier`);
  const { M, K, parts } = spec;
  const K4 = K / 4;
  const WG = spec.workgroupSize ?? DEFAULT_WG;
  const share = (spec.shareX ?? false) && spec.subgroupMinSize >= BLOCK;
  const decls: Decl[] = [{ name: 'A', access: 'read', shape: [M, K] }];
  for (const p of parts) {
    decls.push({ name: suffix(p, 'B'), access: 'read', shape: [p.N, K] });
    if (p.bias) decls.push({ name: suffix(p, 'bias'), access: 'read', shape: [p.N] });
    if (p.dual) decls.push({ name: suffix(p, 'Bg'), access: 'read', shape: [p.N, K] });
    if (p.dual?.bias) decls.push({ name: suffix(p, 'biasg'), access: 'read', shape: [p.N] });
    decls.push({ name: suffix(p, 'C'), access: 'read_write', shape: [p.cacheRows ?? M, p.N] });
  }
  const usesStep = parts.some((p) => p.rope || p.cacheRows);
  const bindings: WgslBinding[] = decls.map((d, i) => ({
    group: 0,
    binding: i,
    name: d.name,
    access: d.access,
    shape: d.shape,
    bytes: 4 * product(d.shape),
  }));
  if (usesStep) bindings.push({ group: 0, binding: decls.length, name: 'step', access: 'uniform', shape: [], bytes: STEP_BYTES });

  // Invocations (column units) and workgroups per part: a rope unit is a vec4 and its partner.
  const units = parts.map((p) => (p.rope ? p.rope.heads * (p.rope.head_dim / 8) : p.N / 4));
  const groups = units.map((u) => Math.ceil(u / WG));
  const firstGroup = groups.map((_, i) => groups.slice(0, i).reduce((a, b) => a + b, 0));
  const total = groups.reduce((a, b) => a + b, 0);

  const epilogueFn = parts.find((p) => p.dual)?.dual?.fn;
  const act = parts.find((p) => (p.activation ?? 'none') !== 'none')?.activation ?? 'none';
  const prelude: string[] = [epilogueFn ? gateWgsl(epilogueFn) : activationWgsl(act)];
  parts.forEach((p, pi) => {
    if (!p.rope) return;
    const f = ropeInvFreq(p.rope.head_dim, p.rope.base);
    const v4 = range(f.length / 4).map(
      (i) =>
        `vec4<f32>(${range(4)
          .map((q) => f32(Math.fround(f[4 * i + q]!)))
          .join(', ')})`,
    );
    prelude.push(`const INV_FREQ${pi} = array<vec4<f32>, ${v4.length}>(${v4.join(', ')});`);
  });

  const out: string[] = [];
  const line = (s: string, d: number) => out.push('  '.repeat(d) + s);
  parts.forEach((p, pi) => {
    const d = 2;
    const B = suffix(p, 'B');
    const Bg = suffix(p, 'Bg');
    const J = p.rope ? 2 : 1;
    const cond = pi === 0 ? 'if' : '} else if';
    line(`${cond} (wg.x < ${firstGroup[pi]! + groups[pi]!}u) {`, 1);
    line(
      `// part ${p.name || 'C'}: ${p.N} columns${p.dual ? `, gate ${p.dual.fn}` : ''}${p.rope ? ', RoPE' : ''}${p.cacheRows ? ', rows at Step.offset' : ''}`,
      d,
    );
    line(`let u = (wg.x - ${firstGroup[pi]}u) * ${WG}u + lid;`, d);
    line(`let live = u < ${units[pi]}u;`, d);
    line(`let uc = min(u, ${units[pi]! - 1}u);`, d);
    if (p.rope) {
      const H4 = p.rope.head_dim / 8;
      line(`let pair = uc % ${H4}u;  // vec4 index within the first half of the head`, d);
      line(`let c0 = (uc / ${H4}u) * ${p.rope.head_dim / 4}u + pair;`, d);
      line(`let c1 = c0 + ${H4}u;  // its rotate_half partner`, d);
    } else line(`let c0 = uc;`, d);
    for (const j of range(J)) for (const q of range(4)) line(`let b${j}_${q} = (c${j} * 4u + ${q}u) * ${K4}u;`, d);
    for (const i of range(M))
      for (const j of range(J)) {
        line(`var acc${i}_${j} = vec4<f32>(0.0);`, d);
        if (p.dual) line(`var gacc${i}_${j} = vec4<f32>(0.0);`, d);
      }
    /** FMAs of k-vec4 `kv` (a WGSL u32 expression) with row i's x-vec4 given by a(i). */
    const step = (kv: string, a: (i: number) => string, depth: number) => {
      for (const i of range(M)) line(`let x${i} = ${a(i)};`, depth);
      const mats = p.dual ? [B, Bg] : [B];
      mats.forEach((mat, w) => {
        for (const j of range(J)) {
          for (const q of range(4)) line(`let t${w}${j}_${q} = ${mat}[b${j}_${q} + ${kv}];`, depth);
          for (const kk of range(4)) {
            const bv = `vec4<f32>(${range(4)
              .map((q) => `t${w}${j}_${q}.${COMP[kk]}`)
              .join(', ')})`;
            for (const i of range(M)) {
              const accName = `${w ? 'g' : ''}acc${i}_${j}`;
              line(`${accName} = fma(vec4<f32>(x${i}.${COMP[kk]}), ${bv}, ${accName});`, depth);
            }
          }
        }
      });
    };
    const blocks = share ? Math.floor(K4 / BLOCK) : 0;
    if (blocks > 0) {
      line(`for (var kb = 0u; kb < ${blocks * BLOCK}u; kb += ${BLOCK}u) {`, d);
      line(`// lane l loads x's k-vec4 kb + l % ${BLOCK} of every row; the broadcasts share them`, d + 1);
      for (const i of range(M)) line(`let xm${i} = A[${i * K4}u + kb + (lane % ${BLOCK}u)];`, d + 1);
      for (const h of range(BLOCK)) {
        line('{', d + 1);
        step(`kb + ${h}u`, (i) => `subgroupBroadcast(xm${i}, ${h}u)`, d + 2);
        line('}', d + 1);
      }
      line('}', d);
    }
    if (blocks * BLOCK < K4) {
      line(`for (var kv = ${blocks * BLOCK}u; kv < ${K4}u; kv++) {`, d);
      step('kv', (i) => `A[${i * K4}u + kv]`, d + 1);
      line('}', d);
    }
    line('if (live) {', d);
    const e = d + 1;
    for (const j of range(J)) {
      if (p.bias) line(`let bias${j} = ${suffix(p, 'bias')}[c${j}];`, e);
      if (p.dual?.bias) line(`let gbias${j} = ${suffix(p, 'biasg')}[c${j}];`, e);
    }
    if (p.rope) line(`let inv_freq = INV_FREQ${pi}[pair];`, e);
    for (const i of range(M)) {
      const row = p.cacheRows ? `${STEP_VAR}.offset + ${i}u` : `${i}u`;
      const y = (j: number) => `acc${i}_${j}${p.bias ? ` + bias${j}` : ''}`;
      if (p.rope) {
        line(`{`, e);
        line(`let angle = f32(${STEP_VAR}.offset + ${i}u) * inv_freq;`, e + 1);
        line(`let cs = cos(angle);`, e + 1);
        line(`let sn = sin(angle);`, e + 1);
        line(`let y0 = ${y(0)};`, e + 1);
        line(`let y1 = ${y(1)};`, e + 1);
        line(`${suffix(p, 'C')}[(${row}) * ${p.N / 4}u + c0] = y0 * cs - y1 * sn;`, e + 1);
        line(`${suffix(p, 'C')}[(${row}) * ${p.N / 4}u + c1] = y1 * cs + y0 * sn;`, e + 1);
        line(`}`, e);
      } else {
        const v = p.dual ? `gate_act4(gacc${i}_0${p.dual.bias ? ' + gbias0' : ''}) * (${y(0)})` : `act4(${y(0)})`;
        line(`${suffix(p, 'C')}[(${row}) * ${p.N / 4}u + c0] = ${v};`, e);
      }
    }
    line('}', d);
  });
  line('}', 1);

  const flops = parts.reduce((n, p) => n + 2 * M * p.N * K * (p.dual ? 2 : 1), 0);
  const bytes = bindings.filter((b) => b.access !== 'uniform').reduce((n, b) => n + b.bytes, 0);
  const what = parts
    .map(
      (p) =>
        `${suffix(p, 'C')} = ${p.dual ? `${p.dual.fn}(A·${suffix(p, 'Bg')}ᵀ) · ` : ''}(A·${suffix(p, 'B')}ᵀ${p.bias ? ' + bias' : ''})${p.rope ? ' rotated' : ''}${p.cacheRows ? ` at rows offset..offset+${M - 1} of [${p.cacheRows}, ${p.N}]` : ''}`,
    )
    .join('; ');
  const code = [
    `// Generated by mspec (compiler/codegen/wgsl/matmul-rows.ts). Do not edit.`,
    `// ${spec.name}: M=${M} K=${K}; ${what}`,
    `//   FLOPs: ${flops}; bytes: ${bytes}; workgroups of ${WG}, one vec4 of columns (a RoPE pair: two) × ${M} rows per invocation;` +
      ` x ${share ? 'shared along K by subgroupBroadcast' : 'loaded per lane'}`,
    ...(share ? ['enable subgroups;'] : []),
    '',
    ...(usesStep ? [STEP_WGSL, ''] : []),
    ...decls.map((dcl, i) => `@group(0) @binding(${i}) var<storage, ${dcl.access}> ${dcl.name}: array<vec4<f32>>;`),
    ...(usesStep ? [`@group(0) @binding(${decls.length}) var<uniform> ${STEP_VAR}: Step;`] : []),
    '',
    prelude.join('\n'),
    '',
    `@compute @workgroup_size(${WG})`,
    `fn ${spec.name}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32${share ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {`,
    ...out,
    '}',
    '',
  ].join('\n');
  const fuses = [
    'linear',
    ...(parts.some((p) => p.dual) ? ['glu'] : []),
    ...(act !== 'none' ? [act] : []),
    ...(parts.some((p) => p.rope) ? ['rope'] : []),
  ];
  return {
    code,
    entryPoint: spec.name,
    workgroupSize: [WG, 1, 1],
    dispatch: [total, 1, 1],
    bindings,
    flops,
    bytes,
    fuses,
    limits: {
      maxStorageBufferBindingSize: Math.max(...decls.map((_, i) => bindings[i]!.bytes)),
      maxStorageBuffersPerShaderStage: decls.length,
      maxComputeInvocationsPerWorkgroup: WG,
      maxComputeWorkgroupStorageSize: 0,
    },
    features: share ? ['subgroups'] : [],
  };
}
