/**
 * CST → AST. One visitor method per grammar rule (Chevrotain checks at start-up that none is
 * missing). After error recovery a CST node may lack children and recovery-inserted tokens
 * have NaN offsets, so every method re-checks what it reads and returns `undefined` for an
 * incomplete construct; lists (items, entries, arguments) drop such members and keep the
 * rest. The parse error that caused the gap has already been reported.
 *
 * Spans come only from real tokens: a node's span runs from the first to the last real token
 * of its CST subtree, so `(a + b) * c` covers the parentheses and a Section covers its key
 * through `}`.
 */
import type { CstChildrenDictionary, CstElement, CstNode, IToken } from 'chevrotain';
import { type Span, span } from '../diagnostics/span.js';
import { decodeString, numberValue } from '../syntax/literals.js';
import { parser } from '../syntax/parser.js';
import type { Arg, BinaryOp, Comment, Entry, Expr, FileNode, Ident, Item, LayerSelector, SelectorItem } from './nodes.js';

type Ctx = CstChildrenDictionary;

const isNode = (e: CstElement): e is CstNode => 'children' in e;
/** Recovery inserts tokens with an empty image and NaN offsets; they denote nothing. */
const isReal = (t: IToken): boolean => !t.isInsertedInRecovery && Number.isFinite(t.startOffset) && t.startOffset >= 0;

function tokens(ctx: Ctx, key: string): IToken[] {
  return (ctx[key] ?? []).filter((e): e is IToken => !isNode(e));
}
function token(ctx: Ctx, key: string): IToken | undefined {
  const t = tokens(ctx, key)[0];
  return t && isReal(t) ? t : undefined;
}
function nodes(ctx: Ctx, key: string): CstNode[] {
  return (ctx[key] ?? []).filter(isNode);
}

interface Extent {
  start: number;
  end: number;
}

/** Slice parts as built by `sliceTail`. */
interface SliceTail {
  stop?: Expr;
  step?: Expr;
}

const BaseVisitor = parser.getBaseCstVisitorConstructor<undefined, unknown>();

class AstBuilder extends BaseVisitor {
  path = '';
  private readonly extents = new WeakMap<CstNode, Extent | undefined>();

  constructor() {
    super();
    this.validateVisitor();
  }

  // ── spans ───────────────────────────────────────────────────────────────────
  private extentOf(e: CstElement): Extent | undefined {
    if (!isNode(e)) return isReal(e) ? { start: e.startOffset, end: e.startOffset + e.image.length } : undefined;
    if (!this.extents.has(e)) this.extents.set(e, this.extentOfChildren(e.children));
    return this.extents.get(e);
  }

  private extentOfChildren(ctx: Ctx): Extent | undefined {
    let out: Extent | undefined;
    for (const list of Object.values(ctx)) {
      for (const child of list) {
        const x = this.extentOf(child);
        if (!x) continue;
        out = out ? { start: Math.min(out.start, x.start), end: Math.max(out.end, x.end) } : { ...x };
      }
    }
    return out;
  }

  /** The span covering all the given CST pieces, or undefined if none has a real token. */
  private spanOf(...parts: (CstElement | Ctx | undefined)[]): Span | undefined {
    let out: Extent | undefined;
    for (const p of parts) {
      if (!p) continue;
      const x = 'children' in p || 'tokenType' in p ? this.extentOf(p as CstElement) : this.extentOfChildren(p as Ctx);
      if (!x) continue;
      out = out ? { start: Math.min(out.start, x.start), end: Math.max(out.end, x.end) } : x;
    }
    return out && span(this.path, out.start, out.end);
  }

  private ident(t: IToken | undefined): Ident | undefined {
    return t && isReal(t)
      ? { kind: 'Ident', name: t.image, span: span(this.path, t.startOffset, t.startOffset + t.image.length) }
      : undefined;
  }

  private sub<T>(n: CstNode | undefined): T | undefined {
    return n ? (this.visit(n) as T | undefined) : undefined;
  }

  private all<T>(ns: CstNode[]): T[] {
    return ns.map((n) => this.visit(n) as T | undefined).filter((x): x is T => x !== undefined);
  }

  // ── items ───────────────────────────────────────────────────────────────────
  file(ctx: Ctx): Item[] {
    return this.all<Item>(nodes(ctx, 'items'));
  }

  importItem(ctx: Ctx): Item | undefined {
    const path = token(ctx, 'path');
    const s = this.spanOf(ctx);
    if (!path || !s) return undefined;
    const str = decodeString(path.image);
    return {
      kind: 'Import',
      path: { kind: 'String', value: str.value, raw: path.image, span: this.spanOf(path)! },
      span: s,
    };
  }

