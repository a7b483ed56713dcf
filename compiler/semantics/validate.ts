/**
 * Checks a model or train body against the knob table before anything is merged: unknown
 * knobs (with a suggestion), a value where a section belongs and the reverse, a knob set twice
 * in one body, selectors outside `block`. Rejected entries are returned so later phases skip
 * them instead of producing knock-on errors.
 */
import type { Entry } from '../ast/nodes.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { SectionDef } from './schema.js';
import { didYouMean } from './suggest.js';

export function validateBody(
  bag: DiagnosticBag,
  body: readonly Entry[],
  schema: SectionDef,
  where: string,
  rejected: Set<Entry>,
  isLet = false,
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
        if (schema.knobs[name]) bag.report('MS2015', e.key.span, { name });
        else bag.report('MS2001', e.key.span, { name, where, suggestion: didYouMean(name, candidates) }, { hint: hintFor(schema) });
        rejected.add(e);
        continue;
      }
      if (e.selector && !sub.selectable) {
        bag.report('MS2019', e.selector.span, { name });
        rejected.add(e);
        continue;
      }
      validateBody(bag, e.body, sub, where === 'model' || where === 'train' ? name : `${where}.${name}`, rejected, name === 'let');
    } else if (!schema.knobs[name]) {
      if (schema.sections[name]) bag.report('MS2014', e.key.span, { name });
      else bag.report('MS2001', e.key.span, { name, where, suggestion: didYouMean(name, candidates) }, { hint: hintFor(schema) });
      rejected.add(e);
    }
  }
}

function hintFor(schema: SectionDef): string {
  const knobs = Object.keys(schema.knobs);
  const sections = Object.keys(schema.sections);
  const parts: string[] = [];
  if (knobs.length) parts.push(`knobs here: ${knobs.join(', ')}`);
  if (sections.length) parts.push(`sections: ${sections.join(', ')}`);
  return parts.join('; ');
}
