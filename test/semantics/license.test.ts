/**
 * The `license` knob: ids from the table are canonicalised and classified, unknown ids are kept
 * and warned about (MS3004), `LicenseRef-` ids are accepted quietly, and a license is never
 * inherited through `extends` (an architecture is not licensed weights).
 */
import { describe, expect, it } from 'vitest';
import { formatFile } from '../../compiler/ast/print.js';
import { parse } from '../../compiler/ast/parse.js';
import { compileFile } from '../../compiler/index.js';
import { diffKnobs } from '../../compiler/passes/diff.js';
import { bindsDerivatives, classifyLicense, knownLicense, LICENSES } from '../../compiler/semantics/licenses.js';
import type { Host } from '../../compiler/semantics/resolve.js';

const SIZE = 'vocab = 64, context = 16, d_model = 16, layers = 1\n  block { attention { heads: 2 } }';

function compile(text: string) {
  const host: Host = { readFile: (p) => (p === 'm.model' ? text : { error: 'not found' }), charVocab: () => 64 };
  const r = compileFile('m.model', { host, analyze: false });
  const spec = (name: string) => r.models.find((m) => m.spec.name === name)!.spec;
  return { r, spec, codes: r.diagnostics.map((d) => d.code) };
}

describe('the license table', () => {
  it('has unique ids, matched case-insensitively', () => {
    const ids = LICENSES.map((l) => l.id.toLowerCase());
    expect(new Set(ids).size).toBe(ids.length);
    expect(knownLicense('apache-2.0')?.id).toBe('Apache-2.0');
    expect(knownLicense('LLAMA2')?.name).toBe('Llama 2 Community License');
    expect(knownLicense('Apache 2.0')).toBeUndefined();
  });

  it('classifies each kind, and only restrictive kinds bind a fine-tune', () => {
    expect(classifyLicense('MIT').kind).toBe('open-source');
    expect(classifyLicense('cc-by-nc-4.0')).toEqual({
      id: 'CC-BY-NC-4.0',
      name: 'Creative Commons Attribution-NonCommercial 4.0',
      kind: 'non-commercial',
    });
    expect(classifyLicense('gemma').kind).toBe('community');
    expect(classifyLicense('my-license')).toEqual({ id: 'my-license', name: 'my-license', kind: 'unknown' });
    expect(bindsDerivatives('open-source')).toBe(false);
    expect(bindsDerivatives('unknown')).toBe(false);
    expect(bindsDerivatives('non-commercial')).toBe(true);
    expect(bindsDerivatives('community')).toBe(true);
  });
});

describe('the license knob', () => {
  it('resolves a known id to its canonical form without diagnostics', () => {
    const { spec, codes } = compile(`model m {\n  license = "apache-2.0"\n  ${SIZE}\n}\n`);
    expect(codes).toEqual([]);
    expect(spec('m').license).toEqual({ id: 'Apache-2.0', name: 'Apache License 2.0', kind: 'open-source' });
    expect(spec('m').knobs.get('license')?.value).toBe('Apache-2.0');
  });

  it('is null when not stated', () => {
    const { spec } = compile(`model m {\n  ${SIZE}\n}\n`);
    expect(spec('m').license).toBeNull();
    expect(spec('m').knobs.get('license')?.value).toBeNull();
  });

  it('keeps an unknown id, warns with the nearest known one, and accepts LicenseRef- quietly', () => {
    const typo = compile(`model m {\n  license = "Apache2.0"\n  ${SIZE}\n}\n`);
    expect(typo.codes).toEqual(['MS3004']);
    expect(typo.r.diagnostics[0]!.message).toContain("did you mean 'Apache-2.0'?");
    expect(typo.spec('m').license).toEqual({ id: 'Apache2.0', name: 'Apache2.0', kind: 'unknown' });
    expect(typo.r.models[0]!.ok).toBe(true);
    const custom = compile(`model m {\n  license = "LicenseRef-acme-weights"\n  ${SIZE}\n}\n`);
    expect(custom.codes).toEqual([]);
    expect(custom.spec('m').license?.kind).toBe('unknown');
  });

  it('is not inherited through extends; a derived model states its own', () => {
    const text = [
      `model base {\n  license = "llama2"\n  ${SIZE}\n}`,
      'model scratch extends base {\n  layers = 2\n}',
      'model relicensed extends base {\n  license = "MIT"\n}',
      'model same extends base {\n  license = "llama2"\n}',
      '',
    ].join('\n');
    const { spec, codes } = compile(text);
    expect(codes).toEqual([]);
    expect(spec('base').license?.id).toBe('llama2');
    expect(spec('scratch').license).toBeNull();
    expect(spec('relicensed').license?.id).toBe('MIT');
    expect(spec('same').license?.kind).toBe('community');
    // A changed license is a difference `diff` reports; a restated one is none.
    expect(diffKnobs(spec('base'), spec('scratch')).map((k) => [k.path, k.a, k.b])).toEqual([
      ['layers', 1, 2],
      ['license', 'llama2', null],
    ]);
    expect(diffKnobs(spec('base'), spec('same'))).toEqual([]);
  });

  it('an unknown id in a base is reported once, at the base, not again for each derived model', () => {
    const { r } = compile(`model base {\n  license = "mitt"\n  ${SIZE}\n}\nmodel d extends base {\n  d_model = 32\n}\n`);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['MS3004']);
    expect(r.diagnostics[0]!.message).toContain("did you mean 'MIT'?");
  });

  it('mspec fmt round-trips it', () => {
    const text = `model m {\n  license = "CC-BY-NC-4.0"  // weights for research only\n  vocab = 64\n}\n`;
    const p = parse(text, 't.model');
    expect(p.diagnostics).toEqual([]);
    expect(formatFile(p.file, text)).toBe(text);
  });
});
