/**
 * Type-directed evaluation of knob settings. A setting is evaluated against the type the
 * schema gives its knob: numbers may be expressions over other numeric knobs in scope
 * (late-bound, innermost section first, then enclosing sections, the model, then `let`);
 * enums and variants read bare names as values. Every failure is a diagnostic, never a throw.
 */
import type { Expr } from '../ast/nodes.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { describeType, type KnobType, type Range, rangeText, type SectionDef } from './schema.js';
import { didYouMean } from './suggest.js';
import type { Setting, Tree } from './tree.js';

export interface Frame {
  readonly tree: Tree;
  readonly schema: SectionDef;
  /** Human name for messages: `block.attention`, `model gpt2_small`. */
  readonly where: string;
  readonly parent: Frame | null;
  /** Knobs of a `let` section: any name, numeric. */
  readonly isLet?: boolean;
}

export interface EvalContext {
  readonly bag: DiagnosticBag;
  /** Resolves `tokenizer.vocab`; returns a number or reports and returns undefined. */
  readonly tokenizerVocab: (span: Span) => number | undefined;
  /** Settings being evaluated (cycle detection). */
  readonly active: Setting[];
  /** Numeric results per setting and frame (settings are re-evaluated per layer frame). */
  readonly memo: Map<Setting, Map<Frame, number | undefined>>;
  /** Names of entries validation rejected: a "missing knob" about them would only echo that error. */
  readonly rejectedKeys?: ReadonlySet<string>;
}

export type VariantValue = { readonly name: string; readonly args: ReadonlyMap<string, Typed> };
export type Typed = number | boolean | string | null | VariantValue | readonly [number, number];

export interface Resolved<T> {
  readonly value: T;
  /** Where it was set; undefined for defaults. */
  readonly span?: Span;
}

export function frame(tree: Tree | undefined, schema: SectionDef, where: string, parent: Frame | null, isLet = false): Frame {
  return { tree: tree ?? { knobs: new Map(), sections: new Map(), selected: [] }, schema, where, parent, isLet };
}

/** Evaluates knob `name` of `f` (which must be in f's schema) against its type. */
export function knob(ctx: EvalContext, f: Frame, name: string): Resolved<Typed> | undefined {
  const s = f.tree.knobs.get(name);
  if (!s) return undefined;
  const def = f.schema.knobs[name];
  if (!def) return undefined;
  const v = coerce(ctx, f, s, def.type, `${name}`);
  if (typeof v === 'number' && (def.type.t === 'int' || def.type.t === 'int_or_none') && def.type.range) {
    if (!inRange(ctx, v, def.type.range, s.span, `${f.where}.${name}`.replace(/^(model|train)\./, ''))) return undefined;
  }
  return v === undefined ? undefined : { value: v, span: s.span };
}

/**
 * Reports a value outside its knob's range (schema.ts), stating the range. Below 1 where the
 * range starts at 1 is MS2109 (a positive integer), anything else out of range is MS2110.
 */
function inRange(ctx: EvalContext, v: number, r: Range, span: Span, label: string): boolean {
  if (v >= r.min && v <= r.max) return true;
  const hint = `${label} is an integer in ${rangeText(r)}`;
  if (v < 1 && r.min === 1) ctx.bag.report('MS2109', span, { knob: label, value: fmtNum(v) }, { hint });
  else
    ctx.bag.report(
      'MS2110',
      span,
      { knob: label, range: rangeText(r), value: fmtNum(v) },
      {
        hint:
          v > r.max
            ? `${hint}: far above the largest published models, and it keeps every count mspec reports exact and quick to compute`
            : hint,
      },
    );
  return false;
}

function coerce(ctx: EvalContext, f: Frame, s: Setting, type: KnobType, label: string): Typed | undefined {
  if (s.expr === true) {
    if (type.t === 'bool') return true;
    ctx.bag.report(
      'MS2003',
      s.keySpan,
      { knob: label, expected: describeType(type), found: 'a bare flag' },
      { hint: `write ${s.key}: <value>` },
    );
    return undefined;
  }
  return coerceExpr(ctx, f, s, s.expr, type, label);
}

