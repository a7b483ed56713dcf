/**
 * Checks a model or train body against the knob table before anything is merged: unknown
 * knobs (with a suggestion), a value where a section belongs and the reverse, a knob set twice
 * in one body, selectors outside `block`. Rejected entries are returned so later phases skip
 * them instead of producing knock-on errors.
 */
import type { Entry } from '../ast/nodes.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { modelSchema, trainSchema, type SectionDef } from './schema.js';
import { selectorText } from './selectors.js';
import { didYouMean, mspecName } from './suggest.js';

export function validateBody(
  bag: DiagnosticBag,
  body: readonly Entry[],
  schema: SectionDef,
  where: string,
  rejected: Set<Entry>,
  isLet = false,
  root: SectionDef = schema,
): void {
  const seen = new Map<string, Entry>();
  for (const e of body) {
    const name = e.key.name;
    const key = e.kind === 'Section' && e.selector ? `${name}[${e.selector.span.start}]` : name;
    const first = seen.get(key);
    if (first && !(e.kind === 'Section' && first.kind === 'Section')) {
      bag.report('MS2005', e.key.span, { name, where }, { related: [{ span: first.key.span, message: 'first set here' }] });
      rejected.add(e);
      continue;
    }
    seen.set(key, e);
    if (isLet) {
      if (e.kind === 'Section') {
        bag.report('MS2020', e.key.span, { name, reason: 'a let section holds named numbers only (name: value)' });
        rejected.add(e);
      } else if (e.kind === 'Flag') {
        bag.report('MS2003', e.key.span, { knob: name, expected: 'a number', found: 'a bare flag' }, { hint: `write ${name}: <number>` });
        rejected.add(e);
      }
      continue;
    }
    const candidates = [...Object.keys(schema.knobs), ...Object.keys(schema.sections)];
    if (e.kind === 'Section') {
      const sub = schema.sections[name];
      if (!sub) {
        // `layers[1] { … }` means per-layer settings, which are a selector on block.
        if (schema.knobs[name])
          bag.report(
            'MS2015',
            e.key.span,
            { name },
            e.selector ? { hint: `settings for some layers go in block${selectorText(e.selector)} { … }` } : {},
          );
        else bag.report('MS2001', e.key.span, { name, where, suggestion: suggestion(name, candidates, root) }, { hint: hintFor(schema) });
        rejected.add(e);
        continue;
      }
      if (e.selector && !sub.selectable) {
        bag.report('MS2019', e.selector.span, { name });
        rejected.add(e);
        continue;
      }
      validateBody(bag, e.body, sub, where === 'model' || where === 'train' ? name : `${where}.${name}`, rejected, name === 'let', root);
    } else if (!schema.knobs[name]) {
      if (schema.sections[name]) bag.report('MS2014', e.key.span, { name });
      else bag.report('MS2001', e.key.span, { name, where, suggestion: suggestion(name, candidates, root) }, { hint: hintFor(schema) });
      rejected.add(e);
    }
  }
}

/**
 * Another framework's name for a knob here, else a near name here, else the section that holds
 * this knob (or mspec's name for it): `positions` in a model's body → embedding { positions: … }.
 */
function suggestion(name: string, candidates: string[], root: SectionDef): string {
  const own = mspecName(name);
  if (own === undefined || candidates.includes(own)) {
    const near = didYouMean(name, candidates);
    if (near) return near;
  }
  const knob = own ?? name;
  const called = own === undefined ? '' : `mspec calls it '${own}', which `;
  const path = sectionHolding(knob, root);
  if (path !== undefined) {
    const nested = path.split('.').reduceRight((inner, section) => `${section} { ${inner} }`, `${knob}: …`);
    return `; ${called || 'it '}goes in ${nested}`;
  }
  // A model knob in a train body (dropout) or a train knob in a model body (batch, steps).
  const other = root === trainSchema ? modelSchema : root === modelSchema ? trainSchema : undefined;
  if (other?.knobs[knob]) return `; ${called || 'it '}belongs to the ${other === modelSchema ? 'model' : 'train'} body: ${knob} = …`;
  // An argument of a knob's variant: lr → optimizer = adamw(lr: …), warmup → schedule = cosine(warmup: …).
  for (const [k, def] of Object.entries(root.knobs)) {
    if (def.type.t !== 'variant') continue;
    const variant = Object.entries(def.type.variants).find(([, v]) => v.args[knob]);
    if (variant) return `; ${called || 'it '}is an argument of ${k}: ${k} = ${variant[0]}(${knob}: …)`;
  }
  return '';
}

/** The dotted path of the first section below `s` whose knobs include `knob` (breadth-first). */
function sectionHolding(knob: string, s: SectionDef): string | undefined {
  const queue: [string, SectionDef][] = Object.entries(s.sections);
  while (queue.length) {
    const [path, def] = queue.shift()!;
    if (def.knobs[knob]) return path;
    for (const [n, sub] of Object.entries(def.sections)) queue.push([`${path}.${n}`, sub]);
  }
  return undefined;
}

function hintFor(schema: SectionDef): string {
  const knobs = Object.keys(schema.knobs);
  const sections = Object.keys(schema.sections);
  const parts: string[] = [];
  if (knobs.length) parts.push(`knobs here: ${knobs.join(', ')}`);
  if (sections.length) parts.push(`sections: ${sections.join(', ')}`);
  return parts.join('; ');
}
