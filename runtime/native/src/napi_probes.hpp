// probeFma / probeRead: the machine-limit probes (kvforge/probes.hpp) as promise-returning
// exports, run off the main thread.
#pragma once
#include <napi.h>

namespace kvf::napi {

// JS: probeFma(threads: number, seconds: number): Promise<number>   (GFLOP/s)
Napi::Value probeFma(const Napi::CallbackInfo& info);

// JS: probeRead(threads: number, bytes?: number | NativeBuffer, seconds?: number): Promise<number>   (GB/s)
//     (a cpu f32 NativeBuffer the caller has written is read in place: no allocation per probe)
// bytes defaults to 256 MiB, seconds to 0.5.
Napi::Value probeRead(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
