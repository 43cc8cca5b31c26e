// attend(kernelId, backend, cache, a, sync): attention of ragged query rows over a KV cache read
// in place (kernel interface v2, kvforge/attn_args.hpp). `a`:
//   q        Float32Array [rows][Hq][D]   (rows = max over b of rowStart[b] + rowCount[b])
//   qpos     Int32Array [rows]            position of each query row
//   rowStart, rowCount  Int32Array [B]    sequence b's rows (count 0: it takes no part)
//   Hq, scale, params (Float64Array), threads
//   out, lse Float32Array [rows][Hq][Dv], [rows][Hq]: required with sync, optional otherwise
// sync = true runs on the calling thread and writes out/lse before returning (no copies, no
// allocation on the CPU: the decode path of a serving loop); otherwise the inputs are copied and
// a promise resolves with { out, lse } (new arrays unless given... given ones are written only
// after the call completes, from the main thread).
#pragma once
#include <napi.h>

namespace kvf::napi {

Napi::Value attend(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
