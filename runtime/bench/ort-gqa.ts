/**
 * The peer side of `kvforge bench`: onnxruntime-node's CPU `GroupQueryAttention` (domain
 * `com.microsoft`), i.e. what a Node user would reach for today to run grouped-query attention.
 *
 * The one-node ONNX graph is built with the maintained `onnx-proto` protobufjs classes. Inputs and
 * outputs use kvforge's `[B, H, L, D]` layout; the runner transposes to and from GQA's
 * `[B, S, H*D]` layout outside the timed region (`prepare` / `run`), so `runPrepared` times only
 * `session.run`.
 *
 * GQA contract used here (com.microsoft, opset 1):
 * - inputs: query `[B, S, Hq*D]`, key/value `[B, S, Hkv*D]`, past_key/past_value `[B, Hkv, P, D]`
 *   (optional; empty name when absent), seqlens_k int32 `[B]` (= total_sequence_length - 1, *not*
 *   the total), total_sequence_length int32 scalar;
 * - attributes: num_heads, kv_num_heads, scale, local_window_size (only when a window is asked
 *   for), do_rotary = 0;
 * - outputs: output `[B, S, Hq*D]`, present_key/present_value `[B, Hkv, P + S, D]`.
 * The CPU kernel requires D to be a multiple of 8 and S of query == S of key/value.
 *
 * Decode runs in ORT's plain (non-shared-buffer) past/present mode, the one the API offers without
 * IO binding: each call zeroes a present buffer and copies the whole past into it before attending,
 * and that cost is part of what the peer is timed on. Only `output` is fetched back to JS.
 *
 * @module
 */
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/** One attention shape to run on the ORT peer. */
export interface OrtGqaCase {
  /** Batch size. */
  B: number;
  /** Query heads. */
  Hq: number;
  /** Key/value heads; must divide `Hq` (query head `h` reads kv head `h / (Hq / Hkv)`). */
  Hkv: number;
  /** Head dimension (ORT's CPU kernel wants a multiple of 8). */
  D: number;
  /** Query length: `Lq == Lk` is a causal prefill, `Lq == 1` a decode step over `Lk` keys. */
  Lq: number;
  /** Key/value length. */
  Lk: number;
  /**
   * Sliding window in kvforge semantics: query `q` sees keys `q - window < k <= q` (window keys,
   * itself included), positions aligned bottom-right; a positive integer (see
   * {@link ortLocalWindowSize}). Omit for plain causal attention. Note ORT's CPU kernel still
   * computes the full `Lq x Lk` score GEMM and only zeroes probabilities outside the window.
   */
  window?: number;
  /** ORT intra-op threads (inter-op is fixed at 1). */
  threads: number;
  /**
   * Decode only: the total length of each batch row (a ragged batch, each <= Lk), fed as
   * `seqlens_k = seqlens - 1`; the past buffers keep Lk - 1 slots per row. Omit: every row Lk.
   */
  seqlens?: Int32Array;
}

/** One input set in kvforge layout: q `[B,Hq,Lq,D]`, k/v `[B,Hkv,Lk,D]`. */
export interface OrtGqaInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

/** A live ORT session specialised to one {@link OrtGqaCase}. */
export interface OrtGqaRunner {
  /**
   * Convenience (untimed) path: converts layouts, runs once, returns out `[B,Hq,Lq,D]` in kvforge
   * layout.
   */
  run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<Float32Array>;
  /**
   * Builds the ORT tensors for each input set ahead of time (layout conversion happens here). Replaces
   * any earlier prepared sets.
   */
  prepare(inputs: OrtGqaInputs[]): void;
  /**
   * Runs prepared set `i % prepared.length`: only `session.run` (fetching just `output`). Meant to be
   * timed.
   */
  runPrepared(i: number): Promise<void>;
  /** Frees the native session. */
  release(): Promise<void>;
}

/**
 * ORT's `local_window_size` for a kvforge window of `window` keys (itself included).
 *
 * In onnxruntime 1.30's CPU kernel `local_window_size = W` keeps exactly `W` keys per query
 * (`q - W < k <= q`), i.e. kvforge's semantics, so the value passes through unchanged; this was
 * checked numerically (specs/bench-ort.test.ts). Older ORT CPU kernels kept `W + 1` keys, and
 * `local_window_size` <= 0 meant "no window" there, so the mapping is pinned by that test. The
 * attribute is left out (ORT default -1, no window) when no window is asked for.
 */
