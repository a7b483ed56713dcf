/**
 * embed_backward on the real adapter, against
 *  - central finite differences (step 1e-3) of the float64 forward
 *    out[b, t] = (tokens[clamp(ids[b, t])] + positions[min(offset + t, P − 1)])·scale with
 *    loss L = Σ dout ⊙ out, on a small shape with repeated ids, at offsets 0 and 2 (2 clamps
 *    the last positions onto row P − 1): |err| <= 1e-5 + 1e-4·|ref|;
 *  - the float64 scatter-add on odd shapes (C = 37 scalar and 12 vec4; B·T·C not a multiple
 *    of the 64-invocation workgroups), accumulating onto what the tables hold, with
 *    out-of-range ids (clamped as the forward clamps them): |err| <= 1e-6 + 1e-5·|ref| (f32
 *    sums of at most 21 values in (−1, 1)).
 */
import { describe, expect, it } from 'vitest';
import { generateEmbedBackward, type EmbedBackwardSpec } from '../../compiler/codegen/wgsl/kernels/backward/embed-bwd.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const FD_TOL = { abs: 1e-5, rel: 1e-4 };
const TOL = { abs: 1e-6, rel: 1e-5 };
const H = 1e-3;

/** The float64 transpose of the gather: what each table row receives. */
function reference(s: EmbedBackwardSpec, ids: Int32Array, dout: Float32Array, offset: number) {
  const { B, T, C, vocab } = s,
    P = s.positions ?? 0,
    scale = s.scale ?? 1;
  const dtok = new Float64Array(vocab * C),
    dpos = new Float64Array(P * C);
  for (let n = 0; n < B * T; n++) {
    const v = Math.min(Math.max(ids[n]!, 0), vocab - 1),
      p = Math.min(offset + (n % T), P - 1);
    for (let c = 0; c < C; c++) {
      dtok[v * C + c]! += scale * dout[n * C + c]!;
      if (P) dpos[p * C + c]! += scale * dout[n * C + c]!;
    }
  }
  return { dtok, dpos };
}

function fd(f: (v: Float64Array) => number, at: ArrayLike<number>): Float64Array {
  const v = Float64Array.from(at),
    g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x0 = v[i]!;
    v[i] = x0 + H;
    const a = f(v);
    v[i] = x0 - H;
    const b = f(v);
    v[i] = x0;
    g[i] = (a - b) / (2 * H);
  }
  return g;
}

describe('embed_backward', () => {
  it('matches finite differences of the forward: repeated ids, learned positions, scale 1.5, offsets 0 and 2', async () => {
    const s: EmbedBackwardSpec = { B: 2, T: 3, C: 4, vocab: 5, positions: 4, scale: 1.5 };
    const { B, T, C } = s;
    const ids = Int32Array.from([1, 3, 1, 4, 1, 0]);
    const tokens = random(5 * C, 1),
      positions = random(4 * C, 2),
      dout = random(B * T * C, 3);
    const k = generateEmbedBackward(s);
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual([
      'ids:read',
      'dout:read',
      'dtokens:read_write',
      'dpositions:read_write',
      'step:uniform',
    ]);
    for (const offset of [0, 2]) {
      const loss = (tok: ArrayLike<number>, pos: ArrayLike<number>) => {
        let L = 0;
        for (let n = 0; n < B * T; n++) {
          const p = Math.min(offset + (n % T), 3);
          for (let c = 0; c < C; c++) L += dout[n * C + c]! * (tok[ids[n]! * C + c]! + pos[p * C + c]!) * 1.5;
        }
        return L;
      };
      // Garbage in the outputs: without accumulate every row is overwritten.
      const r = gpu()
        .set('ids', ids)
        .set('dout', dout)
        .set('step', packStep({ offset, kv_len: offset + T }))
        .set('dtokens', random(5 * C, 4))
        .set('dpositions', random(4 * C, 5));
      await r.run(k);
      expectClose(
        await r.read('dtokens'),
        fd((v) => loss(v, positions), tokens),
        FD_TOL,
        `dtokens, offset ${offset}`,
      );
      expectClose(
        await r.read('dpositions'),
        fd((v) => loss(tokens, v), positions),
        FD_TOL,
        `dpositions, offset ${offset}`,
      );
    }
  });

  it('matches the float64 scatter-add: no positions, C = 37, accumulated (a tied table), ids out of range clamped', async () => {
    const s: EmbedBackwardSpec = { B: 3, T: 7, C: 37, vocab: 11, accumulate: true };
    const ids = randomInts(21, 6, -2, 12); // −2, −1 → row 0; 11, 12 → row 10; many repeats
    const dout = random(21 * 37, 7),
      dtok0 = random(11 * 37, 8);
    const k = generateEmbedBackward(s);
    expect(k.bindings.map((b) => b.name)).toEqual(['ids', 'dout', 'dtokens']);
    const r = gpu().clear('dpositions').set('ids', ids).set('dout', dout).set('dtokens', dtok0);
    await r.run(k);
    const want = reference(s, ids, dout, 0);
    expectClose(
      await r.read('dtokens'),
      want.dtok.map((g, i) => g + dtok0[i]!),
      TOL,
      'dtokens accumulated',
    );
  });

  it('matches the float64 scatter-add: positions, C = 12 (vec4), accumulated, offset 3 past the table end', async () => {
    const s: EmbedBackwardSpec = { B: 3, T: 7, C: 12, vocab: 7, positions: 8, accumulate: true };
    const ids = randomInts(21, 9, 0, 6);
    const dout = random(21 * 12, 10),
      dtok0 = random(7 * 12, 11),
      dpos0 = random(8 * 12, 12);
    const r = gpu()
      .set('ids', ids)
      .set('dout', dout)
      .set('dtokens', dtok0)
      .set('dpositions', dpos0)
      .set('step', packStep({ offset: 3, kv_len: 10 }));
    await r.run(generateEmbedBackward(s));
    const want = reference(s, ids, dout, 3);
    expectClose(
      await r.read('dtokens'),
      want.dtok.map((g, i) => g + dtok0[i]!),
      TOL,
      'dtokens accumulated',
    );
    expectClose(
      await r.read('dpositions'),
      want.dpos.map((g, i) => g + dpos0[i]!),
      TOL,
      'dpositions accumulated',
    );
  });

  it('header', () => {
    const k = generateEmbedBackward({ B: 2, T: 8, C: 64, vocab: 100, positions: 16 });
    expect(k.code.split('\n')[0]).toMatch(
      /^\/\/ generated by mspec — embed_backward: fuses embedding_backward, embedding_backward; shapes [^;]+; FLOPs \d+; bytes \d+$/,
    );
  });
});
