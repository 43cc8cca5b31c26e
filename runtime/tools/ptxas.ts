/**
 * What ptxas says about the functions it compiled (`nvcc --resource-usage` or `-Xptxas -v`), and
 * which kvforge kernel template a demangled __global__ function is.
 *
 * ptxas prints, per entry (__global__) function:
 *   ptxas info    : Compiling entry function '<mangled>' for 'sm_80'
 *   ptxas info    : Function properties for <mangled>
 *       0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
 *   ptxas info    : Used 168 registers, used 1 barriers, 4096 bytes smem, 560 bytes cmem[0]
 * (smem, cmem and "cumulative stack size" appear only when non-zero or on some archs), and for a
 * device function that was not inlined only the "Function properties" block.
 */

export interface PtxasFunction {
  readonly mangled: string;
  /** A __global__ function ("Compiling entry function"); false: a non-inlined device function. */
  readonly entry: boolean;
  /** The arch ptxas compiled it for ("sm_80"); for device functions, the arch of the entry before. */
  readonly arch: string;
  /** Registers per thread; null for device functions (ptxas reports them with their callers). */
  readonly registers: number | null;
  readonly barriers: number;
  /** Static shared memory per block, in bytes. */
  readonly staticSmem: number;
  readonly stackFrame: number;
  readonly spillStores: number;
  readonly spillLoads: number;
}

const ENTRY = /Compiling entry function '([^']+)' for '(sm_\w+)'/;
const PROPS = /Function properties for (\S+)/;
const FRAME = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/;
const USED = /Used (\d+) registers/;

interface Draft {
  mangled: string;
  entry: boolean;
  arch: string;
  registers: number | null;
  barriers: number;
  staticSmem: number;
  stackFrame: number;
  spillStores: number;
  spillLoads: number;
  hasFrame: boolean;
}

/**
 * Every function of a ptxas report, in the order ptxas printed them. Throws when the text is not
 * what ptxas prints (an entry without its register line or its stack-frame line).
 */
export function parsePtxasResources(text: string): PtxasFunction[] {
  const out: Draft[] = [];
  const byKey = new Map<string, Draft>();
  let entry: Draft | undefined;  // the entry function being compiled
  let props: Draft | undefined;  // the function whose "Function properties" block is open
  let arch = '';
  const draft = (mangled: string, isEntry: boolean): Draft => {
    const key = `${arch}\0${mangled}`;
    let d = byKey.get(key);
    if (!d) {
      d = { mangled, entry: isEntry, arch, registers: null, barriers: 0, staticSmem: 0, stackFrame: 0, spillStores: 0, spillLoads: 0, hasFrame: false };
      byKey.set(key, d);
      out.push(d);
    }
    if (isEntry) d.entry = true;
    return d;
  };
  for (const line of text.split(/\r?\n/)) {
    let m: RegExpExecArray | null;
    if ((m = ENTRY.exec(line))) {
      arch = m[2]!;
      entry = draft(m[1]!, true);
      props = undefined;
    } else if ((m = PROPS.exec(line))) {
      props = draft(m[1]!, entry?.mangled === m[1]);
    } else if ((m = FRAME.exec(line))) {
      if (!props) throw new Error(`ptxas output: a stack-frame line outside a "Function properties" block: ${line.trim()}`);
      props.stackFrame = Number(m[1]);
      props.spillStores = Number(m[2]);
      props.spillLoads = Number(m[3]);
      props.hasFrame = true;
      props = undefined;
    } else if ((m = USED.exec(line))) {
      if (!entry) throw new Error(`ptxas output: a "Used ... registers" line before any entry function: ${line.trim()}`);
      entry.registers = Number(m[1]);
      entry.barriers = Number(/used (\d+) barriers/.exec(line)?.[1] ?? 0);
      entry.staticSmem = Number(/(\d+) bytes smem/.exec(line)?.[1] ?? 0);
    }
  }
  for (const d of out) {
    if (d.entry && d.registers === null) throw new Error(`ptxas output: no "Used ... registers" line for entry function ${d.mangled}`);
    if (!d.hasFrame) throw new Error(`ptxas output: no stack-frame line for function ${d.mangled}`);
  }
  return out.map(({ hasFrame: _, ...f }) => f);
}

/** A kvforge kernel template, recognised from its demangled name. */
export type KernelRole =
  | { readonly role: 'prefill' | 'mass'; readonly variant: string }
  | { readonly role: 'decode'; readonly variant: string; readonly rows: number }
  | { readonly role: 'merge'; readonly headDim: number; readonly storage: string };

const STORAGE_NAMES: Readonly<Record<string, string>> = { float: 'f32', __half: 'f16', __nv_bfloat16: 'bf16' };

/** Top-level comma-separated template arguments of `a<b, c<d, e>>`-style text. */
function splitTemplateArgs(s: string): string[] {
  const args: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      args.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  args.push(s.slice(start).trim());
  return args;
}

/** The last `::` component of a qualified name, outside any parentheses: `(anonymous namespace)::X` -> X. */
function unqualified(name: string): string {
  return name.replace(/^.*::/, '');
}

/**
 * `void kvf::cuda::decodeKernel<(anonymous namespace)::Variant_x, 16>(...)` -> decode, Variant_x, 16.
 * Null for anything that is not one of the kernel templates of kvforge/cuda/forward.cuh.
 */
export function classifyKernel(demangled: string): KernelRole | null {
  const m = /^void kvf::cuda::(prefillKernel|decodeKernel|decodeMergeKernel|massKernel)<(.*)>\((.*)\)$/.exec(demangled.trim());
  if (!m) return null;
  const args = splitTemplateArgs(m[2]!);
  switch (m[1]) {
    case 'prefillKernel':
      return args.length === 1 ? { role: 'prefill', variant: unqualified(args[0]!) } : null;
    case 'massKernel':
      return args.length === 1 ? { role: 'mass', variant: unqualified(args[0]!) } : null;
    case 'decodeKernel':
      return args.length === 2 && /^\d+$/.test(args[1]!) ? { role: 'decode', variant: unqualified(args[0]!), rows: Number(args[1]) } : null;
    default: {
      const storage = STORAGE_NAMES[args[1] ?? ''];
      return args.length === 2 && /^\d+$/.test(args[0]!) && storage ? { role: 'merge', headDim: Number(args[0]), storage } : null;
    }
  }
}
