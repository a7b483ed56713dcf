/**
 * The activation table: one entry per activation function, and every fact about it in one
 * place — the float64 definition and its derivative (the interpreter's ops and backward, and
 * the references every kernel test measures against), FLOPs per element (the op table's cost
 * model), and the WGSL template of the function and of its derivative (the elementwise kernels,
 * the matmul epilogues and the fused backward epilogue all emit from these).
 *
 * WGSL templates are written once for a type parameter `T` (f32 or vec4<f32>): WGSL built-ins
 * are component-wise and `T(c)` splats a constant to either type. Every sigmoid-like term is
 * written through e = exp(−|·|) ≤ 1 so no template overflows, produces NaN, or cancels in the
 * tails.
 */

export type ActivationName = 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'tanh';

export interface ActivationDef {
  readonly describe: string;
  /** The exact definition in float64 (to ~1e-14), the reference for every kernel. */
  readonly f: (x: number) => number;
  /** d f / dx at the input, in float64. */
  readonly df: (x: number) => number;
  /** Rough FLOPs per element (exp/erf/tanh counted as a few): the cost model's count. */
  readonly flops: number;
  readonly dflops: number;
  /** How far the WGSL may be from `f` beyond f32 rounding (what the kernel tests allow). */
  readonly accuracy: string;
  /** WGSL `fn NAME(x: T) -> T` computing f. */
  readonly wgsl: (T: string, name: string) => string;
  /** WGSL `fn NAME(x: T) -> T` computing f'. */
  readonly dwgsl: (T: string, name: string) => string;
}

const SQRT_2_OVER_PI = 0.7978845608028654;
const INV_SQRT_2PI = 0.3989422804014327;
const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * erf to ~3e-14 absolute (checked against libm on a 0.01 grid over [−7, 7]): the Maclaurin
 * series for |x| < 3, where alternating terms cancel away at most ~4 of 16 digits, and beyond
 * it the continued fraction for erfc, evaluated bottom-up, where the series would cancel badly.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  if (z < 3) {
    // erf z = 2/√π Σ (−1)ⁿ z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * TWO_OVER_SQRT_PI * sum;
  }
  // erfc z = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))): 60 levels are ample for z ≥ 3.
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Abramowitz & Stegun 7.1.26 for erfc(z), z ≥ 0 (|err| ≤ 1.5e-7), as WGSL statements defining `p·exp(−z²)`. */
const erfcAS = (c: (v: string) => string) =>
  `  let t = ${c('1.0')} / (${c('1.0')} + ${c('0.3275911')} * z);\n` +
  `  let p = t * (${c('0.254829592')} + t * (${c('-0.284496736')} + t * (${c('1.421413741')}` +
  ` + t * (${c('-1.453152027')} + t * ${c('1.061405429')}))));\n` +
  `  let ez = exp(-z * z);`;

const splat = (T: string) => (v: string) => `${T}(${v})`;

