// attend(kernelId, backend, cache, a, sync): attention of ragged query rows over a KV cache read
// in place (kernel interface v2, kvforge/attn_args.hpp). `a`:
//   q        Float32Array [rows][Hq][D]   (rows = max over b of rowStart[b] + rowCount[b])
//   qpos     Int32Array [rows]            position of each query row
//   rowStart, rowCount  Int32Array [B]    sequence b's rows (count 0: it takes no part)
//   Hq, scale, params (Float64Array), threads
//   out, lse [rows][Hq][Dv], [rows][Hq]: with sync only (Float32Arrays or f32 NativeBuffers)
// q may also be an f32 NativeBuffer of the kernel's backend, with sync only.
// sync = true runs on the calling thread and writes out/lse before returning: no copies, and on a
// host-addressable target no allocation (the decode path of a serving loop); argument errors
// throw. Otherwise the inputs are copied, the call runs on a libuv worker, and the promise
// resolves with new { out, lse } arrays (rows of sequences with no rows stay 0); the cache
// refuses changes until the call is done.
#pragma once
#include <napi.h>

namespace kvf::napi {

Napi::Value attend(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
