#!/bin/sh
# Checks of the per-backend memory (src/memory_*.cpp, src/cuda/memory_cuda.cu) and the KV cache
# kernels (src/cache_*.cpp, src/cuda/cache_cuda.cu, include/kvforge/cache_slots.hpp), no Node:
#   runtime/native/cache-test/run.sh [out-dir]          (default /tmp/kvforge-cache-tests)
# 1. g++: the CPU backend and the .cu sources compiled as host C++ against the emulator
#    (backend "cuda-emu"), checked against a plain C++ model (check_cache.cpp): in the emulator's
#    forward thread order, then the emulated backend again in the reverse and a shuffled order (the
#    truncation's read/write barrier is what those would catch), and once more from a build whose
#    grids are capped at 2 blocks (KVF_CACHE_MAX_BLOCKS=2), so every grid-stride loop runs.
# 2. nvcc: the .cu sources compiled as device code for sm_80 and sm_90 (no spills allowed), then
#    linked into one binary with their emulated copies and the CPU backend (static cudart), as
#    the addon links them: the emulated backend is checked from it (the two copies do not clash),
#    and the "cuda" backend too when a device answers (else its error message is checked).
# Environment: CUDA_HOME (default /usr/local/cuda), NVCC (default nvcc on PATH, else
# $CUDA_HOME/bin/nvcc), SEED (default 20260601), CASES (random cases per backend and dtype,
# default 40), SKIP_NVCC=1 to skip step 2 (also skipped, and said so, without nvcc),
# KVF_SANITIZE=1 to build step 1 with -fsanitize=address,undefined.
#   <out-dir>/check_cache --bench   prints the CPU timings (append one token, truncate 4096 -> 1024).
# specs/native-harness.test.ts runs this in `npm test`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${1:-/tmp/kvforge-cache-tests}
cuda=${CUDA_HOME:-/usr/local/cuda}
nvcc=${NVCC:-$(command -v nvcc || echo "$cuda/bin/nvcc")}
seed=${SEED:-20260601}
cases=${CASES:-40}
mkdir -p "$out/obj" "$out/nvcc"
cxx="g++ -std=c++17 -O2 -Wall -Wextra -Werror -pthread -I$native/include"
if [ "${KVF_SANITIZE:-0}" = "1" ]; then
  cxx="$cxx -O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  # check_cache asks for 2^62 bytes on purpose (the allocation-failure message)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1"
fi
emu="-x c++ -include kvforge/emu/cuda_emu.hpp -I$cuda/include"
core="memory_registry memory_cpu cache_registry cache_cpu cache_policy_cpu thread_pool"
cus="memory_cuda cache_cuda cache_policy_cuda"

# first_line LOG CMD...: run CMD into LOG, print its first summary line (ASan's warning about the
# 2^62-byte request may come first); fail (with the log) when CMD fails.
first_line() {
  log=$1; shift
  if "$@" > "$log" 2>&1; then grep -m 1 "^check_cache" "$log" || head -n 1 "$log"; else cat "$log"; echo "FAIL $*"; exit 1; fi
}

# 1. g++ builds and the checks ------------------------------------------------------------------
start=$(date +%s)
pids=""
for f in $core; do  # -O3 -march=native, as the addon compiles the core (the --bench figures)
  $cxx -O3 -march=native -c "$native/src/$f.cpp" -o "$out/obj/$f.o" &
  pids="$pids $!"
done
for f in $cus; do
  $cxx $emu -c "$native/src/cuda/$f.cu" -o "$out/obj/$f.emu.o" &
  pids="$pids $!"
done
for f in cache_cuda cache_policy_cuda; do
  $cxx $emu -DKVF_CACHE_MAX_BLOCKS=2 -c "$native/src/cuda/$f.cu" -o "$out/obj/$f.grid2.emu.o" &
  pids="$pids $!"
