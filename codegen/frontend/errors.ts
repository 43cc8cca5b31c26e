/**
 * User errors of the front end, pointing at a node of the user's source.
 *
 * The same translator runs on two kinds of text: the user's original file (then errors carry its
 * path and real line:col) or the text of `fn.toString()` (then they carry `<name>` and positions
 * relative to that text). A Reporter hides which one it is.
 */
import type { Node } from 'ts-morph';
import { KvforgeError, type DiagnosticCode, type SourceLocation } from '../../dsl/diagnostics.ts';

export class Reporter {
  readonly file: string;
  private readonly text: string;
  private readonly prefix: number;
  private readonly lineStarts: number[];

  /**
   * @param file - the path, or `<name>` when the text is the function's own source
   * @param text - the text that line and column count in
   * @param prefix - characters the parsed text has before `text` (a wrapper like `(`)
   */
  constructor(file: string, text: string, prefix = 0) {
    this.file = file;
    this.text = text;
    this.prefix = prefix;
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // \r\n counts once; a lone \r or \n ends a line too, as it does for the TypeScript scanner.
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.lineStarts.push(i + 1);
    }
  }

  /** 1-based line and column, the whole line's text and the span's length on that line. */
  locate(node: Node): SourceLocation {
    return this.locateSpan(node.getStart(), node.getEnd());
  }

  /** {@link locate} for a span of the parsed text (start and end offsets, as a node has). */
  locateSpan(spanStart: number, spanEnd: number): SourceLocation {
    const start = Math.max(0, spanStart - this.prefix);
    const end = Math.max(start + 1, spanEnd - this.prefix);
    let i = this.lineStarts.length - 1;
    while (i > 0 && this.lineStarts[i]! > start) i--;
    const lineStart = this.lineStarts[i]!;
    const nextStart = i + 1 < this.lineStarts.length ? this.lineStarts[i + 1]! : this.text.length;
    const sourceLine = this.text.slice(lineStart, nextStart).replace(/\r?\n$|\r$/, '');
    const lineEnd = lineStart + sourceLine.length;
    return {
      file: this.file,
      line: i + 1,
      column: start - lineStart + 1,
      sourceLine,
      length: Math.max(1, Math.min(end, lineEnd) - start),
    };
  }

  /** Throw the user error `code` at `node`. */
  fail(code: DiagnosticCode, node: Node, detail: string, hint?: string): never {
    return this.failSpan(code, node.getStart(), node.getEnd(), detail, hint);
  }

  /** Throw the user error `code` at a span of the parsed text. */
  failSpan(code: DiagnosticCode, start: number, end: number, detail: string, hint?: string): never {
    throw new KvforgeError(code, detail, { location: this.locateSpan(start, end), ...(hint === undefined ? {} : { hint }) });
  }
}

/** A node's text on one line, shortened, for quoting in a message. */
export function snippet(node: Node, max = 40): string {
  const text = node.getText().replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