  modelItem(ctx: Ctx): Item | undefined {
    const name = this.ident(token(ctx, 'name'));
    const body = this.sub<Entry[]>(nodes(ctx, 'block')[0]);
    const s = this.spanOf(ctx);
    if (!name || !body || !s) return undefined;
    // `extends` with its name missing: drop the clause rather than the whole model.
    const base = this.ident(token(ctx, 'base'));
    return base ? { kind: 'Model', name, base, body, span: s } : { kind: 'Model', name, body, span: s };
  }

  trainItem(ctx: Ctx): Item | undefined {
    const target = this.ident(token(ctx, 'target'));
    const body = this.sub<Entry[]>(nodes(ctx, 'block')[0]);
    const s = this.spanOf(ctx);
    if (!target || !body || !s) return undefined;
    return { kind: 'Train', target, body, span: s };
  }

  // Stray input was reported by the parser and means nothing.
  topStray(): undefined {
    return undefined;
  }

  headerStray(): undefined {
    return undefined;
  }

  stray(): undefined {
    return undefined;
  }

  keywordEntry(): undefined {
    return undefined;
  }

  block(ctx: Ctx): Entry[] {
    return this.all<Entry>(nodes(ctx, 'entries'));
  }

  // ── entries ─────────────────────────────────────────────────────────────────
  entry(ctx: Ctx): Entry | undefined {
    const key = this.ident(token(ctx, 'key'));
    if (!key) return undefined;
    if (ctx.op) {
      const op = token(ctx, 'op');
      const value = this.sub<Expr>(nodes(ctx, 'value')[0]);
      if (!op || !value) return undefined;
      return { kind: 'Assign', key, op: op.image === '=' ? '=' : ':', value, span: this.spanOf(ctx)! };
    }
    const block = nodes(ctx, 'block')[0];
    if (block) {
      const body = this.sub<Entry[]>(block);
      const selectorNode = nodes(ctx, 'selector')[0];
      const selector = this.sub<LayerSelector>(selectorNode);
      // A broken selector would silently widen the section to every layer: drop the section.
      if (!body || (selectorNode && !selector)) return undefined;
      const s = this.spanOf(ctx)!;
      return selector ? { kind: 'Section', key, selector, body, span: s } : { kind: 'Section', key, body, span: s };
    }
    return { kind: 'Flag', key, span: key.span };
  }

  selector(ctx: Ctx): LayerSelector | undefined {
    const itemNodes = nodes(ctx, 'items');
    const items = this.all<SelectorItem>(itemNodes);
    const s = this.spanOf(ctx);
    if (items.length === 0 || items.length !== itemNodes.length || !s) return undefined;
    return { kind: 'Selector', items, span: s };
  }

  selectorItem(ctx: Ctx): SelectorItem | undefined {
    const startNode = nodes(ctx, 'start')[0];
    const start = this.sub<Expr>(startNode);
    const tailNode = nodes(ctx, 'sliceTail')[0];
    const s = this.spanOf(ctx);
    if ((startNode && !start) || !s) return undefined;
    if (!tailNode) return start && { kind: 'Index', value: start, span: s };
    const tail = this.sub<SliceTail>(tailNode);
    if (!tail) return undefined;
    return { kind: 'Slice', ...(start && { start }), ...tail, span: s };
  }

  sliceTail(ctx: Ctx): SliceTail | undefined {
    const colons = tokens(ctx, 'Colon');
    if (colons.length === 0 || !colons.every(isReal)) return undefined;
    const stopNode = nodes(ctx, 'stop')[0];
    const stepNode = nodes(ctx, 'step')[0];
    const stop = this.sub<Expr>(stopNode);
    const step = this.sub<Expr>(stepNode);
    if ((stopNode && !stop) || (stepNode && !step)) return undefined;
    return { ...(stop && { stop }), ...(step && { step }) };
  }

  // ── expressions ─────────────────────────────────────────────────────────────
  expression(ctx: Ctx): Expr | undefined {
    return this.binaryChain(ctx);
  }

  multiplicative(ctx: Ctx): Expr | undefined {
    return this.binaryChain(ctx);
  }

