/**
 * Typed getters over evaluated knobs, with the checks every numeric knob shares (positive
 * integers, probabilities, eps > 0), and the recorder that flattens resolved values into the
 * `ModelSpec.knobs` map that `diff` compares.
 */
import type { Span } from '../diagnostics/span.js';
import { closest, mspecName } from './suggest.js';
import type { ResolvedKnob } from './model.js';
import { type EvalContext, type Frame, fmtNum, knob, type Typed, type VariantValue } from './evaluate.js';

export interface Got<T> {
  readonly value: T;
  readonly span?: Span | undefined;
}

export class Access {
  constructor(readonly ctx: EvalContext) {}

  private get<T>(f: Frame, name: string, fallback: T): Got<T> {
    const r = knob(this.ctx, f, name);
    return r === undefined ? { value: fallback } : { value: r.value as T, span: r.span };
  }

  /** A knob that must be set: reports MS2004 at `at` when it is not. */
  required(f: Frame, name: string, at: Span): Got<number> | undefined {
    if (!f.tree.knobs.has(name)) {
      const rejected = this.ctx.rejectedKeys;
      // A rejected entry already reported this knob: the same name, its section, or a name whose
      // MS2001 suggested it (another tool's name such as n_head, or a misspelling such as contxt).
      const suggested = (k: string) => mspecName(k) === name || closest(k, [name]) !== undefined;
      if (rejected && (rejected.has(name) || rejected.has(f.where.split('.').pop()!) || [...rejected].some(suggested))) return undefined;
      this.ctx.bag.report('MS2004', at, { name, where: f.where }, { hint: requiredHint(name, f.where) });
      return undefined;
    }
    const r = knob(this.ctx, f, name);
    return r === undefined ? undefined : { value: r.value as number, span: r.span };
  }

  int(f: Frame, name: string, fallback: number): Got<number> {
    return this.get(f, name, fallback);
  }

  /** An integer ≥ 1 (or ≥ 0 with `allowZero`); reports MS2109 and returns the fallback otherwise. */
  positive(f: Frame, name: string, fallback: number, allowZero = false): Got<number> {
    const g = this.get(f, name, fallback);
    if (g.span && g.value < (allowZero ? 0 : 1)) {
      this.ctx.bag.report('MS2109', g.span, { knob: `${f.where}.${name}`.replace(/^model\./, ''), value: fmtNum(g.value) });
      return { value: fallback, span: g.span };
    }
    return g;
  }

  num(f: Frame, name: string, fallback: number): Got<number> {
    return this.get(f, name, fallback);
  }

  /** A probability-like rate in [0, 1) (dropout, masking); MS2107, naming the knob's section, otherwise. */
  rate(f: Frame, name: string, fallback: number): Got<number> {
    const g = this.get(f, name, fallback);
    if (g.span && !(g.value >= 0 && g.value < 1)) {
      const knob = `${f.where}.${name}`.replace(/^(model|train)\./, '');
      const hint =
        name === 'dropout'
          ? 'dropout is the probability of zeroing each value in training: 0 turns it off, 1 would drop everything; GPT-2 uses 0.1'
          : `${name} is a probability: at least 0 and below 1`;
      this.ctx.bag.report('MS2107', g.span, { knob, value: fmtNum(g.value) }, { hint });
      return { value: fallback, span: g.span };
    }
    return g;
  }

  bool(f: Frame, name: string, fallback: boolean): Got<boolean> {
    return this.get(f, name, fallback);
  }

  str<T extends string>(f: Frame, name: string, fallback: T): Got<T> {
    return this.get(f, name, fallback);
  }

  intOrNone(f: Frame, name: string, fallback: number | null): Got<number | null> {
    return this.get(f, name, fallback);
  }

  /** A variant (`rmsnorm(eps: 1e-6)`), `none` as null, or the fallback when unset. */
  variant(f: Frame, name: string): Got<VariantValue | null> | undefined {
    const r = knob(this.ctx, f, name);
    return r === undefined ? undefined : { value: r.value as VariantValue | null, span: r.span };
  }

  has(f: Frame, name: string): boolean {
    return f.tree.knobs.has(name);
  }

  /** Span of where `name` is set in `f`, if it is. */
  spanOf(f: Frame, name: string): Span | undefined {
    return f.tree.knobs.get(name)?.span;
  }
}

export function argNum(v: VariantValue, name: string, fallback: number): number {
  const a = v.args.get(name);
  return typeof a === 'number' ? a : fallback;
}

export function argBool(v: VariantValue, name: string, fallback: boolean): boolean {
  const a = v.args.get(name);
  return typeof a === 'boolean' ? a : fallback;
}

/** Collects resolved knob values under dotted paths for diff and for code generation. */
export class KnobRecorder {
  readonly map = new Map<string, ResolvedKnob>();

  set(path: string, group: string, value: unknown, span?: Span): void {
    const k: { value: unknown; group: string; span?: Span } = { value: toJsonValue(value), group };
    if (span) k.span = span;
    this.map.set(path, k);
  }
}

function toJsonValue(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === 'object' && v && 'args' in v) return variantText(v as VariantValue);
  return v;
}

export function variantText(v: VariantValue | Typed): string {
  if (v === null) return 'none';
  if (typeof v !== 'object' || Array.isArray(v)) return String(v);
  const vv = v as VariantValue;
  if (vv.args.size === 0) return vv.name;
  const args = [...vv.args].map(
    ([k, a]) => `${k}: ${typeof a === 'number' ? fmtNum(a) : Array.isArray(a) ? `(${a.join(', ')})` : String(a)}`,
  );
  return `${vv.name}(${args.join(', ')})`;
}

/** How to set a missing knob, in the spelling `mspec fmt` writes: `name = v` in a model's body, `name: v` in a section. */
function requiredHint(name: string, where: string): string {
  if (where === 'model') return `add \`${name} = <value>\` to the model's body`;
  return `set it in ${where}, e.g. ${where.split('.').pop()!} { ${name}: <value> }`;
}
