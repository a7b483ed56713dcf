/**
 * The grammar of `.model` files, as a Chevrotain CstParser. It only recognises; what the
 * concrete syntax tree means is decided in compiler/ast/build.ts. Labels (`LABEL: 'value'`)
 * name the children the builder reads, so it never depends on child positions.
 *
 *   file      := (item | ',' | ';' | topStray)*
 *   item      := 'import' String | 'model' Ident ('extends' Ident)? headerStray? block
 *              | 'train' Ident headerStray? block
 *   block     := '{' (entry | ',' | ';' | stray | keywordEntry)* '}'
 *   entry     := Ident ( ('=' | ':') expression? | selector? block )?   (no value: MS1013)
 *   selector  := '[' selItem (',' selItem)* ','? ']'
 *   selItem   := expression sliceTail? | sliceTail          sliceTail := ':' expr? (':' expr?)?
 *   expression := multiplicative (('+' | '-') multiplicative)*
 *   multiplicative := unary (('*' | '/' | '%') unary)*
 *   unary     := ('-' | '+') unary | postfix
 *   postfix   := primary ('.' Ident)*
 *   primary   := Number | String | 'true' | 'false' | 'none' | Ident args? | '(' expr (',' expr)* ','? ')'
 *   args      := '(' (argument (',' argument)* ','?)? ')'      argument := (Ident ':')? expression
 *
 * Error messages: the provider below returns only the human "expected" phrase (`'}'`, `a
 * value`); parse.ts pairs it with the offending token to build MS1010/MS1011/MS1012.
 *
 * Recovery: Chevrotain's own recovery (single-token insertion/deletion, re-sync) handles
 * mistakes inside an entry. The stray rules handle input that cannot start anything where it
 * stands (`x: 1 ] y: 2`, `embeddi:ng { ... }`, `heads: 12` outside a model): they consume
 * the run (a `{ ... }` in it as a whole block) and record its first token in `strays`, so the
 * user gets one error and the entries after it still parse. Without them, one typo ends the
 * enclosing block and every later line is reported as junk between items.
 */
import { CstParser, EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import * as T from './tokens.js';

const label = (t: TokenType): string => t.LABEL ?? t.name;

/** `a, b or c`, without repeats. */
function oneOf(phrases: readonly string[]): string {
  const unique = [...new Set(phrases)];
  if (unique.length <= 1) return unique[0] ?? 'something else';
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

const ITEM_START = "'model', 'train' or 'import'";

/** The "expected" phrase of a block that ended without its `}` (parse.ts matches on it). */
export const EXPECTED_CLOSE = "an entry or '}'";

const isToken = (t: IToken | undefined, type: TokenType) => t !== undefined && t.tokenType === type;

const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, previous }) {
    // A closing bracket is only ever expected after a list whose loop just ended, so name
    // what could have continued the list too.
    if (expected === T.RBrace) return EXPECTED_CLOSE;
    if (expected === T.RParen) return isToken(previous, T.LParen) ? "a value or ')'" : "',' or ')'";
    if (expected === T.RBracket) return "',' or ']'";
    // The top-level loop ended on something that is not an item.
    if (expected === EOF) return ITEM_START;
    return label(expected);
  },
  buildNotAllInputParsedMessage() {
    return ITEM_START;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, customUserDescription }) {
    return customUserDescription ?? oneOf(expectedPathsPerAlt.flatMap((alt) => alt.map((path) => label(path[0]!))));
  },
  buildEarlyExitMessage({ expectedIterationPaths, customUserDescription }) {
    return customUserDescription ?? oneOf(expectedIterationPaths.map((path) => label(path[0]!)));
  },
};

/** Where a stray run was found, which decides the message parse.ts gives it. */
export type StrayContext = 'top' | 'header' | 'block' | 'keyword';

export interface StrayRun {
  readonly token: IToken;
  readonly context: StrayContext;
}

/** `vocab =` with nothing after it: the entry's key and its `=` or `:`. */
export interface MissingValue {
  readonly key: IToken;
  readonly op: IToken;
}

class SpecParser extends CstParser {
  /** Stray runs found by the last parse (cleared whenever `input` is set). */
  strays: StrayRun[] = [];
  /** Entries whose `=` or `:` has no value after it, found by the last parse. */
  missingValues: MissingValue[] = [];
  /** The text being parsed: set by parse.ts with the tokens; used to see line breaks. */
  source = '';

