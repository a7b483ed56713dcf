/**
 * The knob tree of one model after `extends`: each section's settings keyed by name, later
 * (derived) settings replacing earlier (base) ones, and `block[selector] { }` overrides kept
 * in order for per-layer resolution. Settings keep their unevaluated expression: evaluation
 * is late-bound, so a base model's `hidden: 4 * d_model` follows a derived model's d_model.
 */
import type { Entry, Expr, LayerSelector, ModelNode } from '../ast/nodes.js';
import type { Span } from '../diagnostics/span.js';

export interface Setting {
  readonly key: string;
  /** The value's expression; `true` for a bare flag such as `causal`. */
  readonly expr: Expr | true;
  /** The whole entry (for "set here" notes) and the key (where most errors point). */
  readonly span: Span;
  readonly keySpan: Span;
  /** Which model's source set it (a base's or the model's own). */
  readonly model: string;
}

export interface Selected {
  readonly selector: LayerSelector;
  readonly tree: Tree;
  readonly model: string;
}

export interface Tree {
  readonly knobs: Map<string, Setting>;
  readonly sections: Map<string, Tree>;
  readonly selected: Selected[];
}

export function emptyTree(): Tree {
  return { knobs: new Map(), sections: new Map(), selected: [] };
}

/**
 * Applies one model body on top of `target`. `skip` holds entries validation rejected (they
 * were already reported and must not cause knock-on errors).
 */
export function applyBody(target: Tree, body: readonly Entry[], model: string, skip: ReadonlySet<Entry>): void {
  for (const e of body) {
    if (skip.has(e)) continue;
    if (e.kind === 'Assign' || e.kind === 'Flag') {
      target.knobs.set(e.key.name, {
        key: e.key.name,
        expr: e.kind === 'Assign' ? e.value : true,
        span: e.span,
        keySpan: e.key.span,
        model,
      });
    } else if (e.selector) {
      const tree = emptyTree();
      applyBody(tree, e.body, model, skip);
      target.selected.push({ selector: e.selector, tree, model });
    } else {
      let sub = target.sections.get(e.key.name);
      if (!sub) {
        sub = emptyTree();
        target.sections.set(e.key.name, sub);
      }
      applyBody(sub, e.body, model, skip);
    }
  }
}

/** A new tree with `top` laid over `base` (neither is modified). */
export function overlay(base: Tree | undefined, top: Tree | undefined): Tree {
  const out = emptyTree();
  for (const t of [base, top]) {
    if (!t) continue;
    for (const [k, v] of t.knobs) out.knobs.set(k, v);
    for (const [k, v] of t.sections) out.sections.set(k, overlay(out.sections.get(k), v));
    out.selected.push(...t.selected);
  }
  return out;
}

/** The chain of model nodes from the farthest base to the model itself. */
export function buildTree(chain: readonly ModelNode[], skip: ReadonlySet<Entry>): Tree {
  const tree = emptyTree();
  for (const m of chain) applyBody(tree, m.body, m.name.name, skip);
  return tree;
}
