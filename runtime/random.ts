/**
 * A small seeded PRNG shared by the CPU interpreter and the GPU runtime (it lives in the
 * runtime, which imports nothing from the compiler; the interpreter imports it from here), so that one seed
 * gives the same initial weights everywhere. xoshiro128** (Blackman & Vigna) on 32-bit words,
 * seeded through splitmix32; normals by Box–Muller. Everything is plain uint32 arithmetic
 * (`Math.imul`, `>>> 0`), so results are identical on every JS engine.
 */

export interface Rng {
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** The next raw 32-bit word (unsigned). */
  nextU32(): number;
}

/** splitmix32: spreads a seed over the state so nearby seeds give unrelated streams. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** A generator for `seed` (any number; it is reduced to 32 bits). */
export function makeRng(seed: number): Rng {
  const sm = { s: seed >>> 0 };
  let a = splitmix32(sm);
  let b = splitmix32(sm);
  let c = splitmix32(sm);
  let d = splitmix32(sm);
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return result;
  };
  const uniform = () => nextU32() / 4294967296;

  // Box–Muller gives two normals per pair of uniforms; the second is kept for the next call.
  let spare: number | null = null;
  const normal = (): number => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const u1 = 1 - uniform(); // (0, 1]: log(0) is never taken
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
  return { uniform, normal, nextU32 };
}

/**
 * A seed for one named stream (e.g. one parameter), from a run seed and a label: FNV-1a over
 * the label's UTF-16 code units, mixed with the seed. Per-name streams make a parameter's
 * initial value independent of which other parameters exist and in what order.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return splitmix32({ s: h >>> 0 });
}