function coerceExpr(ctx: EvalContext, f: Frame, s: Setting, e: Expr, type: KnobType, label: string): Typed | undefined {
  const mismatch = () => {
    // A numeric knob given a flag or a string: show the form it takes.
    const numeric = type.t === 'int' || type.t === 'number' ? { hint: `write ${label}: <${type.t === 'int' ? 'integer' : 'number'}>` } : {};
    ctx.bag.report('MS2003', e.span, { knob: label, expected: describeType(type), found: describeExpr(e) }, numeric);
    return undefined;
  };
  switch (type.t) {
    case 'int':
    case 'number': {
      if (!isNumericExpr(e)) return mismatch();
      const v = evalNumber(ctx, f, s, e);
      if (v === undefined) return undefined;
      if (type.t === 'int' && !Number.isInteger(v)) {
        ctx.bag.report(
          'MS2017',
          e.span,
          { knob: label, expr: exprText(e), value: fmtNum(v) },
          { hint: 'round it with floor(x), ceil(x), round(x) or multiple_of(x, m)' },
        );
        return undefined;
      }
      return v;
    }
    case 'int_or_none':
      if (e.kind === 'None') return null;
      return coerceExpr(ctx, f, s, e, { t: 'int' }, label);
    case 'bool':
      if (e.kind === 'Bool') return e.value;
      return mismatch();
    case 'string':
      if (e.kind === 'String') return e.value;
      return mismatch();
    case 'enum':
      if (e.kind === 'None' && type.values.includes('none')) return 'none';
      if (e.kind === 'Name' || e.kind === 'String') {
        const name = e.kind === 'Name' ? e.name : e.value;
        if (type.values.includes(name)) return name;
        ctx.bag.report(
          'MS2002',
          e.span,
          { value: name, knob: label, suggestion: didYouMean(name, type.values) },
          { hint: `expected ${describeType(type)}` },
        );
        return undefined;
      }
      return mismatch();
    case 'pair': {
      if (e.kind !== 'Tuple' || e.items.length !== 2) return mismatch();
      const a = evalNumber(ctx, f, s, e.items[0]!);
      const b = evalNumber(ctx, f, s, e.items[1]!);
      return a === undefined || b === undefined ? undefined : [a, b];
    }
    case 'variant':
      return coerceVariant(ctx, f, s, e, type, label);
  }
}

function coerceVariant(
  ctx: EvalContext,
  f: Frame,
  s: Setting,
  e: Expr,
  type: Extract<KnobType, { t: 'variant' }>,
  label: string,
): Typed | undefined {
  if (e.kind === 'None') {
    if (type.noneAllowed) return null;
    // `none` lexes as the keyword; where it is one of the variants (positions: none), it names that variant.
    if (type.variants.none) return { name: 'none', args: new Map() };
    ctx.bag.report('MS2003', e.span, { knob: label, expected: describeType(type), found: 'none' });
    return undefined;
  }
  const callee =
    e.kind === 'Name' ? { name: e.name, span: e.span } : e.kind === 'Call' ? { name: e.callee.name, span: e.callee.span } : undefined;
  if (!callee) {
    ctx.bag.report('MS2003', e.span, { knob: label, expected: describeType(type), found: describeExpr(e) });
    return undefined;
  }
  const def = type.variants[callee.name];
  if (!def) {
    const names = Object.keys(type.variants);
    ctx.bag.report(
      'MS2002',
      callee.span,
      { value: callee.name, knob: label, suggestion: didYouMean(callee.name, names) },
      { hint: `expected ${describeType(type)}` },
    );
    return undefined;
  }
  const args = new Map<string, Typed>();
  if (e.kind === 'Call') {
    let pos = 0;
    let ok = true;
    for (const a of e.args) {
      const argName = a.name ? a.name.name : def.positional?.[pos++];
      if (!argName) {
        ctx.bag.report('MS2013', a.span, {
          what: `${callee.name} takes no positional argument here; name it (${
            Object.keys(def.args)
              .map((k) => `${k}: …`)
              .join(', ') || 'no arguments'
          })`,
        });
        ok = false;
        continue;
      }
      const argType = def.args[argName];
      if (!argType) {
        ctx.bag.report(
          'MS2011',
          a.name?.span ?? a.span,
          { name: argName, callee: callee.name, suggestion: didYouMean(argName, Object.keys(def.args)) },
          {
            hint: Object.keys(def.args).length
              ? `${callee.name} takes ${Object.keys(def.args).join(', ')}`
              : `${callee.name} takes no arguments`,
          },
        );
        ok = false;
        continue;
      }
      if (args.has(argName)) {
        ctx.bag.report('MS2005', a.span, { name: argName, where: callee.name });
        ok = false;
        continue;
      }
      const v = coerceExpr(ctx, f, s, a.value, argType, `${callee.name}(${argName})`);
      const range = argType.t === 'int' ? argType.range : undefined;
      if (v === undefined || (range && typeof v === 'number' && !inRange(ctx, v, range, a.span, `${callee.name}(${argName})`))) ok = false;
      else args.set(argName, v);
    }
    if (!ok) return undefined;
  }
  return { name: callee.name, args };
}

