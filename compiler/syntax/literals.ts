/**
 * The meaning of number and string tokens. The token patterns in tokens.ts are permissive;
 * these functions decide whether the text is valid and what it denotes.
 */

/** Digits with single underscores between them: `32_000`, not `1_`, `_1` or `1__0`. */
const DIGITS = String.raw`\d+(?:_\d+)*`;
const NUMBER = new RegExp(String.raw`^(${DIGITS}(?:\.${DIGITS})?(?:[eE][+-]?${DIGITS})?)(k|M|B|T|Ki|Mi|Gi)?$`);

/** Decimal suffixes are powers of ten; `Ki`/`Mi`/`Gi` are powers of two (as in memory sizes). */
export const SUFFIXES: Readonly<Record<string, number>> = {
  k: 1e3,
  M: 1e6,
  B: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
};

/**
 * The number a literal denotes, or undefined when the text is not a valid number (including
 * one too large to represent). A result within 1e-9 (relative) of an integer is rounded to it,
 * so `1.5M` is exactly 1500000 and `0.1k` exactly 100 despite binary floating point.
 */
export function numberValue(raw: string): number | undefined {
  const m = NUMBER.exec(raw);
  if (!m) return undefined;
  const mantissa = Number(m[1]!.replace(/_/g, ''));
  const value = mantissa * (m[2] ? SUFFIXES[m[2]]! : 1);
  if (!Number.isFinite(value)) return undefined;
  const nearest = Math.round(value);
  return nearest !== value && Math.abs(value - nearest) <= 1e-9 * Math.abs(value) ? nearest : value;
}

export interface DecodedString {
  /** The unescaped contents. */
  readonly value: string;
  readonly terminated: boolean;
  /** Offsets (within the raw text) and text of escapes other than `\" \\ \n \t`. */
  readonly badEscapes: readonly { readonly offset: number; readonly text: string }[];
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', n: '\n', t: '\t' };

/** Decodes a raw string token (which starts with `"` and may lack its closing quote). */
export function decodeString(raw: string): DecodedString {
  let value = '';
  const badEscapes: { offset: number; text: string }[] = [];
  for (let i = 1; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '"') return { value, terminated: true, badEscapes };
    if (ch !== '\\') {
      value += ch;
      continue;
    }
    const next = raw[i + 1];
    if (next !== undefined && Object.hasOwn(ESCAPES, next)) {
      value += ESCAPES[next];
    } else {
      // Keep an unknown escape as written so the value still shows what the user typed.
      badEscapes.push({ offset: i, text: next === undefined ? '\\' : `\\${next}` });
      value += next === undefined ? '\\' : `\\${next}`;
    }
    i++;
  }
  return { value, terminated: false, badEscapes };
}
