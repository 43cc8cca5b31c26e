#!/bin/sh
# Checks of the CUDA kernel templates (include/kvforge/cuda/), no Node involved:
#   runtime/native/cuda-test/run.sh [out-dir]          (default /tmp/kvforge-cuda-tests)
# 1. Resources: nvcc compiles kernels/*.cu and resource_matrix.cu (every head dim x dtype x
#    mask/score combination) for sm_80 and sm_90; ptxas's registers and spills are tabulated in
#    <out>/resources.txt and any spill fails the run.
# 2. Emulated correctness: kernels/*.cu and test_backend.cu compiled as host C++ against the
#    emulator (kvforge/emu/cuda_emu.hpp) and checked against the float64 reference (check_cuda.cpp),
#    in the emulator's default thread order with the device reporting as many SMs as the emulator
#    has OS threads, and in a shuffled order with 132 SMs (an H100's count: more key splits).
# 3. One binary with both compilations of the same kernels (nvcc objects + emulated objects,
#    static cudart), as the addon links them: the emulated backend is checked again from it, which
#    shows the two copies do not clash, and the real GPU is checked when one is present.
# Environment: CUDA_HOME (default /usr/local/cuda), NVCC (default nvcc on PATH, else
# $CUDA_HOME/bin/nvcc), SEED (check seed), SKIP_RESOURCES=1 to skip step 1, SKIP_NVCC=1 to skip
# steps 1 and 3 (also skipped, and said so, when there is no nvcc), KVF_SANITIZE=1 to build step 2
# with -fsanitize=address,undefined (the emulator and the kernel templates instrumented),
# KVF_CHECK_SMALL=1 to check the big shapes' NaN cases only (see check_cuda.cpp).
# specs/native-harness.test.ts runs this in `npm test` (step 2 sanitized in `npm run test:asan`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${1:-/tmp/kvforge-cuda-tests}
cuda=${CUDA_HOME:-/usr/local/cuda}
nvcc=${NVCC:-$(command -v nvcc || echo "$cuda/bin/nvcc")}
seed=${SEED:-20240611}
mkdir -p "$out/emu" "$out/nvcc" "$out/ptxas"
kernels=$(ls "$here"/kernels/*.cu)
cxx="g++ -std=c++17 -O2 -Wall -Wextra -pthread -I$native/include -I$cuda/include"
if [ "${KVF_SANITIZE:-0}" = "1" ]; then
  cxx="$cxx -O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
fi
use_nvcc=1
if [ "${SKIP_NVCC:-0}" = "1" ]; then
  use_nvcc=0
  echo "nvcc: skipped (SKIP_NVCC=1): steps 1 and 3 not run"
elif ! command -v "$nvcc" > /dev/null 2>&1; then
  use_nvcc=0
  echo "nvcc: not found ($nvcc): steps 1 and 3 not run"
fi
nvflags="-std=c++17 -O3 -I$native/include -diag-suppress 177"  # 177: mask()/score() unused

# 1. Resources -------------------------------------------------------------------------------
if [ "${SKIP_RESOURCES:-0}" != "1" ] && [ $use_nvcc = 1 ]; then
  pids=""
  for arch in sm_80 sm_90; do
    for f in $kernels "$here/resource_matrix.cu"; do
      name=$(basename "$f" .cu)
      "$nvcc" $nvflags -arch="$arch" -Xptxas -v -c "$f" -o "$out/ptxas/${arch}_$name.o" \
        2> "$out/ptxas/${arch}_$name.txt" &
      pids="$pids $!"
    done
  done
  for p in $pids; do wait "$p" || { cat "$out"/ptxas/*.txt | grep -i error; echo "FAIL nvcc"; exit 1; }; done
  # One line per kernel: arch, registers, spill stores/loads, stack, kernel (demangled).
  for t in "$out"/ptxas/*.txt; do
    awk '/Compiling entry function/ { fn = $7; gsub("\x27", "", fn); arch = $9; gsub("[\x27.]", "", arch) }
         /bytes stack frame/ { stack = $1; st = $5; ld = $9 }
         /Used [0-9]+ registers/ { print arch, $5, st "/" ld, stack, fn }' "$t"
  done | while read -r arch regs spill stack fn; do
    pretty=$(echo "$fn" | c++filt | sed -e 's/^void kvf::cuda::\([A-Za-z]*\)<\(.*\)>(.*$/\1<\2>/' \
      -e 's/(anonymous namespace):://g')
    printf '%-6s regs %3s  spill %-7s stack %-4s %s\n' "$arch" "$regs" "$spill" "$stack" "$pretty"
  done | sort -k9 > "$out/resources.txt"
  count=$(wc -l < "$out/resources.txt")
  spills=$(awk '$5 != "0/0"' "$out/resources.txt")
  if [ -n "$spills" ]; then
    echo "$spills"
    echo "FAIL register spills (full table: $out/resources.txt)"
    exit 1
  fi
  maxregs=$(awk '{ if ($3 > m) m = $3 } END { print m }' "$out/resources.txt")
  echo "resources: $count kernels at sm_80/sm_90, no spills, at most $maxregs registers ($out/resources.txt)"
fi

# 2. Emulated correctness --------------------------------------------------------------------
pids=""
for f in $kernels "$here/test_backend.cu"; do
  $cxx -x c++ -include kvforge/emu/cuda_emu.hpp -c "$f" -o "$out/emu/$(basename "$f" .cu).o" &
  pids="$pids $!"
done
$cxx -c "$here/check_cuda.cpp" -o "$out/check_cuda.o"
for p in $pids; do wait "$p"; done
$cxx -o "$out/check_cuda_emu" "$out/check_cuda.o" "$out"/emu/*.o
"$out/check_cuda_emu" cuda-emu "$seed"
# first_line LOG CMD...: run CMD into LOG, print its first line; fail (with the log) when CMD
# fails. (A plain `CMD | head -n 1` would take head's exit status and hide a failure.)
first_line() {
  log=$1; shift
  if "$@" > "$log" 2>&1; then head -n 1 "$log"; else cat "$log"; echo "FAIL $*"; exit 1; fi
}
# Again with the block's threads started and released in a shuffled order: a missing barrier
# then changes results (a race-free kernel's never do).
first_line "$out/shuffled.log" env KVF_EMU_SCHEDULE=shuffle:$seed KVF_EMU_SMS=132 "$out/check_cuda_emu" cuda-emu "$seed"

# 3. Both compilations in one binary; the GPU when there is one ------------------------------
if [ $use_nvcc = 0 ]; then
  echo "cuda-test: all passed (emulated only)"
  exit 0
fi
pids=""
for f in $kernels "$here/test_backend.cu"; do
  "$nvcc" $nvflags -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
    -c "$f" -o "$out/nvcc/$(basename "$f" .cu).o" &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
$cxx -o "$out/check_cuda_both" "$out/check_cuda.o" "$out"/emu/*.o "$out"/nvcc/*.o \
  -L"$cuda/lib64" -lcudart_static -ldl -lrt
first_line "$out/both.log" "$out/check_cuda_both" cuda-emu "$seed"
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi > /dev/null 2>&1; then
  "$out/check_cuda_both" cuda "$seed"
else
  echo "cuda: no GPU here, the real-device check was skipped"
fi
echo "cuda-test: all passed"
