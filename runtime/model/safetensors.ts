/**
 * The safetensors file format (Hugging Face): 8 bytes little-endian header length N, N bytes of
 * JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`, then
 * the data, each tensor at [8 + N + begin, 8 + N + end), row-major, little-endian.
 *
 * Written here, small and strict, because the registry has no maintained parser of local files
 * (`safetensors` on npm is a one-version stub without a repository; @huggingface/hub parses the
 * header of files on the hub only). Every rule of the format is checked, so a truncated or
 * corrupted file is KVF4014 naming the file and what is wrong, never garbage weights: the header
 * length fits the file; the header is a JSON object; each entry has a known dtype, a shape of
 * non-negative integers and offsets whose length matches; tensors neither overlap nor leave gaps,
 * and end exactly at the end of the file.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { roundBf16 } from '../verify/dtype.ts';

export type SafeDType = 'F32' | 'F16' | 'BF16';
const BYTES: Readonly<Record<SafeDType, number>> = { F32: 4, F16: 2, BF16: 2 };
/** Largest header accepted (the format's reference implementation caps it at 100 MB). */
const MAX_HEADER = 100_000_000;

export interface Tensor {
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** The values widened to float32. */
  readonly data: Float32Array;
}

/** Read every tensor of a file (all widened to float32). */
export function readSafetensors(file: string): Map<string, Tensor> {
  const fail = (detail: string): never => {
    throw new KvforgeError('KVF4014', `${file}: ${detail}`, { hint: 'the file is not a complete safetensors file: write it again (safetensors.torch.save_file)' });
  };
  // Read through a descriptor, tensor by tensor: shards beyond 2 GiB (Node's limit on one
  // buffer; Hugging Face's default shard is 5 GB) load, and nothing is read twice.
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    return fail(`cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return readOpen(fd, fstatSync(fd).size, fail);
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, at: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let done = 0; done < bytes;) {
    const n = readSync(fd, b, done, bytes - done, at + done);
    if (n === 0) throw new Error('unexpected end of file');
    done += n;
  }
  return b;
}

function readOpen(fd: number, size: number, fail: (detail: string) => never): Map<string, Tensor> {
  if (size < 8) fail(`holds ${size} bytes, fewer than the 8 of the header length`);
  const n = readAt(fd, 0, 8).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER)) fail(`says its header is ${n} bytes, more than the format's limit of ${MAX_HEADER} (corrupted, or not safetensors)`);
  if (n > BigInt(size - 8)) fail(`says its header is ${n} bytes, but ${size - 8} bytes follow the length (truncated, or not safetensors)`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readAt(fd, 8, headerLen)));
  } catch (e) {
    return fail(`header is not ${e instanceof SyntaxError ? 'JSON' : 'UTF-8'} (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const meta = (header as Record<string, unknown>).__metadata__;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta) || !Object.values(meta).every((v) => typeof v === 'string'))) {
    fail("'__metadata__' is not an object of strings");
  }
  const dataStart = 8 + headerLen, dataLen = size - dataStart;
  const entries: Array<{ name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}' is not an object`);
    const dtype = e!.dtype as SafeDType;
    if (!(typeof dtype === 'string' && Object.hasOwn(BYTES, dtype))) fail(`tensor '${name}' has dtype ${JSON.stringify(e!.dtype)}; kvforge reads F32, F16 and BF16`);
    const shape = e!.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    const off = e!.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(`tensor '${name}' has data_offsets ${JSON.stringify(off)}, not [begin, end] with 0 <= begin <= end`);
    }
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    if ((off as number[])[1] - (off as number[])[0] !== count * BYTES[dtype]) {
      fail(`tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${count * BYTES[dtype]} bytes, its offsets span ${(off as number[])[1] - (off as number[])[0]}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin: (off as number[])[0], end: (off as number[])[1] });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) fail(e.begin < at ? `tensor '${e.name}' overlaps the tensor before it` : `a gap of ${e.begin - at} bytes lies before tensor '${e.name}'`);
    at = e.end;
  }
  if (at !== dataLen) fail(at > dataLen ? `its tensors need ${at} bytes of data, the file holds ${dataLen} (truncated)` : `${dataLen - at} bytes follow the last tensor`);
  const out = new Map<string, Tensor>();
  for (const e of entries) out.set(e.name, { dtype: e.dtype, shape: e.shape, data: widen(readAt(fd, dataStart + e.begin, e.end - e.begin), 0, e.end - e.begin, e.dtype) });
  return out;
}

function widen(buf: Buffer, at: number, bytes: number, dtype: SafeDType): Float32Array {
  const n = bytes / BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(at + 4 * i);
  else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = buf.readUInt16LE(at + 2 * i) << 16;
  } else for (let i = 0; i < n; i++) out[i] = halfToFloat(buf.readUInt16LE(at + 2 * i));
  return out;
}

/** IEEE binary16 bits to a number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Write tensors as F32 or BF16 (rounded to nearest even), in the order given. */
export function writeSafetensors(file: string, tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, dtype: 'F32' | 'BF16' = 'F32'): void {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + at);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let o = 8 + json.length;
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (const t of tensors.values()) {
    for (const x of t.data) {
      if (dtype === 'F32') out.writeFloatLE(x, o), o += 4;
      else {
        f[0] = roundBf16(x); // exact in bf16: its upper 16 bits are the value
        out.writeUInt16LE(Number.isNaN(x) ? 0x7fc0 : u[0] >>> 16, o);
        o += 2;
      }
    }
  }
  // Written beside the file and renamed into place: a killed write leaves no half file under the name.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, out);
  renameSync(tmp, file);
}
