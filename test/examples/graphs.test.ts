/** examples/graphs/render.mjs draws the specs it is given (SVG; the PNG needs Chromium and is skipped here). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

describe('examples/graphs', () => {
  it('renders a spec to SVG', () => {
    const out = mkdtempSync(join(tmpdir(), 'mspec-graphs-'));
    try {
      const r = runExample('graphs/render.mjs', { GRAPH_OUT: out, NO_PNG: '1' }, ['tiny-mixtral']);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(out, 'tiny-mixtral.svg'), 'utf8')).toContain('4 experts · MLP SwiGLU, gated');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
