#!/bin/sh
# Build the C++ correctness check and the kernel benchmark (no Node involved):
#   runtime/native/test/build_tests.sh [out-dir]     (default /tmp/kvforge-native-tests)
# then run <out-dir>/check_kernel and <out-dir>/bench_kernel.
# Set KVF_NATIVE=0 for a portable (scalar fallback) build.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${1:-/tmp/kvforge-native-tests}
mkdir -p "$out"
arch="-march=native"
[ "${KVF_NATIVE:-1}" = "0" ] && arch=""
flags="-std=c++17 -O3 $arch -fno-math-errno -Wall -Wextra -I$native/include -pthread"
core="$native/src/registry.cpp $native/src/thread_pool.cpp $native/src/probes.cpp"
kernels=$(ls "$here"/kernels/*.cpp)
g++ $flags -o "$out/check_kernel" "$here/check_kernel.cpp" $core $kernels
g++ $flags -o "$out/bench_kernel" "$here/bench_kernel.cpp" $core $kernels
echo "built $out/check_kernel $out/bench_kernel"