  /** `a op b op c` → ((a op b) op c): both binary levels are left-associative. */
  private binaryChain(ctx: Ctx): Expr | undefined {
    const operandNodes = nodes(ctx, 'operands');
    const operators = tokens(ctx, 'operators');
    if (operandNodes.length !== operators.length + 1 || !operators.every(isReal)) return undefined;
    const operands = operandNodes.map((n) => this.sub<Expr>(n));
    let left = operands[0];
    for (let i = 0; i < operators.length && left; i++) {
      const right = operands[i + 1];
      const s = this.spanOf(operandNodes[0], operandNodes[i + 1]);
      if (!right || !s) return undefined;
      left = { kind: 'Binary', op: operators[i]!.image as BinaryOp, left, right, span: s };
    }
    return left;
  }

  unary(ctx: Ctx): Expr | undefined {
    const operand = this.sub<Expr>(nodes(ctx, 'operand')[0]);
    if (!ctx.op) return operand;
    const op = token(ctx, 'op');
    const s = this.spanOf(ctx);
    if (!op || !operand || !s) return undefined;
    return { kind: 'Unary', op: op.image === '-' ? '-' : '+', operand, span: s };
  }

  postfix(ctx: Ctx): Expr | undefined {
    const primaryNode = nodes(ctx, 'primary')[0];
    let object = this.sub<Expr>(primaryNode);
    const dots = tokens(ctx, 'Dot');
    const members = tokens(ctx, 'members');
    if (dots.length !== members.length) return undefined;
    // From the primary's first token, so `(a).b` starts at `(`.
    const start = this.spanOf(primaryNode)?.start;
    for (const m of members) {
      const property = this.ident(m);
      if (!object || !property || start === undefined) return undefined;
      object = { kind: 'Member', object, property, span: span(this.path, start, property.span.end) };
    }
    return object;
  }

  primary(ctx: Ctx): Expr | undefined {
    const s = this.spanOf(ctx);
    if (!s) return undefined;
    const num = token(ctx, 'NumberLiteral');
    if (num) return { kind: 'Number', value: numberValue(num.image) ?? Number.NaN, raw: num.image, span: s };
    const str = token(ctx, 'StringLiteral');
    if (str) return { kind: 'String', value: decodeString(str.image).value, raw: str.image, span: s };
    if (token(ctx, 'Kw_true')) return { kind: 'Bool', value: true, span: s };
    if (token(ctx, 'Kw_false')) return { kind: 'Bool', value: false, span: s };
    if (token(ctx, 'Kw_none')) return { kind: 'None', span: s };
    const name = this.ident(token(ctx, 'Identifier'));
    if (name) {
      const argsNode = nodes(ctx, 'args')[0];
      if (!argsNode) return { kind: 'Name', name: name.name, span: name.span };
      const args = this.sub<Arg[]>(argsNode);
      return args && { kind: 'Call', callee: name, args, span: s };
    }
    return this.sub<Expr>(nodes(ctx, 'parenthesized')[0]);
  }

  args(ctx: Ctx): Arg[] | undefined {
    // A call missing its `)` still has usable arguments, but a missing argument would shift
    // positional ones: drop the call.
    const argNodes = nodes(ctx, 'items');
    const args = this.all<Arg>(argNodes);
    return args.length === argNodes.length ? args : undefined;
  }

  argument(ctx: Ctx): Arg | undefined {
    const value = this.sub<Expr>(nodes(ctx, 'value')[0]);
    const s = this.spanOf(ctx);
    if (!value || !s) return undefined;
    if (!ctx.name) return { kind: 'Arg', value, span: s };
    const name = this.ident(token(ctx, 'name'));
    return name && { kind: 'Arg', name, value, span: s };
  }

  /** `(e)` is just `e`; with any comma it is a tuple: `(0.9, 0.95)`, `(x,)`. */
  parenthesized(ctx: Ctx): Expr | undefined {
    const itemNodes = nodes(ctx, 'items');
    const items = this.all<Expr>(itemNodes);
    if (items.length === 0 || items.length !== itemNodes.length) return undefined;
    if (!ctx.commas) return items[0];
    const s = this.spanOf(ctx);
    return s && { kind: 'Tuple', items, span: s };
  }
}

/** Built lazily so importing this module does no work. */
let builder: AstBuilder | undefined;

/** The AST of a parsed file; `cst` may be partial after error recovery. */
export function buildFile(cst: CstNode | undefined, path: string, text: string, comments: readonly Comment[]): FileNode {
  builder ??= new AstBuilder();
  builder.path = path;
  const items = cst ? ((builder.visit(cst) as Item[] | undefined) ?? []) : [];
  return { kind: 'File', path, items, comments, span: span(path, 0, text.length) };
}
