/**
 * Names and hints for the syntax a mask or score body may not use. The translator is a
 * whitelist: anything not handled is an error; these tables only make the common cases say what
 * the construct is and what to write instead.
 */
import { SyntaxKind } from 'ts-morph';
import type { DiagnosticCode } from '../../dsl/diagnostics.ts';

export interface Rejection {
  readonly code: DiagnosticCode;
  readonly what: string;
  readonly hint?: string;
}

const NOT_A_NUMBER = 'mask and score bodies compute with numbers and booleans only';
const NO_STATE = 'a mask or score body is a pure expression of its parameters; use const declarations for intermediate values';

const BITWISE_TOKENS = {
  '&': SyntaxKind.AmpersandToken, '|': SyntaxKind.BarToken, '^': SyntaxKind.CaretToken,
  '<<': SyntaxKind.LessThanLessThanToken, '>>': SyntaxKind.GreaterThanGreaterThanToken,
  '>>>': SyntaxKind.GreaterThanGreaterThanGreaterThanToken,
} as const;

/** Expressions by syntax kind. */
export const REJECTED_EXPRESSIONS: ReadonlyMap<SyntaxKind, Rejection> = new Map<SyntaxKind, Rejection>([
  [SyntaxKind.StringLiteral, { code: 'KVF1011', what: 'string literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.NoSubstitutionTemplateLiteral, { code: 'KVF1011', what: 'template literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.TemplateExpression, { code: 'KVF1011', what: 'template literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.TaggedTemplateExpression, { code: 'KVF1011', what: 'tagged template literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.RegularExpressionLiteral, { code: 'KVF1011', what: 'regular expression literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.BigIntLiteral, { code: 'KVF1011', what: 'bigint literal', hint: 'write an ordinary integer literal, without the n suffix' }],
  [SyntaxKind.NullKeyword, { code: 'KVF1011', what: '`null`', hint: NOT_A_NUMBER }],
  [SyntaxKind.ThisKeyword, { code: 'KVF1001', what: '`this`', hint: 'declare a parameter and read it as p.name' }],
  [SyntaxKind.SuperKeyword, { code: 'KVF1001', what: '`super`' }],
  [SyntaxKind.NewExpression, { code: 'KVF1001', what: '`new`', hint: NOT_A_NUMBER }],
  [SyntaxKind.TypeOfExpression, { code: 'KVF1001', what: '`typeof`', hint: 'every value is a number or a boolean; no type test is needed' }],
  [SyntaxKind.VoidExpression, { code: 'KVF1001', what: '`void`' }],
  [SyntaxKind.DeleteExpression, { code: 'KVF1001', what: '`delete`', hint: NO_STATE }],
  [SyntaxKind.AwaitExpression, { code: 'KVF1001', what: '`await`' }],
  [SyntaxKind.YieldExpression, { code: 'KVF1001', what: '`yield`' }],
  [SyntaxKind.ArrayLiteralExpression, { code: 'KVF1001', what: 'array literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.ObjectLiteralExpression, { code: 'KVF1001', what: 'object literal', hint: NOT_A_NUMBER }],
  [SyntaxKind.SpreadElement, { code: 'KVF1001', what: 'spread `...`', hint: 'pass the arguments one by one: Math.max(a, b, c)' }],
  [SyntaxKind.ArrowFunction, { code: 'KVF1001', what: 'nested function', hint: 'inline the computation, or name it with a const' }],
  [SyntaxKind.FunctionExpression, { code: 'KVF1001', what: 'nested function', hint: 'inline the computation, or name it with a const' }],
  [SyntaxKind.ClassExpression, { code: 'KVF1001', what: 'class expression' }],
  [SyntaxKind.MetaProperty, { code: 'KVF1001', what: 'meta property' }],
]);

/** Binary operators by the syntax kind of their token. */
export const REJECTED_OPERATORS: ReadonlyMap<SyntaxKind, Rejection> = new Map<SyntaxKind, Rejection>([
  [SyntaxKind.AsteriskAsteriskToken, {
    code: 'KVF1001', what: 'exponentiation `**`',
    hint: 'write x * x for a small integer power; in a score, Math.exp(y * Math.log(x))',
  }],
  [SyntaxKind.QuestionQuestionToken, { code: 'KVF1001', what: 'nullish coalescing `??`', hint: 'no value is ever null or undefined here' }],
  [SyntaxKind.InKeyword, { code: 'KVF1001', what: '`in` operator', hint: 'parameters are declared; read them as p.name' }],
  [SyntaxKind.InstanceOfKeyword, { code: 'KVF1001', what: '`instanceof`', hint: NOT_A_NUMBER }],
  [SyntaxKind.CommaToken, { code: 'KVF1001', what: 'comma operator `,`', hint: 'name intermediate values with const' }],
  ...(['&', '|', '^', '<<', '>>', '>>>'] as const).map((op): [SyntaxKind, Rejection] => [BITWISE_TOKENS[op], {
    code: 'KVF1001', what: `bitwise operator \`${op}\``,
    hint: 'use arithmetic: Math.floor(x / 2) for x >> 1, x % 2 for the low bit of a nonnegative x',
  }]),
]);

/** Assignment (`=`, `+=`, `&&=`, ...), `++` and `--`: a body cannot change anything. */
export const NO_STATE_HINT = NO_STATE;

/** Statements other than `const` and `return`. */
export function rejectedStatement(kind: SyntaxKind): Rejection {
  const loop = { code: 'KVF1001', hint: 'a body is one expression; loops are not allowed (unroll a short one by hand)' } as const;
  switch (kind) {
    case SyntaxKind.IfStatement: return { code: 'KVF1001', what: '`if` statement', hint: 'use a conditional expression: cond ? a : b' };
    case SyntaxKind.ForStatement: return { ...loop, what: '`for` loop' };
    case SyntaxKind.ForInStatement: return { ...loop, what: '`for...in` loop' };
    case SyntaxKind.ForOfStatement: return { ...loop, what: '`for...of` loop' };
    case SyntaxKind.WhileStatement: return { ...loop, what: '`while` loop' };
    case SyntaxKind.DoStatement: return { ...loop, what: '`do...while` loop' };
    case SyntaxKind.SwitchStatement: return { code: 'KVF1001', what: '`switch` statement', hint: 'use a conditional expression: cond ? a : b' };
    case SyntaxKind.ThrowStatement: return { code: 'KVF1001', what: '`throw` statement' };
    case SyntaxKind.TryStatement: return { code: 'KVF1001', what: '`try` statement' };
    case SyntaxKind.FunctionDeclaration: return { code: 'KVF1001', what: 'nested function', hint: 'inline the computation, or name it with a const' };
    case SyntaxKind.ClassDeclaration: return { code: 'KVF1001', what: 'class declaration' };
    case SyntaxKind.Block: return { code: 'KVF1001', what: 'nested block', hint: 'write the const declarations at the top level of the body' };
    case SyntaxKind.LabeledStatement: return { code: 'KVF1001', what: 'labeled statement' };
    case SyntaxKind.BreakStatement: return { code: 'KVF1001', what: '`break`' };
    case SyntaxKind.ContinueStatement: return { code: 'KVF1001', what: '`continue`' };
    case SyntaxKind.DebuggerStatement: return { code: 'KVF1001', what: '`debugger`' };
    case SyntaxKind.ExpressionStatement: return { code: 'KVF1001', what: 'expression statement', hint: 'its value would be discarded; a body is const declarations and one return' };
    default: return { code: 'KVF1001', what: `${SyntaxKind[kind]} statement`, hint: 'a body is const declarations followed by one return' };
  }
}
