import fc from 'fast-check';
import { it } from 'vitest';
import { parse } from '../../compiler/syntax/parse.js';
import { renderDiagnostic } from '../../compiler/diagnostics/render.js';
import { SEEDS } from './seeds.js';
it('samples', () => {
  const snippets = ['{', '}', '(', ')', ',', ':', '=', 'model', '"', '*', '[', ']'];
  const rnd = fc.sample(fc.tuple(fc.nat(2), fc.nat(), fc.nat(), fc.boolean(), fc.constantFrom(...snippets)), { numRuns: 40, seed: 42 });
  const counts: Record<number, number> = {};
  for (const [si, a, len, del, snip] of rnd) {
    const seed = SEEDS[si]!;
    const at = a % seed.length;
    const text = del ? seed.slice(0, at) + seed.slice(at + 1 + (len % 3)) : seed.slice(0, at) + snip + seed.slice(at);
    const r = parse(text, 't');
    counts[r.diagnostics.length] = (counts[r.diagnostics.length] ?? 0) + 1;
    const src = new Map([['t', { path: 't', text }]]);
    const line = text.slice(text.lastIndexOf('\n', at - 1) + 1, text.indexOf('\n', at) < 0 ? undefined : text.indexOf('\n', at));
    console.log(`== ${del ? 'del' : 'ins ' + JSON.stringify(snip)} @${at}: ${JSON.stringify(line)}\n` + r.diagnostics.map((d) => renderDiagnostic(d, src)).join('\n'));
  }
  console.log(counts);
});
