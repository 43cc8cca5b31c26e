/**
 * The signature of a mask `(b, h, q, k, p) => boolean` or score `(s, b, h, q, k, p) => number`:
 * parameters are bound by position, whatever their names, and may be fewer than all of them.
 */
import { Node, type ArrowFunction, type FunctionDeclaration, type FunctionExpression, type MethodDeclaration } from 'ts-morph';
import type { ParamDecls } from '../../dsl/types.ts';
import { SIGNATURES, declaredList, type Binding, type Role } from './context.ts';
import type { Reporter } from './errors.ts';

/** The syntax a mask or score function can come as. */
export type FunctionNode = ArrowFunction | FunctionExpression | FunctionDeclaration | MethodDeclaration;

export function isFunctionNode(n: Node): n is FunctionNode {
  return Node.isArrowFunction(n) || Node.isFunctionExpression(n) || Node.isFunctionDeclaration(n) || Node.isMethodDeclaration(n);
}

function usage(role: Role): string {
  return role === 'mask' ? '(b, h, q, k, p) => boolean' : '(s, b, h, q, k, p) => number';
}

/** Check the signature of `fn` and bind its parameter names to their roles. */
export function bindParameters(
  fn: FunctionNode, role: Role, decls: ParamDecls, report: Reporter,
): Map<string, Binding> {
  const hint = `a ${role} is a plain function ${usage(role)}; parameters are positional`;
  const asyncKeyword = fn.getModifiers().find((m) => m.getText() === 'async');
  if (asyncKeyword) report.fail('KVF1009', asyncKeyword, `a ${role} function cannot be async`, hint);
  const star = Node.isArrowFunction(fn) ? undefined : fn.getAsteriskToken();
  if (star) report.fail('KVF1009', star, `a ${role} function cannot be a generator`, hint);

  // `function (this: T, ...)` declares a type, not a parameter.
  const params = fn.getParameters().filter((p) => p.getName() !== 'this');
  const roles = SIGNATURES[role];
  if (params.length > roles.length) {
    report.fail('KVF1009', params[roles.length]!,
      `a ${role} takes at most ${roles.length} parameters (${roles.join(', ')}), got ${params.length}`, hint);
  }

  const scope = new Map<string, Binding>();
  params.forEach((param, i) => {
    const slot = roles[i]!;
    if (param.getDotDotDotToken()) report.fail('KVF1009', param, `rest parameters are not allowed in a ${role}`, hint);
    const init = param.getInitializer();
    if (init) report.fail('KVF1009', init, `parameter defaults are not allowed in a ${role}`, hint);
    const name = param.getNameNode();
    if (Node.isIdentifier(name)) {
      const text = name.getText();
      scope.set(text, slot === 'p' ? { kind: 'params' } : slot === 's' ? { kind: 'score' } : { kind: 'index', name: slot });
    } else if (slot === 'p' && Node.isObjectBindingPattern(name)) {
      bindDestructuredParams(name, decls, report, scope);
    } else {
      report.fail('KVF1009', name, `the ${role} parameter at position ${i} (${slot}) must be a plain name`,
        'only the parameters object (the last parameter) may be destructured: { window }');
    }
  });
  return scope;
}

/** `{ window, cap: c }` read from the parameters object: every name must be declared. */
export function bindDestructuredParams(
  pattern: Node, decls: ParamDecls, report: Reporter, scope: Map<string, Binding>,
): void {
  if (!Node.isObjectBindingPattern(pattern)) {
    report.fail('KVF1001', pattern, 'only { name } destructuring of the parameters object is supported');
  }
  for (const el of pattern.getElements()) {
    if (el.getDotDotDotToken()) report.fail('KVF1001', el, 'rest destructuring of the parameters object is not supported', 'name each parameter: { window, cap }');
    const init = el.getInitializer();
    if (init) report.fail('KVF1001', init, 'defaults for parameters are not supported', 'give the value when binding: .with({ ... })');
    const prop = el.getPropertyNameNode();
    const nameNode = el.getNameNode();
    if (!Node.isIdentifier(nameNode)) report.fail('KVF1001', nameNode, 'nested destructuring is not supported');
    let key = nameNode.getText();
    if (prop) {
      if (Node.isStringLiteral(prop)) key = prop.getLiteralValue();
      else if (Node.isIdentifier(prop)) key = prop.getText();
      else report.fail('KVF1001', prop, 'computed keys are not supported when destructuring parameters');
    }
    if (!Object.hasOwn(decls, key)) {
      report.fail('KVF1004', prop ?? nameNode, `\`${key}\` is not a declared parameter (declared: ${declaredList(decls)})`,
        `declare it: { params: { ${key}: 'int32' } }`);
    }
    scope.set(nameNode.getText(), { kind: 'param', name: key });
  }
}
