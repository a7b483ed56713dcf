/**
 * The embed kernel with sinusoidal positions on the real adapter against a float64 reference
 * with the CPU interpreter's convention (interleaved: PE[p, 2i] = sin(p / 10000^(2i/C)),
 * PE[p, 2i+1] = cos(same)), at positions from 0 up to 65535, where a plain f32 angle would be
 * off by up to ~4e-3 rad. The kernel reduces the angle in exact turns (see embed.ts), so what
 * remains is f32 rounding of the fraction of a turn (~6e-8 turns), the adapter's sin/cos on
 * [−π, π] and the f32 sum with the token row: tolerance 2e-6 abs + 1e-6 rel.
 */
import { describe, expect, it } from 'vitest';
import { generateEmbed, sinusoidalTurns, type EmbedSpec } from '../../compiler/codegen/wgsl/kernels/embed.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { sinusoidal } from '../../compiler/ir/interpret/basic.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 1e-6 };

/** PE(p) in float64, the interpreter's formula. */
function pe(p: number, c: number, C: number): number {
  const angle = p / 10000 ** ((2 * Math.floor(c / 2)) / C);
  return c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
}

function reference(s: EmbedSpec, ids: Int32Array, tok: Float32Array, offset: number): Float64Array {
  const out = new Float64Array(s.B * s.T * s.C);
  for (let b = 0; b < s.B; b++)
    for (let t = 0; t < s.T; t++) {
      const id = Math.min(Math.max(ids[b * s.T + t]!, 0), s.vocab - 1);
      for (let c = 0; c < s.C; c++) out[(b * s.T + t) * s.C + c] = (tok[id * s.C + c]! + pe(offset + t, c, s.C)) * (s.scale ?? 1);
    }
  return out;
}

async function check(s: EmbedSpec, offset: number, seed: number, tokens = true): Promise<void> {
  const k = generateEmbed({ ...s, sinusoidal: true });
  const ids = randomInts(s.B * s.T, seed, -1, s.vocab);
  const tok = tokens ? random(s.vocab * s.C, seed + 1) : new Float32Array(s.vocab * s.C);
  await gpu()
    .clear('out')
    .set('ids', ids)
    .set('tokens', tok)
    .set('step', packStep({ offset, kv_len: offset + s.T }))
    .run(k);
  expectClose(await gpu().read('out'), reference(s, ids, tok, offset), TOL, `${JSON.stringify(s)} offset ${offset}`);
}

describe('embed + sinusoidal positions matches the float64 reference', () => {
  it('C % 4 == 0 (vec4): offsets 0, 5 (decode-like) and large positions', async () => {
    for (const [offset, seed] of [
      [0, 1],
      [5, 2],
      [2040, 3],
      [65520, 4],
    ] as const)
      await check({ B: 2, T: 7, C: 32, vocab: 50 }, offset, seed);
  });

  it('odd C (scalar path, the last column a lone sin), scaled; T = 1', async () => {
    await check({ B: 3, T: 5, C: 13, vocab: 11, scale: Math.sqrt(13) }, 0, 5);
    await check({ B: 1, T: 1, C: 13, vocab: 11, scale: Math.sqrt(13) }, 30001, 6);
  });

  it('the encoding alone (zero token rows) at every position 0..1023 of a wide model', async () => {
    // sin/cos themselves, not hidden behind the rounding of token values.
    for (let offset = 0; offset < 1024; offset += 256) await check({ B: 1, T: 256, C: 64, vocab: 1 }, offset, 7, false);
  });

  it('the same convention as the interpreter op (interleaved, 10000^(2i/C))', () => {
    const C = 6;
    const got = sinusoidal([{ shape: [3], data: Int32Array.of(0, 1, 777) }], { dim: C });
    for (let t = 0; t < 3; t++)
      for (let c = 0; c < C; c++) expect(Math.abs(got.data[t * C + c]! - pe([0, 1, 777][t]!, c, C))).toBeLessThan(1e-7);
  });

  it('splits each frequency into parts whose products with p < 2^16 are exact f32', () => {
    for (const C of [13, 64, 768]) {
      sinusoidalTurns(C).forEach(([a, b, c], i) => {
        const r = 1 / (2 * Math.PI * 10000 ** ((2 * i) / C));
        expect(Math.abs(a + b + c - r)).toBeLessThanOrEqual(r * 2 ** -38);
        for (const part of [a, b]) {
          expect(Math.fround(part)).toBe(part);
          // 8 significant bits: part / 2^(exponent − 7) is an integer below 256.
          const e = Math.floor(Math.log2(part));
          expect(Number.isInteger(part / 2 ** (e - 7)) && part / 2 ** (e - 7) < 256).toBe(true);
        }
        expect(Math.fround(c)).toBe(c);
      });
    }
  });

  it('binds the Step uniform and no position table, and names what it fuses', () => {
    const k = generateEmbed({ B: 2, T: 7, C: 32, vocab: 50, sinusoidal: true });
    expect(k.bindings.map((b) => `${b.binding}:${b.name}:${b.access}`)).toEqual([
      '0:ids:read',
      '1:tokens:read',
      '2:out:read_write',
      '3:step:uniform',
    ]);
    expect(k.fuses).toEqual(['embedding', 'sinusoidal', 'add']);
    expect(() => generateEmbed({ B: 1, T: 1, C: 4, vocab: 2, positions: 4, sinusoidal: true })).toThrow(/exclude each other/);
  });
});
