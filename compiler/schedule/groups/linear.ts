/**
 * linear: x·Wᵀ (+ bias) as one matmul. Inference fuses the activation (GELU/ReLU) or the GLU
 * gate into the matmul's epilogue. Training writes the pre-activation and applies the
 * activation in its own kernel, so the backward has it; the backward's dX matmul then applies
 * the previous layer's activation backward in its epilogue when it can (llm.c's fused GELU
 * backward): d(pre) = act'(pre) · (dPre · W).
 */
import { generateActivation } from '../../codegen/wgsl/kernels/activation.js';
import { generateColumnSum } from '../../codegen/wgsl/kernels/backward/bias-grad.js';
import { generateActivationBackward } from '../../codegen/wgsl/kernels/backward/elementwise-bwd.js';
import { generateGatherRow } from '../../codegen/wgsl/kernels/gather-row.js';
import { generateRowsMatmul, ROWS_MAX_M, type RowsPart, rowsUnsupported } from '../../codegen/wgsl/matmul-rows.js';
import type { Act } from '../../ir/ops.js';
import { rowChunks, vocabChunks } from '../chunks.js';
import { type GroupModule, matmul, type PlanContext } from '../context.js';

export interface LinearGroup {
  readonly kind: 'linear';
  readonly x: number;
  readonly weight: number;
  readonly bias: number | null;
  readonly activation: Act | null;
  /**
   * Gated epilogue (SwiGLU/GeGLU/ReGLU): out = fn(gate) · (x·Wᵀ + b). Inference only. `proj`:
   * the gate is itself a projection of the same x (fuse.ts), which a few-row plan computes in
   * the same kernel (matmul-rows.ts `dual`) and any other plan runs first as its own group.
   */
  readonly gate: { readonly value: number; readonly fn: Act; readonly proj?: LinearGroup } | null;
  readonly out: number;
  readonly scope: string;
}

/**
 * Few-row inference plans (decode, speculative verify) on a software adapter run their
 * projections through matmul-rows.ts: one vec4 of columns per invocation instead of an 8-row
 * tile, x shared along K, and several projections per dispatch. Same f32 results as the 'cpu'
 * matmul, so decode rows equal prefill rows.
 */
export function rowsPlan(c: PlanContext, rows: number): boolean {
  return c.tuning === 'cpu' && !c.training && rows <= ROWS_MAX_M;
}

/** The rows kernel for these parts, or null when it cannot take them (the caller emits separate kernels). */
export function rowsKernel(c: PlanContext, rows: number, K: number, parts: RowsPart[], name: string) {
  const spec = { M: rows, K, parts, subgroupMinSize: c.sg, name };
  return rowsPlan(c, rows) && rowsUnsupported(spec) === null ? generateRowsMatmul(spec) : null;
}

/** A plain or GLU linear of a few-row plan as one rows kernel; false when it does not fit one. */
function rowsLinear(c: PlanContext, g: LinearGroup, rows: number, N: number, K: number): boolean {
  const { P } = c;
  if (g.gate && !g.gate.proj) return false; // a gate read from a buffer: the matmul's gated epilogue
  const gp = g.gate?.proj;
  const part: RowsPart = {
    name: '',
    N,
    bias: g.bias !== null,
    activation: g.activation ?? 'none',
    ...(gp ? { dual: { fn: g.gate!.fn, bias: gp.bias !== null } } : {}),
  };
  const k = rowsKernel(c, rows, K, [part], `linear_${rows}x${N}x${K}${gp ? `_${g.gate!.fn}_glu` : ''}`);
  if (!k) return false;
  const bind: Record<string, string> = { A: P.buf(g.x), B: P.buf(g.weight), C: P.buf(g.out) };
  if (g.bias !== null) bind.bias = P.buf(g.bias);
  if (gp) bind.Bg = P.buf(gp.weight);
  if (gp?.bias != null) bind.biasg = P.buf(gp.bias);
  P.emit(k, bind, g.scope);
  return true;
}

const mm = (c: PlanContext, M: number, N: number, K: number, variant: 'nn' | 'nt' | 'tn', bias = false) =>
  matmul(c, { M, N, K, variant, bias, activation: 'none', name: `mm_${variant}_${M}x${N}x${K}` });

/**
 * An inference LM head too large for one binding: prefill takes the last prompt row first
 * (its index an i32 input the runtime writes), then one matmul per chunk of the weight's rows
 * (vocabulary ids) writes its column block of the single logits row (contiguous because M = 1).
 * Null when the ordinary whole-tensor matmul fits, or the head has several rows (decode with
 * B > 1; compile-model reports what cannot be bound).
 */
