/** seq2seq pairs: TSV/JSONL parsing with file:line errors, batch layout, the reverse task, determinism. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairBatch, parsePairs, readPairsFile, samplePairBatch } from '../../runtime/data/pairs.js';
import { preparePairs } from '../../runtime/data/pairs-dataset.js';
import { reverseText } from '../../runtime/data/pairs-synthetic.js';
import { DataError } from '../../runtime/data/source.js';

function dataError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

const dir = mkdtempSync(join(tmpdir(), 'mspec-pairs-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('pairs files', () => {
  it('reads TSV and JSONL, skipping blank lines and a BOM, remembering file:line', () => {
    const tsv = readPairsFile(file('a.tsv', '\uFEFFabc\tcba\r\n\nxy\tyx\n'));
    expect(tsv).toEqual([
      { source: 'abc', target: 'cba', where: `${dir}/a.tsv:1` },
      { source: 'xy', target: 'yx', where: `${dir}/a.tsv:3` },
    ]);
    const jsonl = readPairsFile(file('a.jsonl', '{"source": "a\\tb", "target": "b"}\n\n{"target": "q", "source": "p"}\n'));
    expect(jsonl.map((p) => [p.source, p.target, p.where])).toEqual([
      ['a\tb', 'b', `${dir}/a.jsonl:1`],
      ['p', 'q', `${dir}/a.jsonl:3`],
    ]);
  });

  it('says which line is wrong and why', () => {
    expect(dataError(() => parsePairs('ok\tfine\nno tab here\n', 'x.tsv', 'tsv'))).toMatch(/^x\.tsv:2: .*no tab/);
    expect(dataError(() => parsePairs('a\tb\tc\n', 'x.tsv', 'tsv'))).toMatch(/^x\.tsv:1: .*2 tabs/);
    expect(dataError(() => parsePairs('{"source": "a"}\n', 'x.jsonl', 'jsonl'))).toMatch(/^x\.jsonl:1: missing field "target"/);
    expect(dataError(() => parsePairs('{"source": "a", "target": 3}\n', 'x.jsonl', 'jsonl'))).toMatch(
      /^x\.jsonl:1: field "target" must be a string/,
    );
    expect(dataError(() => parsePairs('\n{"source": "a",\n', 'x.jsonl', 'jsonl'))).toMatch(/^x\.jsonl:2: not valid JSON/);
    expect(dataError(() => parsePairs('[1]\n', 'x.jsonl', 'jsonl'))).toMatch(/^x\.jsonl:1: expected an object/);
    expect(dataError(() => parsePairs('\n\n', 'x.tsv', 'tsv'))).toMatch(/^x\.tsv: no pairs/);
  });

  it('checks lengths against the encoder context and the decoder length, at file:line', () => {
    const p = file('long.tsv', 'ab\tba\nabcdefgh\th\nabc\tcba\n');
    const msg = dataError(() => preparePairs({ data: p, tokenizer: 'char', valFraction: 0.3, limits: { S: 4, T: 8 } }));
    expect(msg).toMatch(new RegExp(`^${p}:2: the source is 8 tokens, longer than the encoder's context of 4`));
    const t = file('longt.tsv', 'ab\tba\nabc\tcbacbacba\n');
    expect(dataError(() => preparePairs({ data: t, tokenizer: 'char', valFraction: 0.3, limits: { S: 4, T: 8 } }))).toMatch(
      new RegExp(`^${t}:2: the target is 9 tokens; with the end-of-sequence token it needs 10`),
    );
    const q = file('chars.tsv', 'ab\tba\nab\tba\n');
    const fixed = { kind: 'char' as const, chars: ['a', 'b'] };
    const z = file('z.tsv', 'ab\tba\naz\tza\n');
    expect(dataError(() => preparePairs({ data: z, tokenizer: 'char', valFraction: 0.3, limits: { S: 4, T: 8 }, fixed }))).toMatch(
      new RegExp(`^${z}:2: the source: the character "z" is not in this model's character vocabulary`),
    );
    expect(preparePairs({ data: q, tokenizer: 'char', valFraction: 0.3, limits: { S: 4, T: 8 }, fixed }).val.length).toBe(1);
  });
});

describe('batches', () => {
  it('teacher forcing: start + shifted target in, target + eos + −1 out; sources padded with start', () => {
    const ids = { start: 10, eos: 11 };
    const b = pairBatch(
      [
        { source: [1, 2, 3], target: [4, 5], where: 'a' },
        { source: [6], target: [7, 8, 9], where: 'b' },
      ],
      ids,
      { S: 4, T: 5 },
    );
    expect([...b.sources]).toEqual([1, 2, 3, 10, 6, 10, 10, 10]);
    expect([...b.inputs]).toEqual([10, 4, 5, 10, 10, 10, 7, 8, 9, 10]);
    expect([...b.targets]).toEqual([4, 5, 11, -1, -1, 7, 8, 9, 11, -1]);
  });

  it('a training batch is a pure function of (seed, step)', () => {
    const d = preparePairs({ data: 'reverse', tokenizer: 'char', valFraction: 0.1, limits: { S: 12, T: 13 } });
    const o = { batch: 16, S: 12, T: 13, seed: 7 };
    const a = samplePairBatch(d.train, d.ids, o, 5);
    samplePairBatch(d.train, d.ids, o, 4); // drawing another step first changes nothing
    expect(samplePairBatch(d.train, d.ids, o, 5)).toEqual(a);
    expect(samplePairBatch(d.train, d.ids, o, 6)).not.toEqual(a);
    expect(samplePairBatch(d.train, d.ids, { ...o, seed: 8 }, 5)).not.toEqual(a);
  });
});

describe('the reverse task', () => {
  const limits = { S: 12, T: 13 };
  const d = preparePairs({ data: 'reverse', tokenizer: 'char', valFraction: 0.1, limits });

  it('has 27 characters plus start and eos, and targets that reverse the sources', () => {
    expect(d.tokenizer.vocab).toBe(29);
    expect(d.tokenizer.ordinary).toBe(27);
    expect(d.tokenizer.decode([0, 27, 28])).toBe(' [PAD][EOS]');
    expect(d.ids).toEqual({ start: 27, eos: 28 });
    const b = samplePairBatch(d.train, d.ids, { batch: 64, ...limits, seed: 1 }, 0);
    const lengths = new Set<number>();
    for (let r = 0; r < 64; r++) {
      const src = [...b.sources.subarray(r * 12, r * 12 + 12)].filter((x) => x !== d.ids.start);
      const tgt = [...b.targets.subarray(r * 13, r * 13 + 13)];
      const n = tgt.indexOf(d.ids.eos);
      expect(n).toBe(src.length);
      expect(tgt.slice(0, n)).toEqual([...src].reverse());
      expect(tgt.slice(n + 1).every((x) => x === -1)).toBe(true);
      lengths.add(n);
    }
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(12);
    expect(lengths.size).toBeGreaterThan(6);
  });

  it('holds out pairs from the end of the text, the same every time', () => {
    const t = reverseText(0.1);
    const heldOut = t.text.slice(t.split);
    expect(d.val.length).toBe(256);
    for (const p of d.val) expect(heldOut).toContain(d.tokenizer.decode([...p.source]));
    const again = preparePairs({ data: 'reverse', tokenizer: 'char', valFraction: 0.1, limits });
    expect(again.val).toEqual(d.val);
  });
});