export function ortLocalWindowSize(window: number): number {
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`window must be a positive integer, got ${window}`);
  }
  return window;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT32 = onnx.TensorProto.DataType.INT32;

/** A tensor value; a string dim is symbolic (`dimParam`). */
function valueInfo(name: string, elemType: number, dims: Array<number | string>): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            onnx.TensorShapeProto.Dimension.create(typeof d === 'string' ? { dimParam: d } : { dimValue: d }),
          ),
        }),
      }),
    }),
  });
}

function intAttr(name: string, i: number): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

function checkCase(c: OrtGqaCase): void {
  const { B, Hq, Hkv, D, Lq, Lk, threads } = c;
  for (const [k, v] of Object.entries({ B, Hq, Hkv, D, Lq, Lk, threads })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`OrtGqaCase.${k} must be a positive integer, got ${v}`);
  }
  if (Hq % Hkv !== 0) throw new RangeError(`Hq (${Hq}) must be a multiple of Hkv (${Hkv})`);
  if (D % 8 !== 0) throw new RangeError(`ORT's CPU GroupQueryAttention needs D % 8 == 0, got D = ${D}`);
  if (Lq !== Lk && Lq !== 1) throw new RangeError(`only prefill (Lq == Lk) or decode (Lq == 1) are supported, got Lq=${Lq} Lk=${Lk}`);
  if (c.window !== undefined) ortLocalWindowSize(c.window);
}

/** True when the case runs as a decode step (one query, past of `Lk - 1` keys). */
function isDecode(c: OrtGqaCase): boolean {
  return c.Lq === 1 && c.Lk > 1;
}

/**
 * Serialises the one-node GQA model for a case (IR version 8, opsets `""` 17 and `com.microsoft` 1).
 * Exposed for tests and for saving the model next to benchmark results.
 */
export function buildGqaModel(c: OrtGqaCase): Uint8Array {
  checkCase(c);
  const { B, Hq, Hkv, D, Lq, Lk } = c;
  const decode = isDecode(c);
  const S = Lq;
  const P = decode ? Lk - 1 : 0;
  const inputs = [
    valueInfo('query', FLOAT, [B, S, Hq * D]),
    valueInfo('key', FLOAT, [B, S, Hkv * D]),
    valueInfo('value', FLOAT, [B, S, Hkv * D]),
  ];
  if (decode) {
    inputs.push(valueInfo('past_key', FLOAT, [B, Hkv, P, D]), valueInfo('past_value', FLOAT, [B, Hkv, P, D]));
  }
  inputs.push(valueInfo('seqlens_k', INT32, [B]), valueInfo('total_sequence_length', INT32, []));
  const attribute = [
    intAttr('num_heads', Hq),
    intAttr('kv_num_heads', Hkv),
    onnx.AttributeProto.create({ name: 'scale', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 / Math.sqrt(D) }),
    intAttr('do_rotary', 0),
  ];
  if (c.window !== undefined) attribute.push(intAttr('local_window_size', ortLocalWindowSize(c.window)));
  const node = onnx.NodeProto.create({
    name: 'gqa',
    opType: 'GroupQueryAttention',
    domain: 'com.microsoft',
    input: [
      'query', 'key', 'value',
      decode ? 'past_key' : '', decode ? 'past_value' : '',
      'seqlens_k', 'total_sequence_length',
    ],
    output: ['output', 'present_key', 'present_value'],
    attribute,
  });
  const graph = onnx.GraphProto.create({
    name: 'kvforge_ort_gqa',
    node: [node],
    input: inputs,
    output: [
      valueInfo('output', FLOAT, [B, S, Hq * D]),
      // ORT's shape inference gives present the *past* buffer's length when a past is fed (it assumes
      // a max-length shared buffer), while the CPU kernel allocates max(total, past): leave it symbolic.
      valueInfo('present_key', FLOAT, [B, Hkv, 'present_len', D]),
      valueInfo('present_value', FLOAT, [B, Hkv, 'present_len', D]),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'kvforge',
    opsetImport: [
      onnx.OperatorSetIdProto.create({ domain: '', version: 17 }),
      onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }),
    ],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** `[B, H, L, D]` rows `l0 .. l0+n` -> `[B, n, H*D]`. */
function toBSHD(x: Float32Array, B: number, H: number, L: number, D: number, l0: number, n: number): Float32Array {
  const out = new Float32Array(B * n * H * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < n; l++) {
        const src = ((b * H + h) * L + l0 + l) * D;
        out.set(x.subarray(src, src + D), ((b * n + l) * H + h) * D);
      }
    }
  }
  return out;
}

