/**
 * Sampling on the device: one workgroup picks the next token from one row of logits with the
 * rule runtime/sample.ts states (and implements on the host): candidates are the real
 * vocabulary (vocab_multiple padding is never drawn); the order is logit descending, lower id
 * first on ties; greedy takes the first; top-k keeps the first k; weights are
 * exp((logit − max) / t); top-p keeps the shortest prefix of the order whose weight reaches
 * p · Σw; the draw walks the kept ids in id order until the running weight exceeds u · Σw,
 * u from the counter-based hash of (seed, position, stream) (runtime/counter-rng.ts).
 *
 * No sort: a cut of the order is a pair (key, id) — every element whose order key is above
 * `key`, or equal to it with an id ≤ `id` — found by bisection, first on the 32 bits of the
 * order-preserving u32 of the logit, then on the id among the ties; each probe is one tally
 * (a count or a weight sum) over the row. Each invocation owns a contiguous chunk of ids, so
 * the final walk is a prefix over per-invocation sums followed by one invocation's scan.
 *
 * The chosen id goes to `tokens[0]` — the next decode step's input, so decode steps chain on
 * the device without a read-back — and to `sampled[pos]`, the history the host reads once per
 * chunk of steps. Decode plans sample row 0 for position Step.offset + 1; prefill plans the
 * row and position in the Sample uniform (runtime/uniforms.ts SAMPLE_UNIFORM).
 */
import { COUNTER_RNG_WGSL } from '../../../../runtime/counter-rng.js';
import { SAMPLE_UNIFORM } from '../../../../runtime/uniforms.js';
import type { KernelTuning, WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, u32 } from './common.js';

export interface SampleSpec {
  /** Candidate ids: the real vocabulary (vocab_raw). */
  vocab: number;
  /** Width of a row of logits (vocab padded to vocab_multiple). */
  width: number;
  /** Rows of the logits buffer. */
  rows: number;
  /** Entries of the `sampled` history (context + 1: a position's id lands at its index). */
  history: number;
  /** Prefill: row and position from the Sample uniform; decode: row 0, position Step.offset + 1. */
  prefill: boolean;
  tuning: KernelTuning;
  name?: string;
}

