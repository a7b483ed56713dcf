import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { format, messages } from '../../compiler/diagnostics/messages.js';

/** Every test source and baseline under test/, as one string, to find which codes are covered. */
function allTestText(dir = join(import.meta.dirname, '..')): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out += allTestText(p);
    else if (/\.(ts|txt|model)$/.test(name)) out += `${name}\n${readFileSync(p, 'utf8')}\n`;
  }
  return out;
}

describe('message table', () => {
  const codes = Object.keys(messages);

  it('codes are well-formed and unique', () => {
    for (const c of codes) expect(c).toMatch(/^MS[1-9]\d{3}$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('templates name only placeholders that are filled', () => {
    expect(format('MS2101', { heads: 12, d_model: 1000 })).toBe('heads (12) must divide d_model (1000)');
    expect(format('MS2014', { name: 'attention' })).toBe("'attention' is a section; write attention { ... }");
  });

  it('every code is exercised by at least one test', () => {
    const text = allTestText();
    const missing = codes.filter((c) => c !== 'MS9001' && !text.includes(c));
    expect(missing).toEqual([]);
  });
});