done
$cxx -c "$here/check_cache.cpp" -o "$out/obj/check_cache.o"
for p in $pids; do wait "$p"; done
objs=""
for f in $core; do objs="$objs $out/obj/$f.o"; done
emuobjs="$out/obj/memory_cuda.emu.o $out/obj/cache_cuda.emu.o $out/obj/cache_policy_cuda.emu.o"
$cxx -o "$out/check_cache" "$out/obj/check_cache.o" $objs $emuobjs
$cxx -o "$out/check_cache_grid2" "$out/obj/check_cache.o" $objs "$out/obj/memory_cuda.emu.o" "$out/obj/cache_cuda.grid2.emu.o" "$out/obj/cache_policy_cuda.grid2.emu.o"
echo "built in $(( $(date +%s) - start )) s"

env KVF_EMU_SCHEDULE=forward "$out/check_cache" --seed "$seed" --cases "$cases"
echo "schedule reverse:"
first_line "$out/reverse.log" env KVF_EMU_SCHEDULE=reverse "$out/check_cache" --backend cuda-emu --seed "$((seed + 1))" --cases "$cases" --quick
echo "schedule shuffle:$seed:"
first_line "$out/shuffle.log" env KVF_EMU_SCHEDULE=shuffle:$seed "$out/check_cache" --backend cuda-emu --seed "$((seed + 2))" --cases "$cases"
echo "grids capped at 2 blocks (shuffled):"
first_line "$out/grid2.log" env KVF_EMU_SCHEDULE=shuffle:$((seed + 3)) "$out/check_cache_grid2" --backend cuda-emu --seed "$((seed + 3))" --cases "$cases" --quick

# 2. nvcc ---------------------------------------------------------------------------------------
use_nvcc=1
if [ "${SKIP_NVCC:-0}" = "1" ]; then
  use_nvcc=0
  echo "nvcc: skipped (SKIP_NVCC=1)"
elif ! command -v "$nvcc" > /dev/null 2>&1; then
  use_nvcc=0
  echo "nvcc: not found ($nvcc): device compilation not checked"
fi
if [ $use_nvcc = 0 ]; then
  echo "cache-test: all passed (without nvcc)"
  exit 0
fi
pids=""
for f in $cus; do
  "$nvcc" -std=c++17 -O3 -I"$native/include" -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
    -Xptxas -v -c "$native/src/cuda/$f.cu" -o "$out/nvcc/$f.o" 2> "$out/nvcc/$f.ptxas.txt" &
  pids="$pids $!"
done
for p in $pids; do wait "$p" || { cat "$out"/nvcc/*.ptxas.txt | grep -v "^ptxas info\|bytes stack frame\|Compiling entry\|Function properties" >&2; echo "FAIL nvcc"; exit 1; }; done
kernels=$(grep -c "Compiling entry function" "$out"/nvcc/*.ptxas.txt | awk -F: '{ n += $2 } END { print n }')
spills=$(grep "bytes stack frame" "$out"/nvcc/*.ptxas.txt | grep -v " 0 bytes spill stores, 0 bytes spill loads" || true)
if [ -n "$spills" ]; then
  echo "$spills"
  echo "FAIL register spills ($out/nvcc/*.ptxas.txt)"
  exit 1
fi
maxregs=$(grep -o "Used [0-9]* registers" "$out"/nvcc/*.ptxas.txt | awk '{ if ($2 > m) m = $2 } END { print m }')
echo "nvcc: $cus compiled for sm_80 and sm_90 ($kernels kernel compilations, no spills, at most $maxregs registers)"
$cxx -o "$out/check_cache_both" "$out/obj/check_cache.o" $objs $emuobjs \
  "$out"/nvcc/*.o -L"$cuda/lib64" -lcudart_static -ldl -lrt
first_line "$out/both.log" "$out/check_cache_both" --backend cuda-emu --seed "$seed" --cases "$cases" --quick
# The "cuda" backend: checked when a device answers, else its error message (check_cache says which).
if "$out/check_cache_both" --backend cuda --seed "$seed" --cases "$cases" > "$out/cuda.log" 2>&1; then
  grep -v "^check_cache: all passed" "$out/cuda.log"
else
  cat "$out/cuda.log"; echo "FAIL check_cache_both --backend cuda"; exit 1
fi
echo "cache-test: all passed"
