#!/bin/sh
# Build and run the CUDA emulator tests (g++ only, no GPU, no Node):
#   runtime/native/emu-test/run.sh [--asan] [--ucontext] [--nvcc] [--bench] [--all]
# Always: the tests at -O2 under the forward, reverse and shuffled schedules.
#   --ucontext  also build and run them on the ucontext fallback instead of the assembly switch
#   --asan      also build and run them with -fsanitize=address,undefined
#   --asan-only only that (what `npm run test:asan` runs; `npm test` runs the default build)
#   --nvcc      also compile every test .cu with nvcc (sm_80): the kernels are real CUDA
#   --bench     build and run the micro-benchmark (bench.cu)
#   --all       all of the above
# Exits non-zero when a build or a test fails. Output: $KVF_EMU_TEST_OUT (default /tmp/kvf-emu-test).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(dirname "$here")
out=${KVF_EMU_TEST_OUT:-/tmp/kvf-emu-test}
cuda=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$out"

asan=0 ucontext=0 nvcc=0 bench=0 default=1
for arg in "$@"; do
  case "$arg" in
    --asan) asan=1 ;;
    --asan-only) asan=1 default=0 ;;
    --ucontext) ucontext=1 ;;
    --nvcc) nvcc=1 ;;
    --bench) bench=1 ;;
    --all) asan=1 ucontext=1 nvcc=1 bench=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

tests="barriers shuffles shared atomics errors fp16 launch"
common="-std=c++17 -Wall -Wextra -Werror -I$native/include -I$cuda/include -pthread"
# How the addon compiles a .cu for the emulator: as C++, the emulator header force-included.
emu="-x c++ -include kvforge/emu/cuda_emu.hpp"

# build NAME FLAGS...: every test .cu and main.cpp into $out/NAME/emu_tests (objects in parallel).
build() {
  name=$1; shift
  dir="$out/$name"
  mkdir -p "$dir"
  pids=""
  for t in $tests; do
    g++ $common "$@" $emu -c "$here/$t.cu" -o "$dir/$t.o" &
    pids="$pids $!"
  done
  g++ $common "$@" -c "$here/main.cpp" -o "$dir/main.o" &
  pids="$pids $!"
  for p in $pids; do wait "$p"; done
  objs=""
  for t in $tests; do objs="$objs $dir/$t.o"; done
  g++ $common "$@" -o "$dir/emu_tests" $objs "$dir/main.o"
}

run() {
  echo "== $1"
  shift
  "$@"
}

if [ $default = 1 ]; then
  build default -O2
  run "tests (schedule: forward)" env KVF_EMU_SCHEDULE=forward KVF_EMU_TEST_SHOW_MESSAGES=1 "$out/default/emu_tests"
  run "tests (schedule: reverse)" env KVF_EMU_SCHEDULE=reverse "$out/default/emu_tests"
  run "tests (schedule: shuffle:7)" env KVF_EMU_SCHEDULE=shuffle:7 "$out/default/emu_tests"
fi

if [ $ucontext = 1 ]; then
  build ucontext -O2 -DKVF_EMU_FORCE_UCONTEXT
  run "tests (ucontext fallback)" "$out/ucontext/emu_tests"
fi

if [ $asan = 1 ]; then
  build asan -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  # The caller's options (e.g. a log_path) are kept; leaks are checked: this program is all ours.
  run "tests (ASan + UBSan, schedule: forward)" env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" \
    KVF_EMU_SCHEDULE=forward KVF_EMU_TEST_SHOW_MESSAGES=1 "$out/asan/emu_tests"
  run "tests (ASan + UBSan, schedule: shuffle:7)" env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" \
    KVF_EMU_SCHEDULE=shuffle:7 "$out/asan/emu_tests"
fi

if [ $nvcc = 1 ]; then
  echo "== nvcc -arch=sm_80: test kernels compile as CUDA"
  for t in $tests bench; do
    "$cuda/bin/nvcc" -std=c++17 -arch=sm_80 -I"$native/include" -c "$here/$t.cu" -o "$out/$t.nvcc.o"
    echo "  ok   $t.cu"
  done
fi

if [ $bench = 1 ]; then
  g++ -std=c++17 -O2 -Wall -Wextra -I"$native/include" -I"$cuda/include" -pthread $emu "$here/bench.cu" \
    -o "$out/emu_bench"
  g++ -std=c++17 -O2 -Wall -Wextra -I"$native/include" -I"$cuda/include" -pthread -DKVF_EMU_FORCE_UCONTEXT $emu \
    "$here/bench.cu" -o "$out/emu_bench_ucontext"
  run "micro-benchmark (assembly switch)" "$out/emu_bench"
  run "micro-benchmark (ucontext fallback, for comparison)" "$out/emu_bench_ucontext"
fi
echo "emu-test: all passed"