/** `[B, H, L, D]` rows `0 .. n` -> `[B, H, n, D]`. */
function headPrefix(x: Float32Array, B: number, H: number, L: number, D: number, n: number): Float32Array {
  const out = new Float32Array(B * H * n * D);
  for (let bh = 0; bh < B * H; bh++) out.set(x.subarray(bh * L * D, bh * L * D + n * D), bh * n * D);
  return out;
}

/** `[B, S, H*D]` -> `[B, H, S, D]`. */
function fromBSHD(x: Float32Array, B: number, H: number, S: number, D: number): Float32Array {
  const out = new Float32Array(B * H * S * D);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      for (let h = 0; h < H; h++) {
        const src = ((b * S + s) * H + h) * D;
        out.set(x.subarray(src, src + D), ((b * H + h) * S + s) * D);
      }
    }
  }
  return out;
}

/**
 * Creates an ORT CPU session for a case: intraOpNumThreads = `threads`, interOpNumThreads = 1,
 * graphOptimizationLevel 'all', executionProviders ['cpu'].
 */
export async function createOrtGqa(c: OrtGqaCase): Promise<OrtGqaRunner> {
  const model = buildGqaModel(c);
  const { B, Hq, Hkv, D, Lq, Lk } = c;
  const decode = isDecode(c);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: c.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Errors only: with a past fed, ORT's shape inference types present_* with the past's length and
    // warns about the mismatch on every run that fetches them. No effect on what is computed.
    logSeverityLevel: 3,
    // No spin-waiting after a run: in a side-by-side benchmark ORT's idle threads would otherwise
    // keep spinning on both cores while the next contender runs, slowing whatever runs after ORT.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  // seqlens_k is total_sequence_length - 1 (ORT's convention), one per batch row.
  const seqlensK = new ort.Tensor('int32', c.seqlens ? Int32Array.from(c.seqlens, (n) => n - 1) : new Int32Array(B).fill(Lk - 1), [B]);
  const totalLen = new ort.Tensor('int32', Int32Array.of(Lk), []);
  const qLen = B * Hq * Lq * D;
  const kvLen = B * Hkv * Lk * D;

  const feedsFor = ({ q, k, v }: OrtGqaInputs): Record<string, ort.Tensor> => {
    if (q.length !== qLen) throw new RangeError(`q has ${q.length} elements, expected ${qLen} ([B,Hq,Lq,D])`);
    if (k.length !== kvLen || v.length !== kvLen) throw new RangeError(`k/v need ${kvLen} elements ([B,Hkv,Lk,D])`);
    const S = Lq;
    const l0 = Lk - S; // the new key/value rows; the rest (decode only) is the past
    const feeds: Record<string, ort.Tensor> = {
      query: new ort.Tensor('float32', toBSHD(q, B, Hq, Lq, D, 0, S), [B, S, Hq * D]),
      key: new ort.Tensor('float32', toBSHD(k, B, Hkv, Lk, D, l0, S), [B, S, Hkv * D]),
      value: new ort.Tensor('float32', toBSHD(v, B, Hkv, Lk, D, l0, S), [B, S, Hkv * D]),
      seqlens_k: seqlensK,
      total_sequence_length: totalLen,
    };
    if (decode) {
      const P = Lk - 1;
      feeds.past_key = new ort.Tensor('float32', headPrefix(k, B, Hkv, Lk, D, P), [B, Hkv, P, D]);
      feeds.past_value = new ort.Tensor('float32', headPrefix(v, B, Hkv, Lk, D, P), [B, Hkv, P, D]);
    }
    return feeds;
  };

  let prepared: Array<Record<string, ort.Tensor>> = [];
  const fetches = ['output'];

  return {
    async run(q, k, v) {
      const res = await session.run(feedsFor({ q, k, v }), fetches);
      const out = res.output.data as Float32Array;
      return fromBSHD(out, B, Hq, Lq, D);
    },
    prepare(inputs) {
      if (inputs.length === 0) throw new RangeError('prepare needs at least one input set');
      prepared = inputs.map(feedsFor);
    },
    async runPrepared(i) {
      if (prepared.length === 0) throw new Error('runPrepared called before prepare');
      await session.run(prepared[i % prepared.length], fetches);
    },
    async release() {
      prepared = [];
      await session.release();
    },
  };
}
