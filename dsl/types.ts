/**
 * Plain data types of the DSL. Nothing here knows about tiles, targets or code generation:
 * the schedule lives in codegen/planner (style.md: the math apart from the schedule).
 */

/** Declared type of a mask or score parameter. */
export type ParamType = 'int32' | 'float32';

/** Parameter declarations: name -> type. */
export type ParamDecls = Readonly<Record<string, ParamType>>;

/** Values for declared parameters, as the function body receives them in `p`. */
export type ParamValues<P extends ParamDecls> = { readonly [K in keyof P]: number };

/** A mask body: true where key position `k` is admissible for query position `q`. */
export type MaskFn<P extends ParamDecls = {}> = (b: number, h: number, q: number, k: number, p: ParamValues<P>) => boolean;

/** A score body: receives the scaled score `s` and returns the new score. */
export type ScoreFn<P extends ParamDecls = {}> = (
  s: number, b: number, h: number, q: number, k: number, p: ParamValues<P>,
) => number;

/** Where a definition was written: used to find its source text and to point errors at it. */
export interface CallSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** What the front end needs to translate one function: the function, its declared params, where it came from. */
export interface FunctionDef {
  readonly role: 'mask' | 'score';
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
  readonly params: ParamDecls;
  readonly site: CallSite | undefined;
}