export const ACTIVATIONS: { readonly [K in ActivationName]: ActivationDef } = {
  relu: {
    describe: 'ReLU: max(0, x)',
    f: (x) => (x > 0 ? x : 0),
    // 0 at the kink, as PyTorch.
    df: (x) => (x > 0 ? 1 : 0),
    flops: 1,
    dflops: 1,
    accuracy: 'exact',
    wgsl: (T, name) => `fn ${name}(x: ${T}) -> ${T} { return max(x, ${T}(0.0)); }`,
    dwgsl: (T, name) => `fn ${name}(x: ${T}) -> ${T} { return select(${T}(0.0), ${T}(1.0), x > ${T}(0.0)); }`,
  },
  silu: {
    describe: 'SiLU (swish): x · sigmoid(x)',
    // x / (1 + e^(−x)) is exact at both tails (no ∞·0).
    f: (x) => x / (1 + Math.exp(-x)),
    df: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    },
    flops: 4,
    dflops: 8,
    accuracy: 'f32 rounding (a few ulp of exp and one division)',
    wgsl: (T, name) => `fn ${name}(x: ${T}) -> ${T} { return x / (${T}(1.0) + exp(-x)); } // x * sigmoid(x)`,
    dwgsl: (T, name) => {
      const c = splat(T);
      return [
        `// σ + x·σ(1 − σ), σ(1 − σ) = e / (1 + e)², e = exp(−|x|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let e = exp(-abs(x));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  let s = select(e * r, r, x >= ${c('0.0')});`,
        `  return s + x * e * r * r;`,
        `}`,
      ].join('\n');
    },
  },
  gelu: {
    describe: 'GELU (erf form): x·Φ(x) (BERT, PyTorch default)',
    f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    df: (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
    flops: 8,
    dflops: 16,
    // A&S 7.1.26 erfc: |gelu − approx| ≤ ½|x|·1.5e-7; for x < 0 erfc is used directly, so
    // 1 + erf(x/√2) never cancels.
    accuracy: '|error| ≤ 7.5e-8·|x| + f32 rounding (A&S 7.1.26 erfc, |err| ≤ 1.5e-7)',
    wgsl: (T, name) => {
      const c = splat(T);
      return [
        `// 0.5 x (1 + erf(x / sqrt 2)) with erfc from Abramowitz & Stegun 7.1.26 (|err| <= 1.5e-7).`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let z = abs(x) * ${c('0.7071067811865476')};`,
        erfcAS(c),
        `  let erfc_z = p * ez;`,
        `  return ${c('0.5')} * x * select(erfc_z, ${c('2.0')} - erfc_z, x >= ${c('0.0')});`,
        `}`,
      ].join('\n');
    },
    dwgsl: (T, name) => {
      const c = splat(T);
      return [
        `// Φ(x) + x·φ(x); Φ(−|x|) = erfc(|x|/√2)/2 by A&S 7.1.26 as the forward, φ(x) = exp(−x²/2)/√(2π)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let z = abs(x) * ${c('0.7071067811865476')};`,
        erfcAS(c),
        `  let lo = ${c('0.5')} * p * ez;`,
        `  return select(lo, ${c('1.0')} - lo, x >= ${c('0.0')}) + x * ez * ${c(String(INV_SQRT_2PI))};`,
        `}`,
      ].join('\n');
    },
  },
  gelu_tanh: {
    describe: 'GELU, tanh approximation (GPT-2)',
    f: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
    df: (x) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    },
    flops: 8,
    dflops: 16,
    // Written as x·σ(2u) = x / (1 + exp(−2u)), which equals ½x(1 + tanh u) exactly but cannot
    // produce NaN (tanh through exp overflows for |u| > ~44) and does not cancel for x < 0.
    accuracy: 'the tanh approximation itself, evaluated to f32 rounding (a few ulp of exp)',
    wgsl: (T, name) => {
      const c = splat(T);
      return [
        `// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as x / (1 + exp(-2u)).`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let u = ${c(String(SQRT_2_OVER_PI))} * (x + ${c('0.044715')} * x * x * x);`,
        `  return x / (${c('1.0')} + exp(${c('-2.0')} * u));`,
        `}`,
      ].join('\n');
    },
    dwgsl: (T, name) => {
      const c = splat(T);
      return [
        `// s + 2x·s(1 − s)·k(1 + 3a x²), s = σ(2u), u = k(x + a x³); s(1 − s) = e / (1 + e)², e = exp(−2|u|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let x2 = x * x;`,
        `  let u = ${c(String(SQRT_2_OVER_PI))} * x * (${c('1.0')} + ${c('0.044715')} * x2);`,
        `  let e = exp(${c('-2.0')} * abs(u));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  let s = select(e * r, r, u >= ${c('0.0')});`,
        `  return s + ${c('2.0')} * x * e * r * r * ${c(String(SQRT_2_OVER_PI))} * (${c('1.0')} + ${c('0.134145')} * x2);`,
        `}`,
      ].join('\n');
    },
  },
  tanh: {
    describe: 'tanh (the BERT pooler)',
    f: Math.tanh,
    df: (x) => 1 / Math.cosh(x) ** 2,
    flops: 4,
    dflops: 6,
    // sign(x)·(1 − e)/(1 + e), e = exp(−2|x|): absolute error a few ulp of 1, so near 0 the
    // relative error grows (x = 1e-3: ~1e-4 relative, 1e-7 absolute).
    accuracy: 'absolute error a few ulp of 1 (relative error grows near 0)',
    wgsl: (T, name) => {
      const c = splat(T);
      return [
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let e = exp(${c('-2.0')} * abs(x));`,
        `  return sign(x) * (${c('1.0')} - e) / (${c('1.0')} + e);`,
        `}`,
      ].join('\n');
    },
    dwgsl: (T, name) => {
      const c = splat(T);
      return [
        `// 1 − tanh² = 4e / (1 + e)², e = exp(−2|x|)`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let e = exp(${c('-2.0')} * abs(x));`,
        `  let r = ${c('1.0')} / (${c('1.0')} + e);`,
        `  return ${c('4.0')} * e * r * r;`,
        `}`,
      ].join('\n');
    },
  },
};

export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as readonly ActivationName[];

/** WGSL defining `NAME(x: f32)` and `NAME4(x: vec4<f32>)` for f (or f' with `derivative`). */
export function activationPair(fn: ActivationName, name: string, derivative = false): string {
  const def = ACTIVATIONS[fn];
  const t = derivative ? def.dwgsl : def.wgsl;
  return `${t('f32', name)}\n${t('vec4<f32>', `${name}4`)}`;
}
