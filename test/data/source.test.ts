/** Reading training data: built-in corpus, text file, folder, .bin token files, and every DataError. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, readDataSource, tokenFileBytes } from '../../runtime/data/source.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mspec-data-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a file under the temp dir (creating folders) and returns its path. */
function put(rel: string, content: string | Uint8Array): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

function le16(ids: number[]): Uint8Array {
  const b = new Uint8Array(ids.length * 2);
  const v = new DataView(b.buffer);
  ids.forEach((id, i) => v.setUint16(2 * i, id, true));
  return b;
}
function le32(ids: number[]): Uint8Array {
  const b = new Uint8Array(ids.length * 4);
  const v = new DataView(b.buffer);
  ids.forEach((id, i) => v.setUint32(4 * i, id, true));
  return b;
}

/** The DataError message `f` throws (fails if it throws anything else or nothing). */
function dataError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).name).toBe('DataError');
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('readDataSource', () => {
  it('reads the built-in corpus moby-dick', () => {
    const s = readDataSource('moby-dick');
    expect(s.kind).toBe('builtin');
    if (s.kind !== 'builtin') return;
    expect(s.text.startsWith('CHAPTER 1. Loomings.')).toBe(true);
    expect(s.text.length).toBe(1190317);
  });

  it('reads a text file relative to the spec folder, dropping a BOM', () => {
    put('spec/data/tiny.txt', '\uFEFFhello\nwörld\n');
    const s = readDataSource('data/tiny.txt', { specDir: join(dir, 'spec') });
    expect(s).toEqual({ kind: 'file', path: join(dir, 'spec/data/tiny.txt'), text: 'hello\nwörld\n' });
    // absolute paths are used as they are
    expect(readDataSource(join(dir, 'spec/data/tiny.txt')).kind).toBe('file');
  });

  it('reads a folder recursively: text files sorted by path, joined with blank lines', () => {
    put('corpus/b.txt', 'B');
    put('corpus/a.md', 'A');
    put('corpus/sub/c.txt', 'C');
    put('corpus/a/z.txt', 'Z'); // "a/z.txt" sorts after "a.md" ('/' > '.')
    put('corpus/notes', 'N, a text file without an extension');
    put('corpus/image.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]));
    put('corpus/latin1.dat', new Uint8Array([0x63, 0x61, 0x66, 0xe9])); // not UTF-8, not .txt: skipped
    put('corpus/tokens.bin', 'looks like text but .bin is skipped');
    put('corpus/empty.txt', '');
    put('corpus/.hidden/secret.txt', 'hidden');
    put('corpus/.DS_Store', 'x');
    symlinkSync(join(dir, 'corpus'), join(dir, 'corpus/sub/loop')); // a symlink loop is read once
    const s = readDataSource(join(dir, 'corpus'));
    expect(s.kind).toBe('folder');
    if (s.kind !== 'folder') return;
    expect(s.files).toEqual(['a.md', 'a/z.txt', 'b.txt', 'notes', 'sub/c.txt']);
    expect(s.text).toBe('A\n\nZ\n\nB\n\nN, a text file without an extension\n\nC');
  });

  it('reads a uint16 .bin token file (little-endian, nanoGPT format)', () => {
    const p = put('train.bin', le16([0, 1, 50256, 65535, 258]));
    const s = readDataSource(p);
    expect(s.kind).toBe('tokens');
    if (s.kind !== 'tokens') return;
    expect(s.bytesPerToken).toBe(2);
    expect(s.tokens).toBeInstanceOf(Uint16Array);
    expect(Array.from(s.tokens)).toEqual([0, 1, 50256, 65535, 258]);
  });

  it('reads a uint32 .u32.bin token file', () => {
    const p = put('big.u32.bin', le32([0, 70000, 1, 200000]));
    const s = readDataSource(p, { vocab: 200001 });
    expect(s.kind).toBe('tokens');
    if (s.kind !== 'tokens') return;
    expect(s.bytesPerToken).toBe(4);
    expect(s.tokens).toBeInstanceOf(Int32Array);
    expect(Array.from(s.tokens)).toEqual([0, 70000, 1, 200000]);
    expect(tokenFileBytes('X.U32.BIN')).toBe(4);
    expect(tokenFileBytes('val.bin')).toBe(2);
    expect(tokenFileBytes('val.txt')).toBe(null);
  });
});

describe('DataError', () => {
  it('no data named', () => {
    expect(dataError(() => readDataSource('  '))).toMatch(
      /^no training data given; name a built-in corpus \(moby-dick\), a UTF-8 text file/,
    );
  });

  it('missing path: says where it looked and what to give', () => {
    const m = dataError(() => readDataSource('nope.txt', { specDir: dir }));
    expect(m).toBe(
      `the training data 'nope.txt' was not found: ${join(dir, 'nope.txt')} does not exist (relative paths are resolved from the spec's folder, ${dir}); give a built-in corpus (moby-dick), a UTF-8 text file, a folder of text files, or a pre-tokenised .bin token file`,
    );
  });

  it('empty text file', () => {
    const p = put('empty/e.txt', '');
    expect(dataError(() => readDataSource(p))).toBe(
      `the training file ${p} is empty: there is nothing to train on; give training data with text (or tokens) in it`,
    );
    const q = put('empty/bom.txt', '\uFEFF');
    expect(dataError(() => readDataSource(q))).toMatch(/is empty: there is nothing to train on/);
  });

  it('empty .bin file', () => {
    const p = put('empty/e.bin', '');
    expect(dataError(() => readDataSource(p))).toBe(
      `the token file ${p} is empty: there is nothing to train on; give training data with text (or tokens) in it`,
    );
  });

  it('a folder with no text files', () => {
    const empty = join(dir, 'nothing');
    mkdirSync(empty);
    expect(dataError(() => readDataSource(empty))).toBe(
      `the training folder ${empty} has no text files: it holds no files; put UTF-8 .txt or .md files in it (subfolders are read too, names starting with '.' are skipped)`,
    );
    put('binonly/a.png', new Uint8Array([1, 0, 2]));
    put('binonly/b.bin', le16([1, 2]));
    put('binonly/c.txt', '');
    expect(dataError(() => readDataSource(join(dir, 'binonly')))).toMatch(
      /has no text files: it holds 3 files, none of them non-empty text \(2 binary or \.bin\); put UTF-8 \.txt or \.md files in it/,
    );
  });

  it('a .txt file in a folder that is not UTF-8', () => {
    const p = put('badfolder/latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
    expect(dataError(() => readDataSource(join(dir, 'badfolder')))).toBe(
      `the training data ${p} (a .txt or .md file in the training folder) is not UTF-8 text; convert it to UTF-8 (e.g. \`iconv -t UTF-8\`), remove it, or, if it holds token ids, name it *.bin (uint16) or *.u32.bin (uint32)`,
    );
  });

  it('a text file that is binary or not UTF-8', () => {
    const p = put('tokens.dat', le16([1, 2, 3]));
    expect(dataError(() => readDataSource(p))).toMatch(
      /contains NUL bytes, so it is not a text file; a pre-tokenised token file must be named \*\.bin \(uint16\) or \*\.u32\.bin \(uint32\)$/,
    );
    const q = put('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
    expect(dataError(() => readDataSource(q))).toMatch(/latin1\.txt is not UTF-8 text; convert it to UTF-8/);
  });

  it('a .bin whose size is not a multiple of the token size', () => {
    const p = put('odd.bin', new Uint8Array([1, 0, 2]));
    expect(dataError(() => readDataSource(p))).toBe(
      `the token file ${p} is 3 bytes, not a multiple of 2 (uint16 tokens, from its name); a file of uint32 tokens must be named *.u32.bin; otherwise the file is truncated and must be written again`,
    );
    const q = put('odd.u32.bin', new Uint8Array([1, 0, 0, 0, 2, 0]));
    expect(dataError(() => readDataSource(q))).toBe(
      `the token file ${q} is 6 bytes, not a multiple of 4 (uint32 tokens, from its name); a file of uint16 tokens must be named *.bin without .u32; otherwise the file is truncated and must be written again`,
    );
  });

  it('token ids ≥ vocab', () => {
    const p = put('ids.bin', le16([5, 300, 7, 999, 2]));
    expect(dataError(() => readDataSource(p, { vocab: 256 }))).toBe(
      `the token file ${p} has token id 300 at position 1 (the largest is 999), but the vocabulary has only 256 ids (0–255); make the model's vocab at least 1000, or re-tokenise the data with the tokenizer the spec names`,
    );
    expect(readDataSource(p, { vocab: 1000 }).kind).toBe('tokens');
  });
});
