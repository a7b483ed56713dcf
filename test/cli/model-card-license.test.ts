import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importHf } from '../../compiler/cli/import/driver.js';
import { modelCardLicense, modelCardLicenseEntry, readModelCardLicense } from '../../compiler/cli/model-card-license.js';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';

const card = (...front: string[]) => `---\n${front.join('\n')}\n---\n\n# A model\n\nlicense: not-this-one\n`;

describe('modelCardLicense', () => {
  it('maps a Hub id onto the table, canonicalising SPDX ids', () => {
    expect(modelCardLicense(card('language: en', 'license: apache-2.0', 'tags: [text]'))).toBe('Apache-2.0');
    expect(modelCardLicense(card('license: "mit"'))).toBe('MIT');
    expect(modelCardLicense(card("license: 'llama2'  # Meta's"))).toBe('llama2');
    expect(modelCardLicense(card('license: cc-by-nc-4.0'))).toBe('CC-BY-NC-4.0');
  });

  it('names a custom license with SPDX LicenseRef- and gives up on a nameless one', () => {
    expect(modelCardLicense(card('license: other', 'license_name: mistral ai research', 'license_link: LICENSE'))).toBe(
      'LicenseRef-mistral-ai-research',
    );
    expect(modelCardLicense(card('license: other'))).toBeNull();
  });

  it('takes the first entry of a list, keeps unknown ids as written', () => {
    expect(modelCardLicense(card('license: [mit, apache-2.0]'))).toBe('MIT');
    expect(modelCardLicense(card('license:', '  - gemma', '  - mit'))).toBe('gemma');
    expect(modelCardLicense(card('license: apple-ascl'))).toBe('apple-ascl');
  });

  it('reads only the front matter, and only a top-level key', () => {
    expect(modelCardLicense('# No front matter\n\nlicense: mit\n')).toBeNull();
    expect(modelCardLicense(card('model-index:', '  license: mit'))).toBeNull();
    expect(modelCardLicense(card('license_name: x'))).toBeNull();
    expect(modelCardLicense('\uFEFF---\r\nlicense: bsd-3-clause\r\n---\r\n')).toBe('BSD-3-Clause');
  });

  it('what it returns is a license the spec accepts without a warning', () => {
    for (const id of ['Apache-2.0', 'llama2', 'LicenseRef-mistral-ai-research']) {
      const text = `model m {\n  license = "${id}"\n  vocab = 64, context = 16, d_model = 16, layers = 1\n  block { attention { heads: 2 } }\n}\n`;
      const host: Host = { readFile: () => text, charVocab: () => 64 };
      const r = compileFile('m.model', { host, analyze: false });
      expect(r.diagnostics).toEqual([]);
      expect(r.models[0]!.spec.license?.id).toBe(id);
    }
  });
});

describe('readModelCardLicense', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mspec-card-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a folder's README.md, null without one", () => {
    expect(readModelCardLicense(dir)).toBeNull();
    writeFileSync(join(dir, 'README.md'), card('license: gemma'));
    expect(readModelCardLicense(dir)).toBe('gemma');
  });

  it('gives the line an imported spec starts with, nothing for an id that would not parse', () => {
    writeFileSync(join(dir, 'README.md'), card('license: apache-2.0'));
    expect(modelCardLicenseEntry(dir)).toBe('  license = "Apache-2.0"\n');
    writeFileSync(join(dir, 'README.md'), card('license: "a \\"quoted\\" id"'));
    expect(readModelCardLicense(dir)).toBe('a \\"quoted\\" id');
    expect(modelCardLicenseEntry(dir)).toBe('');
    rmSync(join(dir, 'README.md'));
    expect(modelCardLicenseEntry(dir)).toBe('');
  });
});

describe('mspec import fills license from the model card', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mspec-card-import-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the imported spec states the card’s license, and none without a card', () => {
    // The config alone (no weights) is enough to generate the spec.
    const hf = join(dir, 'gpt2');
    mkdirSync(hf);
    copyFileSync(join(import.meta.dirname, '../fixtures/hf/gpt2/config.json'), join(hf, 'config.json'));
    expect(importHf(hf, join(dir, 'plain.model')).spec).not.toContain('license =');
    writeFileSync(join(hf, 'README.md'), card('license: mit', 'library_name: transformers'));
    const withCard = importHf(hf, join(dir, 'carded.model'));
    expect(withCard.spec).toContain('license = "MIT"');
    const host: Host = { readFile: (p) => withCard.sources.files[p] ?? { error: 'not found' }, charVocab: () => 64 };
    const r = compileFile(withCard.sources.entry, { host, analyze: false });
    expect(r.diagnostics).toEqual([]);
    expect(r.models[0]!.spec.license).toEqual({ id: 'MIT', name: 'MIT License', kind: 'open-source' });
  });
});
