/**
 * `block[...]` selectors: Python-style indices and slices over a stack's layers
 * (`block[3]`, `block[-1]`, `block[0:6]`, `block[1::2]`, `block[0, 5, 11]`).
 */
import type { Expr, LayerSelector } from '../ast/nodes.js';
import type { EvalContext, Frame } from './evaluate.js';
import { evalNumber } from './evaluate.js';
import type { Setting } from './tree.js';

export function selectorText(sel: LayerSelector): string {
  return `[${sel.items.map((i) => (i.kind === 'Index' ? t(i.value) : `${t(i.start)}:${t(i.stop)}${i.step ? `:${t(i.step)}` : ''}`)).join(', ')}]`;
}

const t = (e: Expr | undefined): string =>
  e === undefined
    ? ''
    : e.kind === 'Number'
      ? e.raw
      : e.kind === 'Unary' && e.operand.kind === 'Number'
        ? `${e.op}${e.operand.raw}`
        : e.kind === 'Name'
          ? e.name
          : '…';

/** The layer indices `sel` picks out of `n`, or undefined after reporting a problem. */
export function selectLayers(ctx: EvalContext, f: Frame, sel: LayerSelector, n: number): Set<number> | undefined {
  const out = new Set<number>();
  const pseudo: Setting = { key: 'block selector', expr: true, span: sel.span, keySpan: sel.span, model: '' };
  const num = (e: Expr | undefined): number | undefined | null => {
    if (e === undefined) return null;
    const v = evalNumber(ctx, f, pseudo, e);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v)) {
      ctx.bag.report('MS2017', e.span, { knob: 'a layer index', expr: t(e), value: v });
      return undefined;
    }
    return v;
  };
  for (const item of sel.items) {
    if (item.kind === 'Index') {
      const i = num(item.value);
      if (i === undefined || i === null) return undefined;
      const k = i < 0 ? n + i : i;
      if (k < 0 || k >= n) {
        ctx.bag.report('MS2016', item.span, { selector: `[${i}]`, layers: `${n} layer${n === 1 ? '' : 's'} (0..${n - 1})` });
        return undefined;
      }
      out.add(k);
    } else {
      const start = num(item.start);
      const stop = num(item.stop);
      const step = num(item.step);
      if (start === undefined || stop === undefined || step === undefined) return undefined;
      const st = step ?? 1;
      if (st <= 0) {
        ctx.bag.report('MS2109', item.step?.span ?? item.span, { knob: 'slice step', value: st });
        return undefined;
      }
      const norm = (v: number) => Math.max(0, Math.min(n, v < 0 ? n + v : v));
      for (let i = start === null ? 0 : norm(start); i < (stop === null ? n : norm(stop)); i += st) out.add(i);
    }
  }
  if (out.size === 0) {
    ctx.bag.report('MS2016', sel.span, { selector: selectorText(sel), layers: `${n} layer${n === 1 ? '' : 's'}` });
    return undefined;
  }
  return out;
}