function chunkedHead(c: PlanContext, g: LinearGroup, rows: number, N: number, K: number): string | null {
  const { P } = c;
  const weightFits = 4 * N * K <= c.maxBinding;
  // A prompt's rows (whole or a chunked prefill's R) need only the last row's logits when the head cannot run whole.
  const lastRow = c.mode === 'prefill' && rows > 1 && (4 * rows * N > c.maxBinding || !weightFits);
  if (!lastRow && (weightFits || rows !== 1)) return null;
  let x = P.buf(g.x);
  if (lastRow) {
    c.lastRow = P.add({ name: 'last_row', kind: 'input', dtype: 'i32', shape: [1], bytes: 4 });
    const picked = P.scratch(`${x}:last_row`, [1, K]);
    P.emit(generateGatherRow({ rows, width: K }), { x, index: c.lastRow, out: picked }, g.scope);
    x = picked;
  }
  // Decode's own logits buffer is one row already; prefill's would be T rows, so it gets a one-row buffer.
  const out = lastRow ? P.scratch('logits:last_row', [1, 1, N], 'output') : P.buf(g.out);
  // Chunks of whole vocabulary rows whose logits also start on an aligned offset.
  const chunks = rowChunks(N, 4 * K, c.maxBinding, c.bindAlign, c.bindAlign / 4) ?? [
    { row0: 0, rows: N, range: { offset: 0, size: 4 * N * K } },
  ];
  for (const ch of chunks) {
    const whole = chunks.length === 1;
    const k = matmul(c, {
      M: 1,
      N: ch.rows,
      K,
      variant: 'nt',
      bias: g.bias !== null,
      activation: 'none',
      name: `linear_1x${ch.rows}x${K}`,
    });
    const bind: Record<string, string> = { A: x, B: P.buf(g.weight), C: out };
    if (g.bias !== null) bind.bias = P.buf(g.bias);
    const cols = { offset: 4 * ch.row0, size: 4 * ch.rows };
    const ranges = whole ? undefined : { B: ch.range, C: cols, ...(g.bias !== null ? { bias: cols } : {}) };
    P.emit(k, bind, g.scope, {}, ranges);
  }
  c.logits = out;
  return out;
}

/**
 * Training and evaluation with logits or an LM head too large for one binding (GPT-2 small's
 * tied head is 154 MB, its logits for 1,024 rows 206 MB): the head runs per vocabulary chunk,
 * writing logits chunk by chunk ([rows, cols] blocks, chunk-major; softmax_xent reads them so,
 * ./softmax-xent.ts). False when everything fits one binding.
 */
function chunkedLogits(c: PlanContext, g: LinearGroup, rows: number, N: number, K: number): boolean {
  const { P } = c;
  const chunks = vocabChunks(c, rows, N, K);
  if (!chunks) return false;
  const out = P.buf(g.out);
  for (const ch of chunks) {
    const bind: Record<string, string> = { A: P.buf(g.x), B: P.buf(g.weight), C: out };
    if (g.bias !== null) bind.bias = P.buf(g.bias);
    const ranges = { B: ch.weight, C: ch.logits, ...(g.bias !== null ? { bias: ch.bias } : {}) };
    P.emit(mm(c, rows, ch.cols, K, 'nt', g.bias !== null), bind, g.scope, {}, ranges);
  }
  c.logitChunks = { buffer: out, chunks };
  c.logits = out;
  return true;
}

/** Training: the buffer holding x·Wᵀ + b before the activation (the output itself without one). */
type Saved = string;

