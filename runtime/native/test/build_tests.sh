#!/bin/sh
# Build the C++ correctness check and the kernel benchmark (no Node involved):
#   runtime/native/test/build_tests.sh [out-dir]     (default /tmp/kvforge-native-tests)
# then run <out-dir>/check_kernel and <out-dir>/bench_kernel. specs/native-harness.test.ts runs
# the check in `npm test` (and sanitized in `npm run test:asan`).
# Environment:
#   KVF_NATIVE=0     portable (scalar fallback) build instead of -march=native
#   KVF_SANITIZE=1   -fsanitize=address,undefined (no recovery): any report fails the check
#   KVF_CHECK_ONLY=1 build check_kernel only
# The core and the kernels are compiled once, in parallel, and linked into both programs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${1:-/tmp/kvforge-native-tests}
mkdir -p "$out/obj"
arch="-march=native"
[ "${KVF_NATIVE:-1}" = "0" ] && arch=""
opt="-O3"
san=""
if [ "${KVF_SANITIZE:-0}" = "1" ]; then
  opt="-O1 -g1"
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
fi
flags="-std=c++17 $opt $arch $san -fno-math-errno -Wall -Wextra -I$native/include -pthread"
programs="check_kernel"
[ "${KVF_CHECK_ONLY:-0}" = "1" ] || programs="check_kernel bench_kernel"
sources="$native/src/registry.cpp $native/src/thread_pool.cpp $native/src/probes.cpp $(ls "$here"/kernels/*.cpp)"
for p in $programs; do sources="$sources $here/$p.cpp"; done
pids=""
objs=""
for f in $sources; do
  o="$out/obj/$(basename "$(dirname "$f")")_$(basename "$f" .cpp).o"
  g++ $flags -c "$f" -o "$o" &
  pids="$pids $!"
  case "$f" in */check_kernel.cpp | */bench_kernel.cpp) ;; *) objs="$objs $o" ;; esac
done
for p in $pids; do wait "$p"; done
for p in $programs; do
  g++ $flags -o "$out/$p" "$out/obj/test_$p.o" $objs
done
echo "built $(for p in $programs; do printf '%s ' "$out/$p"; done)"
