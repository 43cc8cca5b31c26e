/**
 * Build progress: events the build emits, and a renderer for a terminal. The library is silent
 * unless asked (`onProgress`, or KVFORGE_PROGRESS=1 for the terminal renderer); the CLI installs
 * the renderer. On a TTY it keeps one updating line; elsewhere (CI logs, pipes) it writes one line
 * when a build starts and one when it ends. A cached build says nothing: nothing was built.
 */
export type BuildEvent =
  /** Something will be compiled: `what` is kvforge's core library or an addon of `kernels`; `files` are the sources it compiles. */
  | { readonly kind: 'start'; readonly what: 'core' | 'addon'; readonly key: string; readonly kernels: readonly string[]; readonly files: readonly string[] }
  /**
   * The build reported `file` (a kernel file name, or a core source), step `done` of `total`.
   * Ninja (which cmake-js uses when it is installed) reports a step when it has finished; Make
   * reports it when it starts.
   */
  | { readonly kind: 'compiled'; readonly what: 'core' | 'addon'; readonly file: string; readonly done: number; readonly total: number; readonly seconds: number }
  | { readonly kind: 'link'; readonly what: 'core' | 'addon'; readonly seconds: number }
  | { readonly kind: 'done'; readonly what: 'core' | 'addon'; readonly key: string; readonly seconds: number; readonly ok: boolean }
  /** Served from the cache: nothing compiled. */
  | { readonly kind: 'cached'; readonly what: 'core' | 'addon'; readonly key: string; readonly kernels: readonly string[] };

interface Stream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const label = (what: 'core' | 'addon', kernels: readonly string[]): string =>
  what === 'core' ? "kvforge's core library" : kernels.length === 0 ? 'an addon with no kernels' : `${kernels.length} kernel file(s): ${kernels.join(', ')}`;

/** A renderer of build events onto `stream` (default stderr). */
export function terminalProgress(stream: Stream = process.stderr): (e: BuildEvent) => void {
  let line = '';
  let timer: ReturnType<typeof setInterval> | undefined;
  // An addon's build may start the core's inside it: one timer while any build runs, each its own clock.
  const started = new Map<string, number>();
  const pending = new Map<string, string[]>();
  let current = '';
  const draw = (): void => {
    // Shorten the description, never the elapsed time.
    const time = ` ${((performance.now() - (started.get(current) ?? performance.now())) / 1000).toFixed(1)} s`;
    const room = Math.max(10, (stream.columns || 100) - 1 - time.length); // 0 columns: a pty without a size
    stream.write(`\r\x1b[K${line.length > room ? `${line.slice(0, room - 1)}…` : line}${time}`);
  };
  const done = (e: BuildEvent & { kind: 'done' }): string =>
    `kvforge: ${e.ok ? 'built' : 'failed to build'} ${e.what === 'core' ? "kvforge's core library" : 'the addon'} ${e.key} in ${e.seconds.toFixed(1)} s\n`;
  return (e) => {
    if (e.kind === 'cached') return;
    if (!stream.isTTY) {
      if (e.kind === 'start') stream.write(`kvforge: building ${label(e.what, e.kernels)} (${e.key})\n`);
      if (e.kind === 'done') stream.write(done(e));
      return;
    }
    if (e.kind === 'start') {
      started.set(e.what, performance.now());
      pending.set(e.what, [...e.files]);
      current = e.what;
      line = `kvforge: building ${label(e.what, e.kernels)}`;
      timer ??= setInterval(draw, 250);
      timer.unref();
    } else if (e.kind === 'compiled') {
      current = e.what;
      const left = (pending.get(e.what) ?? []).filter((f) => f !== e.file.replace(/ \(emulated\)$/, ''));
      pending.set(e.what, left);
      line = `kvforge: building ${e.what === 'core' ? 'core' : 'addon'} [${e.done}/${e.total}] ${left.length > 0 ? `compiling ${left.join(', ')}` : 'finishing'}`;
    } else if (e.kind === 'link') {
      current = e.what;
      line = `kvforge: linking ${e.what === 'core' ? 'core' : 'addon'}`;
    } else if (e.kind === 'done') {
      started.delete(e.what);
      stream.write(`\r\x1b[K${done(e)}`);
      if (started.size === 0) {
        clearInterval(timer);
        timer = undefined;
      } else {
        current = [...started.keys()][0]!;
        line = `kvforge: building ${current === 'core' ? 'core' : 'addon'}`;
      }
      return;
    }
    draw();
  };
}

let defaultReporter: ((e: BuildEvent) => void) | undefined;

/** Report every build that has no `onProgress` of its own through `reporter` (the CLI does). */
export function setDefaultProgress(reporter: ((e: BuildEvent) => void) | undefined): void {
  defaultReporter = reporter;
}

export function progressFor(onProgress: ((e: BuildEvent) => void) | undefined): (e: BuildEvent) => void {
  if (onProgress) return onProgress;
  if (defaultReporter) return defaultReporter;
  if (process.env.KVFORGE_PROGRESS === '1') return (defaultReporter = terminalProgress());
  return () => {};
}
