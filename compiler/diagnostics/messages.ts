/**
 * The one table of every message mspec can report. Call sites name a code and pass the
 * template's arguments; they never write message text inline. Codes are stable: a code is
 * never reused for a different meaning (a test checks they are unique and well-formed).
 *
 *   MS1xxx  syntax (lexing and parsing)
 *   MS2xxx  names, structure and types (knobs, imports, extends, expressions)
 *   MS21xx  architecture constraints (divisibility, ranges, compatibility)
 *   MS22xx  training-recipe constraints
 *   MS3xxx  warnings (legal but probably not what was meant)
 *   MS4xxx  code generation and device limits
 *   MS5xxx  command line and files
 *   MS9xxx  internal errors (a bug in mspec, never the user's fault)
 */
export type Severity = 'error' | 'warning';

export interface MessageDef {
  readonly severity: Severity;
  /** `{name}` placeholders are filled from the diagnostic's arguments. */
  readonly template: string;
}

export const messages = {
  // ── syntax ──────────────────────────────────────────────────────────────────
  MS1001: { severity: 'error', template: "unexpected character '{char}'" },
  MS1002: { severity: 'error', template: 'unterminated string literal' },
  MS1003: { severity: 'error', template: "invalid number '{text}'" },
  MS1004: { severity: 'error', template: 'unterminated block comment' },
  MS1010: { severity: 'error', template: 'expected {expected}, found {found}' },
  MS1011: { severity: 'error', template: 'unexpected {found}; {context}' },
  MS1012: { severity: 'error', template: 'unexpected end of file; expected {expected}' },
  MS1013: { severity: 'error', template: "'{name}' has no value" },
  MS1014: { severity: 'error', template: "'{{' of {what} is never closed" },
  MS1020: { severity: 'error', template: 'the file is not UTF-8 text: {reason}' },

  // ── names, structure, types ─────────────────────────────────────────────────
  MS2001: { severity: 'error', template: "unknown knob '{name}' in {where}{suggestion}" },
  MS2002: { severity: 'error', template: "unknown value '{value}' for {knob}{suggestion}" },
  MS2003: { severity: 'error', template: '{knob} expects {expected}, found {found}' },
  MS2004: { severity: 'error', template: "missing required knob '{name}' in {where}" },
  MS2005: { severity: 'error', template: "'{name}' is set twice in {where}" },
  MS2006: { severity: 'error', template: "{what} '{name}' is defined twice" },
  MS2007: { severity: 'error', template: "cannot import '{path}': {reason}" },
  MS2008: { severity: 'error', template: "unknown model '{name}'{suggestion}" },
  MS2009: { severity: 'error', template: 'cyclic extends: {cycle}' },
  MS2010: { severity: 'error', template: "unknown name '{name}' in expression{suggestion}" },
  MS2011: { severity: 'error', template: "unknown argument '{name}' for {callee}{suggestion}" },
  MS2012: { severity: 'error', template: 'cyclic definition: {cycle}' },
  MS2013: { severity: 'error', template: '{what}' },
  MS2014: { severity: 'error', template: "'{name}' is a section; write {name} {{ ... }}" },
  MS2015: { severity: 'error', template: "'{name}' is a value, not a section; write {name}: <value>" },
  MS2016: { severity: 'error', template: 'layer selector {selector} picks no layer of {layers}' },
  MS2017: { severity: 'error', template: '{knob} must be an integer, but {expr} = {value}' },
  MS2018: { severity: 'error', template: 'division by zero in {expr}' },
  MS2019: { severity: 'error', template: "layer selectors only apply to 'block' sections, not '{name}'" },
  MS2020: { severity: 'error', template: "'{name}' is not allowed here: {reason}" },
  MS2021: { severity: 'error', template: "no model named '{name}' in {file}{suggestion}" },

  // ── architecture constraints ────────────────────────────────────────────────
  MS2101: { severity: 'error', template: 'heads ({heads}) must divide d_model ({d_model})' },
  MS2102: { severity: 'error', template: 'kv_heads ({kv_heads}) must divide heads ({heads})' },
  MS2103: { severity: 'error', template: 'rotary dimensions ({rotary}) must be even: head_dim {head_dim} × fraction {fraction}' },
  MS2104: { severity: 'error', template: 'top_k ({top_k}) must not exceed experts ({experts})' },
  MS2105: { severity: 'error', template: 'window ({window}) must not exceed context ({context})' },
  MS2106: { severity: 'error', template: '{knob} must be greater than 0, found {value}' },
  MS2107: { severity: 'error', template: '{knob} must be in [0, 1), found {value}' },
  MS2108: { severity: 'error', template: "objective '{objective}' does not fit this model: {reason}" },
  MS2109: { severity: 'error', template: '{knob} must be a positive integer, found {value}' },
  MS2110: { severity: 'error', template: '{knob} must be in {range}, found {value}' },
  MS2111: { severity: 'error', template: 'kv_heads ({kv_heads}) must not exceed heads ({heads})' },
  MS2112: { severity: 'error', template: '{what} needs {needs}' },
  MS2120: { severity: 'error', template: '{what} of model {model} is {value}, beyond 2^53, where counts stop being exact' },

  // ── training recipe ─────────────────────────────────────────────────────────
  MS2201: { severity: 'error', template: "train refers to unknown model '{name}'{suggestion}" },
  MS2202: { severity: 'error', template: 'give either steps or tokens, not both' },
  MS2203: { severity: 'error', template: 'warmup ({warmup}) must be less than the number of steps ({steps})' },
  MS2204: { severity: 'error', template: 'min_lr ({min_lr}) must not exceed lr ({lr})' },
  MS2205: { severity: 'error', template: 'vocab = tokenizer.vocab needs a train section naming a tokenizer for model {model}' },
  MS2206: { severity: 'error', template: "model '{name}' has {count} train sections; give it one" },

  // ── warnings ────────────────────────────────────────────────────────────────
  MS3001: { severity: 'warning', template: '{text} is {value}; if you meant {binary} (a power of two) write {suggestion}' },
  MS3002: { severity: 'warning', template: '{knob} has no effect: {reason}' },
  MS3003: { severity: 'warning', template: '{knob} = {value} is unusually large: {reason}' },
  MS3004: { severity: 'warning', template: "license '{id}' is not in mspec's table, so its kind is unknown{suggestion}" },

  // ── code generation and devices ─────────────────────────────────────────────
  MS4001: { severity: 'error', template: 'the GPU path does not support {what} yet' },
  MS4002: { severity: 'error', template: 'the device limit {limit} ({have}) is too small: {needs}' },

  // ── command line and files ──────────────────────────────────────────────────
  MS5001: { severity: 'error', template: "cannot read '{path}': {reason}" },
  MS5002: { severity: 'error', template: '{what}' },
  MS5010: { severity: 'error', template: '{option} ({value}) must not exceed the context of model {model} ({context})' },
  MS5011: { severity: 'error', template: 'no model in {file}; a file defines models with `model NAME {{ ... }}`' },

  // ── internal ────────────────────────────────────────────────────────────────
  MS9001: { severity: 'error', template: 'internal compiler error: {detail} (this is a bug in mspec; please report it with the spec)' },
} as const satisfies Record<string, MessageDef>;

export type Code = keyof typeof messages;

export function format(code: Code, args: Readonly<Record<string, string | number>>): string {
  return messages[code].template
    .replace(/\{(\w+)\}/g, (whole, name: string) => (name in args ? String(args[name]) : whole))
    .replace(/\{\{/g, '{')
    .replace(/\}\}/g, '}');
}
