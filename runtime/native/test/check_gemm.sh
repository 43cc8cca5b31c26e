#!/bin/sh
# Build check_gemm.cpp in three instruction-set flavours and run each:
#   runtime/native/test/check_gemm.sh [out-dir] [seed]      (default /tmp/kvforge-gemm-tests)
# native (-march=native: AVX-512 where the machine has it), AVX2 (-march=native -DKVF_NO_AVX512,
# the same as native on an AVX2-only machine) and portable scalar (no -march). KVF_SANITIZE=1 adds
# ASan + UBSan. Exit status: the first failing flavour's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${1:-/tmp/kvforge-gemm-tests}
seed=${2:-7}
mkdir -p "$out"
san=""
[ "${KVF_SANITIZE:-0}" = "1" ] && san="-O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
srcs="$here/check_gemm.cpp $native/src/model_gemm.cpp $native/src/model_decoder.cpp $native/src/thread_pool.cpp"
build() {
  g++ -std=c++17 -O3 $1 $san -fno-math-errno -Wall -Wextra -I"$native/include" -pthread -o "$out/check_gemm_$2" $srcs
}
build "-march=native" native &
p1=$!
build "-march=native -DKVF_NO_AVX512" avx2 &
p2=$!
build "" scalar &
p3=$!
wait $p1
wait $p2
wait $p3
for f in native avx2 scalar; do "$out/check_gemm_$f" "$seed"; done
