/**
 * What the translator knows while it walks one function body: the role, the declared
 * parameters, what each name in scope stands for, and where to report errors.
 */
import type { Expr, IndexName } from '../ir/expr.ts';
import type { ParamDecls } from '../../dsl/types.ts';
import type { Reporter } from './errors.ts';

export type Role = 'mask' | 'score';

/**
 * A name in scope. Parameter names are positional, so `(x0, x1, row, col) => col <= row` binds
 * `row` to the index q whatever the user called it.
 */
export type Binding =
  | { readonly kind: 'index'; readonly name: IndexName }
  | { readonly kind: 'score' }
  /** The parameters object (`p`): only `p.name` and `p['name']` may read it. */
  | { readonly kind: 'params' }
  /** One declared parameter, destructured: `(b, h, q, k, { window }) => ...`. */
  | { readonly kind: 'param'; readonly name: string }
  /** A `const` of a block body, inlined as the expression it names. */
  | { readonly kind: 'const'; readonly expr: Expr }
  /** A `const` declared further down: reading it would throw in JavaScript (temporal dead zone). */
  | { readonly kind: 'pending' };

export interface Context {
  readonly role: Role;
  /** The function's name, for messages. */
  readonly name: string;
  readonly decls: ParamDecls;
  readonly scope: Map<string, Binding>;
  readonly report: Reporter;
}

/** The positional roles of a mask's and a score's parameters; the last is the parameters object. */
export const SIGNATURES: Readonly<Record<Role, readonly (IndexName | 's' | 'p')[]>> = {
  mask: ['b', 'h', 'q', 'k', 'p'],
  score: ['s', 'b', 'h', 'q', 'k', 'p'],
};

/** `window, cap` or `none`, for hints. */
export function declaredList(decls: ParamDecls): string {
  const names = Object.keys(decls);
  return names.length ? names.join(', ') : 'none';
}
