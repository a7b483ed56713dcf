import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

const SPECS = ['gpt2-small', 'gpt2-medium', 'llama2-7b', 'mistral-7b', 'mixtral-8x7b', 'bert-base', 't5-small', 'char-gpt', 'tiny-llama'];

describe('mspec check', () => {
  it('accepts every bundled spec', () => {
    const r = mspec('check', ...SPECS.map((s) => `specs/${s}.model`));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('specs/mixtral-8x7b.model: ok (mixtral_8x7b)');
  });

  it('exits 1 with located errors, and reports them all', () => {
    const r = mspec(
      'check',
      'test/diagnostics/cases/MS2101-heads-divide-d_model.model',
      'test/diagnostics/cases/MS2001-unknown-knob.model',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MS2101-heads-divide-d_model.model:3:23: error MS2101: heads (12) must divide d_model (1000)');
    expect(r.stderr).toContain("error MS2001: unknown knob 'activaton' in block.mlp; did you mean 'activation'?");
    expect(r.stderr).toContain('2 errors, 0 warnings');
  });

  it('--json prints machine-readable diagnostics', () => {
    const r = mspec('check', '--json', 'test/diagnostics/cases/MS2102-kv_heads-divide-heads.model');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.files[0].diagnostics[0]).toMatchObject({ code: 'MS2102', severity: 'error', line: 3, col: 34 });
  });

  it('a missing file is an error MS5001, not a stack trace', () => {
    const r = mspec('check', 'specs/no-such.model');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error MS5001: cannot read 'specs/no-such.model': no such file");
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('usage errors exit 2', () => {
    expect(mspec('check').code).toBe(2);
    expect(mspec('frobnicate').code).toBe(2);
  });

  it('file#name picks one model and suggests when it is wrong', () => {
    expect(mspec('check', 'specs/mistral-7b.model#mistral_7b').code).toBe(0);
    const r = mspec('check', 'specs/mistral-7b.model#mistral7b');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error MS2021: no model named 'mistral7b' in specs/mistral-7b.model; did you mean 'mistral_7b'?");
  });
});

describe('mspec info', () => {
  it('prints a readable table', () => {
    const r = mspec('info', 'specs/mixtral-8x7b.model');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('46,702,792,704');
    expect(r.stdout).toContain('active per token         12,879,925,248');
  });

  it('--json matches the golden files for every bundled spec', () => {
    for (const s of SPECS) {
      const r = mspec('info', `specs/${s}.model`, '--json');
      expect(r.code, r.stderr).toBe(0);
      const golden = join(ROOT, 'test', 'golden', 'info', `${s}.json`);
      if (process.env.UPDATE_GOLDEN) require_write(golden, r.stdout);
      expect(r.stdout).toBe(readFileSync(golden, 'utf8'));
    }
  });

  it('a file with several models prints an array', () => {
    const r = mspec('info', 'test/cli/fixtures/two-models.model', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Array.isArray(j)).toBe(true);
    expect(j.map((m: { model: string }) => m.model)).toEqual(['small', 'wide']);
  });
});

describe('mspec diff', () => {
  it('llama2-7b → mistral-7b shows exactly the four architecture knobs and the license that differ', () => {
    const r = mspec('diff', 'specs/llama2-7b.model', 'specs/mistral-7b.model', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.knobs.map((k: { path: string }) => k.path).sort()).toEqual([
      'block.attention.kv_heads',
      'block.attention.window',
      'block.mlp.hidden',
      'context',
      'license',
    ]);
    expect(j.knobs.find((k: { path: string }) => k.path === 'license')).toEqual({
      path: 'license',
      group: 'model',
      a: 'llama2',
      b: 'Apache-2.0',
    });
    expect(j.costs.params_total.delta).toBe(7_241_732_096 - 6_738_415_616);
    expect(j.costs.kv_cache_bytes_per_token_f16).toEqual({ a: 524_288, b: 131_072, delta: -393_216 });
    const golden = join(ROOT, 'test', 'golden', 'diff', 'llama2-7b--mistral-7b.json');
    if (process.env.UPDATE_GOLDEN) require_write(golden, r.stdout);
    expect(r.stdout).toBe(readFileSync(golden, 'utf8'));
  });

  it('identical models exit 0; expressions are compared by value', () => {
    const r = mspec('diff', 'test/cli/fixtures/two-models.model#small', 'test/cli/fixtures/same-as-small.model');
    expect(r.stdout).toContain('identical');
    expect(r.code).toBe(0);
  });

  it('two models of one file, human table', () => {
    const r = mspec('diff', 'test/cli/fixtures/two-models.model#small', 'test/cli/fixtures/two-models.model#wide');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/d_model\s+64 → 128/);
    expect(r.stdout).toContain('parameters (total)');
  });

  it('a broken side exits 2', () => {
    expect(mspec('diff', 'specs/llama2-7b.model', 'test/diagnostics/cases/MS2001-unknown-knob.model').code).toBe(2);
  });
});

describe('mspec fmt', () => {
  it('every bundled spec is already formatted', () => {
    const r = mspec('fmt', '--check', ...SPECS.map((s) => `specs/${s}.model`));
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('--check exits 1 on an unformatted file', () => {
    const r = mspec('fmt', '--check', 'test/cli/fixtures/unformatted.model');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('not formatted');
  });
});

function require_write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe('mspec build into a path the file system refuses', () => {
  it('a file given as the output folder, or standing where a model folder goes, is a one-line error, not MS9001', () => {
    const dir = join(ROOT, 'test', '.out', 'build-clash');
    require_write(join(dir, 'afile'), 'x\n');
    const a = mspec('build', 'specs/char-gpt.model', '-o', join(dir, 'afile'), '--tuning', 'cpu');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^error: cannot build into '.*afile': it is a file, not a folder; give a folder with -o\/--out\n$/);
    require_write(join(dir, 'o', 'char_gpt'), 'x\n');
    const b = mspec('build', 'specs/char-gpt.model', '-o', join(dir, 'o'), '--tuning', 'cpu');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/error: cannot use '.*char_gpt\/kernels': a part of the path is a file, not a folder/);
    expect(b.stderr).not.toMatch(/MS9001|\n\s+at /);
  });
});

describe('mspec build --runtime-import', () => {
  it('builds into a folder where the package is not installed (types come from this mspec), and refuses a path', () => {
    // Outside the repository, 'mspec/runtime' resolves nowhere: the build used to fail with MS9001 (TS2307).
    const dir = mkdtempSync(join(tmpdir(), 'mspec-rtimport-'));
    try {
      const a = mspec('build', 'specs/char-gpt.model', '-o', dir, '--tuning', 'cpu', '--runtime-import', 'mspec/runtime');
      expect(a.stderr).not.toMatch(/MS9001|TS2307/);
      expect(a.code).toBe(0);
      const js = readFileSync(join(dir, 'char_gpt', 'model.js'), 'utf8');
      expect(js).toMatch(/from "mspec\/runtime"/);
      expect(existsSync(join(dir, 'char_gpt', 'runtime'))).toBe(false);
      const b = mspec('build', 'specs/char-gpt.model', '-o', dir, '--tuning', 'cpu', '--runtime-import', './vendor/runtime.js');
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(/^error: --runtime-import '\.\/vendor\/runtime\.js' is not a package name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