  constructor() {
    super(T.allTokens, { recoveryEnabled: true, errorMessageProvider: errorMessages, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  override reset(): void {
    super.reset();
    this.strays = [];
    this.missingValues = [];
  }

  /**
   * Whether the `=` or `:` just consumed has no value after it: the block or file ends there
   * (`}`, `,`, `;`, end of file, an item keyword), or the next line starts another entry
   * (`context = 64`, `block {`, `layers[0] {`). A value may still continue on the next line
   * (`vocab =` then `50257`); only a token that cannot continue a value counts.
   */
  private valueMissing(op: IToken): boolean {
    const next = this.LA(1);
    const type = next.tokenType;
    if (type === EOF || type === T.RBrace || type === T.Comma || type === T.Semicolon) return true;
    if (type.CATEGORIES?.includes(T.ItemKeyword)) return true;
    if (type !== T.Identifier) return false;
    const after = this.LA(2).tokenType;
    const startsEntry = after === T.Equals || after === T.Colon || after === T.LBrace || after === T.LBracket;
    return startsEntry && /[\n\r]/.test(this.source.slice(op.startOffset + op.image.length, next.startOffset));
  }

  private isAssignOp(t: IToken): boolean {
    return t.tokenType === T.Equals || t.tokenType === T.Colon;
  }

  private recordStray(context: StrayContext): void {
    this.ACTION(() => this.strays.push({ token: this.LA(1), context }));
  }

  file = this.RULE('file', () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.importItem, { LABEL: 'items' }) },
        { ALT: () => this.SUBRULE(this.modelItem, { LABEL: 'items' }) },
        { ALT: () => this.SUBRULE(this.trainItem, { LABEL: 'items' }) },
        { ALT: () => this.CONSUME(T.Comma) },
        { ALT: () => this.CONSUME(T.Semicolon) },
        { ALT: () => this.SUBRULE(this.topStray) },
      ]),
    );
  });

  /** Anything between items that is not an item: `heads: 12` or a stray `}`. */
  topStray = this.RULE('topStray', () => {
    this.recordStray('top');
    this.AT_LEAST_ONE(() =>
      this.OR([
        { ALT: () => this.CONSUME(T.Stray) },
        { ALT: () => this.CONSUME(T.Identifier) },
        { ALT: () => this.CONSUME(T.RBrace) },
        { ALT: () => this.SUBRULE(this.block) },
      ]),
    );
  });

  importItem = this.RULE('importItem', () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLiteral, { LABEL: 'path' });
  });

  modelItem = this.RULE('modelItem', () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME2(T.Identifier, { LABEL: 'base' });
    });
    this.OPTION2(() => this.SUBRULE(this.headerStray));
    this.SUBRULE(this.block);
  });

  trainItem = this.RULE('trainItem', () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Identifier, { LABEL: 'target' });
    this.OPTION(() => this.SUBRULE(this.headerStray));
    this.SUBRULE(this.block);
  });

  /** Words or symbols between a model/train header and its `{`: `model a exends b {`. */
  headerStray = this.RULE('headerStray', () => {
    this.recordStray('header');
    this.AT_LEAST_ONE(() => this.OR([{ ALT: () => this.CONSUME(T.Stray) }, { ALT: () => this.CONSUME(T.Identifier) }]));
  });

  block = this.RULE('block', () => {
    this.CONSUME(T.LBrace);
    this.MANY({
      // `model`, `train` or `import` ends the block (its `}` is missing) unless it is
      // followed by `=` or `:`, i.e. used as a knob name.
      GATE: () => !this.LA(1).tokenType.CATEGORIES?.includes(T.ItemKeyword) || this.isAssignOp(this.LA(2)),
      DEF: () =>
        this.OR([
          { ALT: () => this.SUBRULE(this.entry, { LABEL: 'entries' }) },
          { ALT: () => this.CONSUME(T.Comma) },
          { ALT: () => this.CONSUME(T.Semicolon) },
          { ALT: () => this.SUBRULE(this.stray) },
          { ALT: () => this.SUBRULE(this.keywordEntry) },
        ]),
    });
    this.CONSUME(T.RBrace);
  });

  /** `model = gpt`: an item keyword used as a knob name. Reported, then parsed and dropped. */
  keywordEntry = this.RULE('keywordEntry', () => {
    this.recordStray('keyword');
    this.CONSUME(T.ItemKeyword);
    this.OR([{ ALT: () => this.CONSUME(T.Equals) }, { ALT: () => this.CONSUME(T.Colon) }]);
    this.SUBRULE(this.expression);
  });

  /** Input in a block that cannot start an entry: `x: 1 ] y: 2`, or a `{ ... }` after a value. */
  stray = this.RULE('stray', () => {
    this.recordStray('block');
    this.AT_LEAST_ONE(() => this.OR([{ ALT: () => this.CONSUME(T.Stray) }, { ALT: () => this.SUBRULE(this.block) }]));
  });

  entry = this.RULE('entry', () => {
    const key = this.CONSUME(T.Identifier, { LABEL: 'key' });
    this.OPTION(() =>
      this.OR([
        {
          ALT: () => {
            const op = this.OR2([
              { ALT: () => this.CONSUME(T.Equals, { LABEL: 'op' }) },
              { ALT: () => this.CONSUME(T.Colon, { LABEL: 'op' }) },
            ]);
            this.OR3({
              DEF: [
                { GATE: () => !this.valueMissing(op), ALT: () => this.SUBRULE(this.expression, { LABEL: 'value' }) },
                // Consumes nothing: parse.ts reports the one error (MS1013) and the builder drops the entry.
                { GATE: () => this.valueMissing(op), ALT: () => this.ACTION(() => this.missingValues.push({ key, op })) },
              ],
              ERR_MSG: 'a value',
            });
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.SUBRULE(this.selector));
            this.SUBRULE(this.block);
          },
        },
      ]),
    );
  });

  selector = this.RULE('selector', () => {
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.selectorItem, { LABEL: 'items' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.selectorItem, { LABEL: 'items' });
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
    this.CONSUME(T.RBracket);
  });

  selectorItem = this.RULE('selectorItem', () => {
    this.OR({
      DEF: [
        {
          ALT: () => {
            this.SUBRULE(this.expression, { LABEL: 'start' });
            this.OPTION(() => this.SUBRULE(this.sliceTail));
          },
        },
        { ALT: () => this.SUBRULE2(this.sliceTail) },
      ],
      ERR_MSG: 'a layer index or slice',
    });
  });

  sliceTail = this.RULE('sliceTail', () => {
    this.CONSUME(T.Colon);
    this.OPTION(() => this.SUBRULE(this.expression, { LABEL: 'stop' }));
    this.OPTION2(() => {
      this.CONSUME2(T.Colon);
      this.OPTION3(() => this.SUBRULE2(this.expression, { LABEL: 'step' }));
    });
  });

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus, { LABEL: 'operators' }) }, { ALT: () => this.CONSUME(T.Minus, { LABEL: 'operators' }) }]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'operators' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'operators' }) },
        { ALT: () => this.CONSUME(T.Percent, { LABEL: 'operators' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR({
      DEF: [
        {
          ALT: () => {
            this.OR2([{ ALT: () => this.CONSUME(T.Minus, { LABEL: 'op' }) }, { ALT: () => this.CONSUME(T.Plus, { LABEL: 'op' }) }]);
            this.SUBRULE(this.unary, { LABEL: 'operand' });
          },
        },
        { ALT: () => this.SUBRULE(this.postfix, { LABEL: 'operand' }) },
      ],
      ERR_MSG: 'a value',
    });
  });

  postfix = this.RULE('postfix', () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.CONSUME(T.Identifier, { LABEL: 'members' });
    });
  });

  primary = this.RULE('primary', () => {
    this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.NumberLiteral) },
        { ALT: () => this.CONSUME(T.StringLiteral) },
        { ALT: () => this.CONSUME(T.True) },
        { ALT: () => this.CONSUME(T.False) },
        { ALT: () => this.CONSUME(T.None) },
        {
          ALT: () => {
            this.CONSUME(T.Identifier);
            this.OPTION(() => this.SUBRULE(this.args));
          },
        },
        { ALT: () => this.SUBRULE(this.parenthesized) },
      ],
      ERR_MSG: 'a value',
    });
  });

  args = this.RULE('args', () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.argument, { LABEL: 'items' });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.argument, { LABEL: 'items' });
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  argument = this.RULE('argument', () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: 'name' });
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression, { LABEL: 'items' });
    this.MANY(() => {
      this.CONSUME(T.Comma, { LABEL: 'commas' });
      this.SUBRULE2(this.expression, { LABEL: 'items' });
    });
    this.OPTION(() => this.CONSUME2(T.Comma, { LABEL: 'commas' }));
    this.CONSUME(T.RParen);
  });
}

/** One instance for the process; parse.ts resets it per file with `parser.input = tokens`. */
export const parser = new SpecParser();
