/**
 * The error catalogue lives in dsl/diagnostics.ts (a leaf: dsl/ imports nothing of codegen/). This
 * re-export remains only for codegen/backends/cfamily/printer.ts, which another change owns; once
 * that file imports dsl/diagnostics.ts, delete this one.
 */
export { internalError } from '../dsl/diagnostics.ts';
