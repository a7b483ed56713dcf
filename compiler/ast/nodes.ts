/**
 * The AST of a `.model` file: a discriminated union on `kind`, every node with a span.
 *
 * The grammar is deliberately generic — a file is imports, `model` and `train` blocks; a block
 * is a list of entries (`key = expr`, `key: expr`, a bare flag `causal`, or a nested section
 * `key { ... }` / `block[1::2] { ... }`). What the knobs *mean* (their types, defaults and
 * constraints) lives in one schema table in compiler/semantics, not in the grammar, so an
 * unknown or misspelt knob is a located diagnostic with a suggestion rather than a parse error.
 */
import type { Span } from '../diagnostics/span.js';
// Comments are found by the lexer and kept on the file node for the formatter.
import type { Comment } from '../syntax/lexer.js';

export type { Comment };

export interface Ident {
  readonly kind: 'Ident';
  readonly name: string;
  readonly span: Span;
}

export interface FileNode {
  readonly kind: 'File';
  readonly path: string;
  readonly items: readonly Item[];
  /** Every comment in the file in source order (the formatter re-attaches them). */
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export type Item = ImportNode | ModelNode | TrainNode;

/** `import "../specs/gpt2-small.model"` — the path is relative to the importing file. */
export interface ImportNode {
  readonly kind: 'Import';
  readonly path: StringLit;
  readonly span: Span;
}

/** `model name [extends base] { entries }` */
export interface ModelNode {
  readonly kind: 'Model';
  readonly name: Ident;
  readonly base?: Ident;
  readonly body: readonly Entry[];
  readonly span: Span;
}

/** `train model_name { entries }` — the recipe for training one model. */
export interface TrainNode {
  readonly kind: 'Train';
  readonly target: Ident;
  readonly body: readonly Entry[];
  readonly span: Span;
}

export type Entry = AssignEntry | FlagEntry | SectionEntry;

/** `key = value` or `key: value` (the two are synonyms; the formatter picks one). */
export interface AssignEntry {
  readonly kind: 'Assign';
  readonly key: Ident;
  readonly op: '=' | ':';
  readonly value: Expr;
  readonly span: Span;
}

/** A bare knob name, meaning `key: true` (e.g. `causal`). */
export interface FlagEntry {
  readonly kind: 'Flag';
  readonly key: Ident;
  readonly span: Span;
}

/** `key { entries }`, or with a layer selector `block[0, 2::4] { entries }`. */
export interface SectionEntry {
  readonly kind: 'Section';
  readonly key: Ident;
  readonly selector?: LayerSelector;
  readonly body: readonly Entry[];
  readonly span: Span;
}

/** `[ item, item, ... ]` after a section key: which layers the section applies to. */
export interface LayerSelector {
  readonly kind: 'Selector';
  readonly items: readonly SelectorItem[];
  readonly span: Span;
}

/** `3`, `-1` (from the end), or a Python-style slice `start:stop:step` with parts optional. */
export type SelectorItem = SelectorIndex | SelectorSlice;

export interface SelectorIndex {
  readonly kind: 'Index';
  readonly value: Expr;
  readonly span: Span;
}

export interface SelectorSlice {
  readonly kind: 'Slice';
  readonly start?: Expr;
  readonly stop?: Expr;
  readonly step?: Expr;
  readonly span: Span;
}

export type Expr = NumberLit | StringLit | BoolLit | NoneLit | NameRef | MemberRef | Call | Tuple | Binary | Unary;

/**
 * A number as written: `768`, `32_000`, `1e-5`, `0.9`, `4k` (4,000), `1.5M`, `7B`, or with a
 * binary suffix `4Ki` (4,096), `32Ki`, `1Mi`. `value` is the number it denotes.
 */
export interface NumberLit {
  readonly kind: 'Number';
  readonly value: number;
  readonly raw: string;
  readonly span: Span;
}

export interface StringLit {
  readonly kind: 'String';
  /** The unescaped value. */
  readonly value: string;
  readonly raw: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: 'Bool';
  readonly value: boolean;
  readonly span: Span;
}

/** `none` — the absence of a feature (`final_norm: none`, `window: none`). */
export interface NoneLit {
  readonly kind: 'None';
  readonly span: Span;
}

/** A bare identifier: a named constant (`d_model`) or an enumeration value (`gelu`, `pre`). */
export interface NameRef {
  readonly kind: 'Name';
  readonly name: string;
  readonly span: Span;
}

/** `object.property`, e.g. `tokenizer.vocab`. */
export interface MemberRef {
  readonly kind: 'Member';
  readonly object: Expr;
  readonly property: Ident;
  readonly span: Span;
}

/** `layernorm(eps: 1e-5)`, `rope(base: 10000, fraction: 0.5)`, `round(x, 64)`. */
export interface Call {
  readonly kind: 'Call';
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly span: Span;
}

export interface Arg {
  readonly kind: 'Arg';
  /** Present for named arguments `eps: 1e-5`; absent for positional ones. */
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `(0.9, 0.95)` */
export interface Tuple {
  readonly kind: 'Tuple';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** No `//` operator: `//` starts a comment. Integer rounding is spelt with functions (`floor`, `round_to`). */
export type BinaryOp = '+' | '-' | '*' | '/' | '%';

export interface Binary {
  readonly kind: 'Binary';
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}

export interface Unary {
  readonly kind: 'Unary';
  readonly op: '-' | '+';
  readonly operand: Expr;
  readonly span: Span;
}

export type Node = FileNode | Item | Entry | Expr | Ident | Comment | LayerSelector | SelectorItem | Arg;