function isNumericExpr(e: Expr): boolean {
  return e.kind === 'Number' || e.kind === 'Name' || e.kind === 'Binary' || e.kind === 'Unary' || e.kind === 'Call' || e.kind === 'Member';
}

const functions: Record<string, { arity: number; fn: (...xs: number[]) => number; doc: string }> = {
  floor: { arity: 1, fn: Math.floor, doc: 'round down' },
  ceil: { arity: 1, fn: Math.ceil, doc: 'round up' },
  round: { arity: 1, fn: Math.round, doc: 'round to nearest' },
  multiple_of: { arity: 2, fn: (x, m) => Math.ceil(x / m - 1e-9) * m, doc: 'round up to a multiple of m' },
  min: { arity: 2, fn: Math.min, doc: 'the smaller' },
  max: { arity: 2, fn: Math.max, doc: 'the larger' },
  sqrt: { arity: 1, fn: Math.sqrt, doc: "square root (1 / sqrt(d_model), T5's logit_scale)" },
};

/** Evaluates a numeric expression in frame `f` (the frame that holds setting `s`). */
export function evalNumber(ctx: EvalContext, f: Frame, s: Setting, e: Expr): number | undefined {
  switch (e.kind) {
    case 'Number':
      return e.value;
    case 'Unary': {
      const v = evalNumber(ctx, f, s, e.operand);
      return v === undefined ? undefined : e.op === '-' ? -v : v;
    }
    case 'Binary': {
      const a = evalNumber(ctx, f, s, e.left);
      const b = evalNumber(ctx, f, s, e.right);
      if (a === undefined || b === undefined) return undefined;
      if ((e.op === '/' || e.op === '%') && b === 0) {
        ctx.bag.report('MS2018', e.span, { expr: exprText(e) });
        return undefined;
      }
      const r = e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : e.op === '/' ? a / b : a % b;
      return snap(r);
    }
    case 'Call': {
      const fn = functions[e.callee.name];
      if (!fn) {
        ctx.bag.report(
          'MS2010',
          e.callee.span,
          { name: e.callee.name, suggestion: didYouMean(e.callee.name, Object.keys(functions)) },
          {
            hint: `functions: ${Object.entries(functions)
              .map(([k, v]) => `${k} (${v.doc})`)
              .join(', ')}`,
          },
        );
        return undefined;
      }
      if (e.args.length !== fn.arity || e.args.some((a) => a.name)) {
        ctx.bag.report('MS2013', e.span, { what: `${e.callee.name} takes ${fn.arity} positional argument${fn.arity > 1 ? 's' : ''}` });
        return undefined;
      }
      const xs = e.args.map((a) => evalNumber(ctx, f, s, a.value));
      if (xs.some((x) => x === undefined)) return undefined;
      if (e.callee.name === 'multiple_of' && xs[1]! <= 0) {
        ctx.bag.report('MS2018', e.span, { expr: exprText(e) });
        return undefined;
      }
      if (e.callee.name === 'sqrt' && xs[0]! < 0) {
        ctx.bag.report('MS2013', e.span, { what: `${exprText(e)} is the square root of ${fmtNum(xs[0]!)}, a negative number` });
        return undefined;
      }
      return snap(fn.fn(...(xs as number[])));
    }
    case 'Name':
      return lookupNumber(ctx, f, s, e.name, e.span);
    case 'Member':
      if (e.object.kind === 'Name' && e.object.name === 'tokenizer' && e.property.name === 'vocab') return ctx.tokenizerVocab(e.span);
      ctx.bag.report('MS2010', e.span, { name: exprText(e), suggestion: '' }, { hint: 'the only member available is tokenizer.vocab' });
      return undefined;
    default:
      ctx.bag.report('MS2003', e.span, { knob: s.key, expected: 'a number', found: describeExpr(e) });
      return undefined;
  }
}

