/**
 * The embed kernel and its backward with BERT's segment (token-type) table, on the real
 * adapter, against float64 references of the definitions:
 *   out[b, t]    = tokens[clamp(ids[b, t])] + positions[min(offset + t, P − 1)] + segments[clamp(segment_ids[b, t])]
 *   dsegments[s] (+)= Σ dout rows whose clamped segment id is s   (dtokens, dpositions as before)
 * with out-of-range token and segment ids (clamped as the kernel documents), at offset 2, with
 * and without learned positions, on a vec4 width (C = 12) and a scalar one (C = 9); B·T·C is
 * no multiple of the 64-invocation workgroup. Outputs start as NaN (overwrite) or as random
 * values (accumulate), so a row the kernel skips or mis-adds fails. |err| <= 1e-6 + 1e-5·|ref|
 * (f32 sums of at most 14 values in (−1, 1)).
 */
import { describe, expect, it } from 'vitest';
import { generateEmbedBackward } from '../../compiler/codegen/wgsl/kernels/backward/embed-bwd.js';
import { generateEmbed } from '../../compiler/codegen/wgsl/kernels/embed.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 1e-6, rel: 1e-5 };
const B = 2,
  T = 7,
  vocab = 6,
  S = 3,
  offset = 2;
const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);

describe.each([
  [12, 5],
  [9, 0],
])('embed with segments, C %i, learned positions %i', (C, P) => {
  const ids = randomInts(B * T, C, -2, vocab + 1);
  const seg = randomInts(B * T, C + 1, -1, S);
  const tokens = random(vocab * C, 1),
    positions = random(Math.max(P, 1) * C, 2),
    segments = random(S * C, 3),
    dout = random(B * T * C, 4);
  const pos = P ? { positions: P } : {};

  it('forward: token + position + segment rows, ids clamped', async () => {
    const k = generateEmbed({ B, T, C, vocab, ...pos, segments: S });
    expect(k.bindings.map((b) => b.name)).toEqual([
      'ids',
      'tokens',
      ...(P ? ['positions'] : []),
      'segment_ids',
      'segments',
      'out',
      ...(P ? ['step'] : []),
    ]);
    const r = gpu()
      .clear('out', 'positions', 'step')
      .set('ids', ids)
      .set('tokens', tokens)
      .set('segment_ids', seg)
      .set('segments', segments)
      .set('out', new Float32Array(B * T * C).fill(NaN));
    if (P) r.set('positions', positions).set('step', packStep({ offset, kv_len: offset + T }));
    await r.run(k);
    const want = new Float64Array(B * T * C);
    for (let n = 0; n < B * T; n++) {
      const v = clamp(ids[n]!, vocab - 1),
        s = clamp(seg[n]!, S - 1),
        p = Math.min(offset + (n % T), P - 1);
      for (let c = 0; c < C; c++) want[n * C + c] = tokens[v * C + c]! + (P ? positions[p * C + c]! : 0) + segments[s * C + c]!;
    }
    expectClose(await r.read('out'), want, TOL, 'embed + segments');
  });

  for (const accumulate of [false, true]) {
    it(`backward: dsegments is the scatter-add of dout by segment id${accumulate ? ', accumulating' : ''}`, async () => {
      const k = generateEmbedBackward({ B, T, C, vocab, ...pos, segments: S, accumulate });
      expect(k.bindings.map((b) => b.name)).toEqual([
        'ids',
        'dout',
        'dtokens',
        ...(P ? ['dpositions', 'step'] : []),
        'segment_ids',
        'dsegments',
      ]);
      const start = (n: number, seed: number) => (accumulate ? random(n, seed) : new Float32Array(n).fill(NaN));
      const dtok0 = start(vocab * C, 5),
        dpos0 = start(Math.max(P, 1) * C, 6),
        dseg0 = start(S * C, 7);
      const r = gpu()
        .clear('dpositions', 'step')
        .set('ids', ids)
        .set('dout', dout)
        .set('dtokens', dtok0)
        .set('segment_ids', seg)
        .set('dsegments', dseg0);
      if (P) r.set('dpositions', dpos0).set('step', packStep({ offset, kv_len: offset + T }));
      await r.run(k);
      const base = (a: Float32Array) => Float64Array.from(accumulate ? a : new Float32Array(a.length));
      const dtok = base(dtok0),
        dpos = base(dpos0),
        dseg = base(dseg0);
      for (let n = 0; n < B * T; n++) {
        const v = clamp(ids[n]!, vocab - 1),
          s = clamp(seg[n]!, S - 1),
          p = Math.min(offset + (n % T), P - 1);
        for (let c = 0; c < C; c++) {
          dtok[v * C + c]! += dout[n * C + c]!;
          dseg[s * C + c]! += dout[n * C + c]!;
          if (P) dpos[p * C + c]! += dout[n * C + c]!;
        }
      }
      expectClose(await r.read('dsegments'), dseg, TOL, 'dsegments');
      expectClose(await r.read('dtokens'), dtok, TOL, 'dtokens');
      if (P) expectClose(await r.read('dpositions'), dpos, TOL, 'dpositions');
    });
  }
});