/** Bindings: logits [rows, width] (read), tokens (i32 [1], written), sampled (u32 [history], written), the Step and Sample uniforms. */
export function generateSample(spec: SampleSpec): WgslKernel {
  const entryPoint = entryName('sample', spec.name);
  for (const d of ['vocab', 'width', 'rows', 'history'] as const) checkInt(entryPoint, d, spec[d]);
  if (spec.vocab > spec.width) throw new Error(`internal: ${entryPoint}: vocab ${spec.vocab} exceeds the row width ${spec.width}`);
  const V = spec.vocab;
  // Lavapipe runs a workgroup as SIMD-8 slices on one thread, each barrier a switch: fewer lanes there.
  let wg = 8;
  while (wg < (spec.tuning === 'cpu' ? 64 : 256) && wg * 8 < V) wg *= 2;
  const CH = Math.ceil(V / wg);
  const idBits = Math.ceil(Math.log2(V + 1));
  const b = new Bindings(entryPoint)
    .storage('logits', 'read', [spec.rows, spec.width])
    .storage('tokens', 'read_write', [1], 'i32')
    .storage('sampled', 'read_write', [spec.history], 'u32')
    .step();
  const list = b.list;
  const sampleBinding = list.length;
  list.push({ group: 0, binding: sampleBinding, name: 'sample', access: 'uniform', shape: [], bytes: SAMPLE_UNIFORM.bytes });
  const prelude = `${SAMPLE_UNIFORM.wgsl()}
@group(0) @binding(${sampleBinding}) var<uniform> u_sample: Sample;

${COUNTER_RNG_WGSL}

const V: u32 = ${u32(V)};
const ROW: u32 = ${u32(spec.width)};
const WG: u32 = ${u32(wg)};
const CH: u32 = ${u32(CH)};
const ALL: u32 = 0xffffffffu;

var<workgroup> red_f: array<f32, ${wg}>;
var<workgroup> red_g: array<f32, ${wg}>;
var<workgroup> red_k: array<u32, ${wg}>;
var<workgroup> red_i: array<u32, ${wg}>;
var<workgroup> owner: u32;

/** The logit as a u32 whose unsigned order is the float order. */
fn key_of(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

/** Whether (k, i) is at or before the cut (ck, ci) in the order: a higher key, or the same key and an id <= ci. */
fn within(k: u32, i: u32, ck: u32, ci: u32) -> bool {
  return k > ck || (k == ck && i <= ci);
}

/** Everything the rule computes for the row, shared by the tallies. */
struct Row { base: u32, mx: f32, t: f32, tk: u32, tc: u32, tp: u32, cp: u32 }

fn weight(r: Row, i: u32) -> f32 {
  return exp((logits[r.base + i] - r.mx) / r.t);
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
  workgroupBarrier();
  red_f[lid] = v;
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { red_f[lid] = red_f[lid] + red_f[lid + s]; }
  }
  return workgroupUniformLoad(&red_f[0]);
}

/**
 * Over the ids kept by top-k (and by top-p when \`nucleus\`), those at or before the cut
 * (ck, ci): their count, or their weight when \`weighted\`.
 */
fn tally(lid: u32, r: Row, ck: u32, ci: u32, weighted: bool, nucleus: bool) -> f32 {
  var acc = 0.0;
  for (var c = 0u; c < CH; c++) {
    let i = lid * CH + c;
    if (i < V) {
      let k = key_of(logits[r.base + i]);
      if (within(k, i, r.tk, r.tc) && (!nucleus || within(k, i, r.tp, r.cp)) && within(k, i, ck, ci)) {
        acc += select(1.0, weight(r, i), weighted);
      }
    }
  }
  return reduce_sum(lid, acc);
}

/**
 * The cut (key, id) of the order at which the tally first reaches \`goal\`: the largest key whose
 * tally of keys >= it reaches it, then the largest id whose tally strictly before it does not.
 */
fn find_cut(lid: u32, r: Row, goal: f32, weighted: bool) -> vec2<u32> {
  var ck = 0u;
  for (var bit = 0u; bit < 32u; bit++) {
    let cand = ck | (0x80000000u >> bit);
    ck = select(ck, cand, tally(lid, r, cand, ALL, weighted, false) >= goal);
  }
  var ci = 0u;
  for (var bit = 0u; bit < ${u32(idBits)}; bit++) {
    let cand = ci | (${u32(2 ** (idBits - 1))} >> bit);
    ci = select(ci, cand, cand <= V && tally(lid, r, ck, cand - 1u, weighted, false) < goal);
  }
  return vec2<u32>(ck, ci);
}`;
  const main = `@compute @workgroup_size(${wg})
fn ${entryPoint}(@builtin(local_invocation_index) lid: u32) {
  var row = 0u;
  var pos = u_step.offset + 1u;
  if (${spec.prefill}) {
    row = u_sample.row;
    pos = u_sample.pos;
  }
  var r = Row(row * ROW, 0.0, u_sample.temperature, 0u, ALL, 0u, ALL);
  // 1. The first id of the order (argmax, lowest id on ties).
  var bk = 0u;
  var bi = V;
  for (var c = 0u; c < CH; c++) {
    let i = lid * CH + c;
    if (i < V) {
      let k = key_of(logits[r.base + i]);
      if (k > bk || (k == bk && i < bi)) { bk = k; bi = i; }
    }
  }
  workgroupBarrier();
  red_k[lid] = bk;
  red_i[lid] = bi;
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) {
      let ok = red_k[lid + s];
      let oi = red_i[lid + s];
      if (ok > red_k[lid] || (ok == red_k[lid] && oi < red_i[lid])) { red_k[lid] = ok; red_i[lid] = oi; }
    }
  }
  let best = workgroupUniformLoad(&red_i[0]);
  var chosen = best;
  if (r.t > 0.0 && u_sample.top_k != 1u) {
    r.mx = logits[r.base + best];
    // 2. top-k: the k-th element of the order is the cut.
    if (u_sample.top_k > 0u && u_sample.top_k < V) {
      let cut = find_cut(lid, r, f32(u_sample.top_k), false);
      r.tk = cut.x;
      r.tc = cut.y;
    }
    // 3. top-p: the element at which the weight of the order's prefix reaches p · Σw.
    if (u_sample.top_p < 1.0) {
      let goal = u_sample.top_p * tally(lid, r, 0u, ALL, true, false);
      let cut = find_cut(lid, r, goal, true);
      r.tp = cut.x;
      r.cp = cut.y;
    }
    // 4. The draw: per-invocation kept weight, an exclusive prefix, one invocation's walk.
    var mine = 0.0;
    for (var c = 0u; c < CH; c++) {
      let i = lid * CH + c;
      if (i < V) {
        let k = key_of(logits[r.base + i]);
        if (within(k, i, r.tk, r.tc) && within(k, i, r.tp, r.cp)) { mine += weight(r, i); }
      }
    }
    workgroupBarrier();
    red_g[lid] = mine;
    workgroupBarrier();
    let u = f32(dropout_bits(dropout_key(u_sample.seed, pos, u_sample.stream), 0u) >> 8u) / 16777216.0;
    if (lid == 0u) {
      var acc = 0.0;
      var last = 0u;
      for (var t = 0u; t < WG; t++) {
        red_f[t] = acc;
        acc += red_g[t];
        if (red_g[t] > 0.0) { last = t; }
      }
      let goal = u * acc;
      owner = last;
      for (var t = 0u; t < WG; t++) {
        if (red_g[t] > 0.0 && goal < red_f[t] + red_g[t]) { owner = t; break; }
      }
      red_k[0] = bitcast<u32>(goal);
    }
    let who = workgroupUniformLoad(&owner);
    chosen = V;
    if (lid == who) {
      let goal = bitcast<f32>(red_k[0]) - red_f[lid];
      var acc = 0.0;
      var last = lid * CH;
      for (var c = 0u; c < CH; c++) {
        let i = lid * CH + c;
        if (i < V) {
          let k = key_of(logits[r.base + i]);
          if (within(k, i, r.tk, r.tc) && within(k, i, r.tp, r.cp)) {
            acc += weight(r, i);
            last = i;
            if (goal < acc) { chosen = i; break; }
          }
        }
      }
      if (chosen == V) { chosen = last; }
    }
    if (lid != who) { return; }
  } else if (lid != 0u) {
    return;
  }
  tokens[0] = i32(chosen);
  if (pos < ${u32(spec.history)}) { sampled[pos] = chosen; }
}`;
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { logits: [spec.rows, spec.width], tokens: [1], sampled: [spec.history] },
    notes: [
      `the next token from one row of logits over the ${V} real ids: greedy, temperature, top-k, top-p (runtime/sample.ts states the rule)`,
      `u = hash(seed, position, stream) (counter-rng); the id to tokens[0] (next decode input) and sampled[position]; one workgroup of ${wg}`,
    ],
    bindings: b,
    launch: { workgroupSize: [wg, 1, 1], dispatch: [1, 1, 1] },
    flops: 10 * V,
    bytes: 4 * V + 8,
    prelude,
    main,
    workgroupStorageBytes: 16 * wg + 4,
  });
}