export const linear: GroupModule<LinearGroup, Saved> = {
  forward(c, g) {
    const { P, graph } = c;
    const { rows } = P.rowsOf(g.x);
    const [N, K] = graph.values[g.weight]!.type.shape as [number, number];
    const head = g.scope === 'head' && !g.gate && !g.activation && graph.outputs.includes(g.out);
    if (head && (c.training || c.mode === 'forward') && chunkedLogits(c, g, rows, N, K)) return P.buf(g.out);
    if (!c.training) {
      if (head) {
        const logits = chunkedHead(c, g, rows, N, K);
        if (logits) return logits;
      }
      const isHead = graph.outputs.includes(g.out) && g.scope === 'head';
      if (rowsLinear(c, g, rows, N, K)) {
        if (isHead) c.logits = P.buf(g.out);
        return P.buf(g.out);
      }
      // The gate projection fused here (fuse.ts) but not computable in this kernel: its own matmul first.
      if (g.gate?.proj) linear.forward(c, g.gate.proj);
      const k = matmul(c, {
        M: rows,
        N,
        K,
        variant: 'nt',
        bias: g.bias !== null,
        activation: g.activation ?? 'none',
        ...(g.gate ? { gate: { fn: g.gate.fn } } : {}),
        // A few rows (decode's one): a tile of that many rows, not 8 of which the rest are clamped copies.
        ...(rows < 8 ? { cpuTile: { rows } } : {}),
        name: `linear_${rows}x${N}x${K}`,
      });
      const bind: Record<string, string> = { A: P.buf(g.x), B: P.buf(g.weight), C: P.buf(g.out) };
      if (g.gate) bind.gate = P.buf(g.gate.value);
      if (g.bias !== null) bind.bias = P.buf(g.bias);
      P.emit(k, bind, g.scope);
      if (isHead) c.logits = P.buf(g.out);
      return P.buf(g.out);
    }
    const pre = g.activation ? P.scratch(`pre:${P.buf(g.out)}`, [rows, N]) : P.buf(g.out);
    const bind: Record<string, string> = { A: P.buf(g.x), B: P.buf(g.weight), C: pre };
    if (g.bias !== null) bind.bias = P.buf(g.bias);
    P.emit(mm(c, rows, N, K, 'nt', g.bias !== null), bind, g.scope);
    if (g.activation) {
      P.emit(generateActivation({ shape: [rows, N], fn: g.activation }), { x: pre, out: P.buf(g.out) }, g.scope);
      c.activated.set(P.buf(g.out), { pre, fn: g.activation });
    }
    if (g.scope === 'head') c.logits = P.buf(g.out);
    return pre;
  },
  backward(c, d, g, pre) {
    const { P, graph } = c;
    const out = P.buf(g.out);
    const dOut = d.of(out);
    if (!dOut) return; // nothing downstream needs it
    const { rows } = P.rowsOf(g.x);
    const [N, K] = graph.values[g.weight]!.type.shape as [number, number];
    let dPre = dOut;
    if (g.activation && !d.fusedPre.has(out)) {
      dPre = P.scratch(`d:${pre}`, [rows, N]);
      P.emit(generateActivationBackward({ shape: [rows, N], fn: g.activation }), { x: pre, dout: dOut, dx: dPre }, g.scope);
    }
    const x = P.buf(g.x);
    const w = P.buf(g.weight);
    if (c.logitChunks?.buffer === out) {
      // The chunked head: each vocabulary chunk writes its rows of dW (and db) and adds its part of dX.
      const chunks = c.logitChunks.chunks;
      d.contribute(w, g.scope, (dst) => {
        for (const ch of chunks)
          P.emit(mm(c, ch.cols, K, rows, 'tn'), { A: dPre, B: x, C: dst }, g.scope, {}, { A: ch.logits, C: ch.weight });
      });
      if (g.bias !== null)
        d.contribute(P.buf(g.bias), g.scope, (dst) => {
          for (const ch of chunks)
            P.emit(generateColumnSum({ rows, cols: ch.cols }), { x: dPre, out: dst }, g.scope, {}, { x: ch.logits, out: ch.bias });
        });
      if (graph.values[g.x]!.source !== 'input')
        for (const ch of chunks)
          d.contribute(x, g.scope, (dst) =>
            P.emit(mm(c, rows, K, ch.cols, 'nn'), { A: dPre, B: w, C: dst }, g.scope, {}, { A: ch.logits, B: ch.weight }),
          );
      return;
    }
    // dW = dPreᵀ · X   [N, K]
    d.contribute(w, g.scope, (dst) => P.emit(mm(c, N, K, rows, 'tn'), { A: dPre, B: x, C: dst }, g.scope));
    if (g.bias !== null) {
      d.contribute(P.buf(g.bias), g.scope, (dst) => P.emit(generateColumnSum({ rows, cols: N }), { x: dPre, out: dst }, g.scope));
    }
    // dX = dPre · W   [M, K]. When X is the activation of a linear read by nothing else, the
    // same matmul applies that activation's backward in its epilogue.
    const act = c.activated.get(x);
    if (act && (c.uses.get(g.x)?.length ?? 0) === 1 && !d.of(x) && !graph.outputs.includes(g.x)) {
      const dst = P.scratch(`d:${act.pre}`, [rows, K]);
      const k = matmul(c, { M: rows, N: K, K: N, variant: 'nn', gate: { fn: `d${act.fn}` }, name: `mm_nn_${rows}x${K}x${N}_d${act.fn}` });
      P.emit(k, { A: dPre, B: w, gate: act.pre, C: dst }, g.scope);
      d.set(x, dst);
      d.fusedPre.add(x);
    } else if (graph.values[g.x]!.source !== 'input')
      d.contribute(x, g.scope, (dst) => P.emit(mm(c, rows, K, N, 'nn'), { A: dPre, B: w, C: dst }, g.scope));
  },
};
