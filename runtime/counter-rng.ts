/**
 * The counter-based random numbers dropout uses: a pure function of (seed, step, stream,
 * element), so a mask never needs storing (the backward recomputes it), every backend gives
 * the same mask (the CPU interpreter runs the JS twin below, the kernels the WGSL twin), and
 * Ctrl-C + resume reproduces a run exactly (the step is known, not drawn).
 *
 * The mixing function is the PCG output permutation as a hash (Jarzynski & Olano, "Hash
 * Functions for GPU Rendering", JCGT 2020: `pcg` is the best quality/speed trade-off of the
 * 32-bit hashes they test). Each stage is a bijection on u32, so distinct elements of one
 * (seed, step, stream) never share their bits.
 *
 *   key(seed, step, stream) = pcg(pcg(pcg(seed) + step) + stream)
 *   bits(key, i)            = pcg(key ^ pcg(i))
 *   keep element i          ⇔ bits ≥ threshold(p) = round(p · 2³²)
 *
 * `step` is the micro-batch counter of a training run ((optimizer step − 1) · accumulation +
 * micro-batch), `stream` names one dropout site (the IR value it produces), `i` is the
 * element's row-major index in that value. Keeping ⇔ bits ≥ threshold gives a keep rate of
 * 1 − threshold/2³², within 2⁻³³ of 1 − p.
 */

/** PCG-RXS-M-XS as a u32 → u32 hash (a bijection). */
export function pcgHash(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The key of one dropout site in one micro-batch of a run. */
export function dropoutKey(seed: number, step: number, stream: number): number {
  return pcgHash((pcgHash((pcgHash(seed >>> 0) + (step >>> 0)) >>> 0) + (stream >>> 0)) >>> 0);
}

/** The 32 random bits of element `i` under `key`. */
export function dropoutBits(key: number, i: number): number {
  return pcgHash((key ^ pcgHash(i >>> 0)) >>> 0);
}

/** The u32 threshold below which an element is dropped: round(p · 2³²), for 0 ≤ p < 1. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`internal: dropout probability ${p} is outside [0, 1)`);
  return Math.min(0xffffffff, Math.round(p * 4294967296));
}

/** Whether element `i` survives (inverted dropout then scales it by 1 / (1 − p)). */
export function dropoutKeeps(key: number, i: number, threshold: number): boolean {
  return dropoutBits(key, i) >= threshold;
}

/**
 * The same functions in WGSL. A kernel that drops elements includes this once and computes
 * `dropout_key(u_step.rng_seed, u_step.rng_step, STREAM)` (the Step uniform carries the seed
 * and the micro-batch counter; runtime/uniforms.ts), then `dropout_bits(key, i) >= THRESHOLD`.
 */
export const COUNTER_RNG_WGSL = `fn pcg_hash(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn dropout_key(seed: u32, step: u32, stream: u32) -> u32 {
  return pcg_hash(pcg_hash(pcg_hash(seed) + step) + stream);
}
fn dropout_bits(key: u32, i: u32) -> u32 {
  return pcg_hash(key ^ pcg_hash(i));
}`;

/**
 * The stream of a dropout site: FNV-1a (32-bit) of the name of the IR value it produces
 * (`layers.0.attn.o.dropout`, `layers.0.attn.attention`): unique per site, and stable when
 * unrelated parts of the graph change (value ids would shift), so a checkpoint resumed by a
 * later compiler keeps its masks.
 */
export function dropoutStream(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The counter-based randomness of one training micro-batch: the run's seed and the micro-batch counter. */
export interface DropoutRng {
  readonly seed: number;
  readonly step: number;
}
