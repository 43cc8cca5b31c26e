// attend(kernelId, backend, cache, a): attention of ragged query rows over a KV cache read in
// place (kernel interface v2, kvforge/attn_args.hpp), asynchronously. `a`:
//   qpos     Int32Array [rows]            position of each query row (its length is the call's rows)
//   q        Float32Array [rows][Hq][D]
//   rowStart, rowCount  Int32Array [B]    sequence b's rows, inside [0, rows) (count 0: it takes no part)
//   Hq, scale, params (Float64Array), threads
// The inputs are copied, the call runs on a libuv worker, and the promise resolves with new
// { out, lse } arrays ([rows][Hq][Dv], [rows][Hq]; rows no sequence owns stay 0); the
// cache refuses changes until the call is done. The synchronous, in-place form is AttendPlan
// (napi_attend_plan.hpp).
#pragma once
#include <napi.h>

namespace kvf::napi {

Napi::Value attend(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