function lookupNumber(ctx: EvalContext, from: Frame, s: Setting, name: string, span: Span): number | undefined {
  const visible: string[] = [];
  for (let f: Frame | null = from; f; f = f.parent) {
    const target = f.tree.knobs.get(name);
    const def = f.isLet ? { type: { t: 'number' as const } } : f.schema.knobs[name];
    if (target && def) {
      const t = def.type.t;
      if (t !== 'int' && t !== 'number' && t !== 'int_or_none') {
        ctx.bag.report('MS2003', span, {
          knob: `${s.key} (via ${name})`,
          expected: 'a number',
          found: `${name}, which is ${describeType(def.type)}`,
        });
        return undefined;
      }
      return evalSetting(ctx, f, target, span);
    }
    for (const [k, d] of Object.entries(f.schema.knobs)) if (f.tree.knobs.has(k) && d.type.t !== 'bool') visible.push(k);
    if (f.isLet) visible.push(...f.tree.knobs.keys());
  }
  ctx.bag.report(
    'MS2010',
    span,
    { name, suggestion: didYouMean(name, visible) },
    {
      hint: visible.length ? `numbers set in scope here: ${[...new Set(visible)].join(', ')}` : 'define it in a let { } section',
    },
  );
  return undefined;
}

function evalSetting(ctx: EvalContext, f: Frame, target: Setting, usedAt: Span): number | undefined {
  const memo = ctx.memo.get(target)?.get(f);
  if (memo !== undefined || ctx.memo.get(target)?.has(f)) return memo;
  if (ctx.active.includes(target)) {
    const cycle = [...ctx.active.slice(ctx.active.indexOf(target)).map((x) => x.key), target.key].join(' → ');
    ctx.bag.report('MS2012', usedAt, { cycle });
    return undefined;
  }
  if (target.expr === true) {
    ctx.bag.report('MS2003', usedAt, { knob: target.key, expected: 'a number', found: 'a bare flag' });
    return undefined;
  }
  ctx.active.push(target);
  const v = evalNumber(ctx, f, target, target.expr);
  ctx.active.pop();
  if (!ctx.memo.has(target)) ctx.memo.set(target, new Map());
  ctx.memo.get(target)!.set(f, v);
  return v;
}

/** Removes floating-point dust (8/3*3 = 8) so integer checks mean what the user meant. */
function snap(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : x;
}

export function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

export function describeExpr(e: Expr): string {
  switch (e.kind) {
    case 'Number':
      return `the number ${e.raw}`;
    case 'String':
      return `the string ${e.raw}`;
    case 'Bool':
      return String(e.value);
    case 'None':
      return 'none';
    case 'Name':
      return `'${e.name}'`;
    case 'Tuple':
      return `a tuple of ${e.items.length}`;
    case 'Call':
      return `${e.callee.name}(…)`;
    default:
      return `'${exprText(e)}'`;
  }
}

export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'Number':
      return e.raw;
    case 'String':
      return e.raw;
    case 'Bool':
      return String(e.value);
    case 'None':
      return 'none';
    case 'Name':
      return e.name;
    case 'Member':
      return `${exprText(e.object)}.${e.property.name}`;
    case 'Call':
      return `${e.callee.name}(${e.args.map((a) => (a.name ? `${a.name.name}: ` : '') + exprText(a.value)).join(', ')})`;
    case 'Tuple':
      return `(${e.items.map(exprText).join(', ')})`;
    case 'Unary':
      return `${e.op}${exprText(e.operand)}`;
    case 'Binary':
      return `${exprText(e.left)} ${e.op} ${exprText(e.right)}`;
  }
}
