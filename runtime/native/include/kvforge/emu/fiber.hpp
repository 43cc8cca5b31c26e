// Execution contexts for emulated CUDA threads: prepare one on a stack, switch between two.
//
// x86-64 (SysV): a user-space switch in assembly, no system call. It saves what the ABI makes
// callee-saved (rbx, rbp, r12-r15, rsp, the MXCSR and x87 control words) on the old stack, stores
// rsp, loads the new one and restores the same set: about 20 instructions. glibc's swapcontext
// also saves the signal mask with a system call on every switch, which is why it is not used.
// Elsewhere, or with KVF_EMU_FORCE_UCONTEXT, or when the code is built for CET shadow stacks
// (a plain `ret` onto another stack would fault; glibc's ucontext handles them), ucontext is used.
//
// Rules the callers keep (scheduler/block.hpp):
// - a context never returns from its entry function; it switches away for the last time with
//   jumpFinal();
// - no C++ exception ever unwinds across a switch: a fiber catches everything at its entry.
//
// AddressSanitizer: switches are announced with __sanitizer_start/finish_switch_fiber, so ASan
// knows which stack is current (needed for exceptions thrown on a fiber and for fake stacks).
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && !defined(KVF_EMU_FORCE_UCONTEXT) && !(defined(__CET__) && (__CET__ & 2))
#define KVF_EMU_ASM_SWITCH 1
#else
#define KVF_EMU_ASM_SWITCH 0
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define KVF_EMU_ASAN 1
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#else
#define KVF_EMU_ASAN 0
#endif

namespace kvf::emu::detail {

using ContextEntry = void (*)(void* arg);

struct Context {
#if KVF_EMU_ASM_SWITCH
  void* sp = nullptr;  // saved stack pointer; the registers lie on the stack below it
#else
  ucontext_t uc;
  ContextEntry entry = nullptr;
  void* arg = nullptr;
#endif
#if KVF_EMU_ASAN
  const void* stackBottom = nullptr;  // bounds of the stack this context runs on
  size_t stackSize = 0;
  void* fakeStack = nullptr;
#endif
};

}  // namespace kvf::emu::detail

#if KVF_EMU_ASM_SWITCH
// kvf_emu_ctx_switch(void** saveSp, void* loadSp): suspend the caller into *saveSp, resume loadSp.
// kvf_emu_ctx_start: where a prepared context's first switch "returns" to; calls r13(r12) and
// never returns (ud2). Its CFI marks the end of the call chain for debuggers and unwinders.
// Both live in COMDAT groups, so every translation unit may carry them and the linker keeps one.
// The switch returns with `ret`, not `pop; jmp`: fibers of a block are suspended at the same call
// sites, so the return-stack predictor's guess (the suspending fiber's return address) is right,
// and the call/return pairs stay balanced for the rets that follow.
extern "C" void kvf_emu_ctx_switch(void** saveSp, void* loadSp);
extern "C" void kvf_emu_ctx_start();
asm(R"(
  .pushsection .text.kvf_emu_ctx_switch,"axG",@progbits,kvf_emu_ctx_switch,comdat
  .weak kvf_emu_ctx_switch
  .hidden kvf_emu_ctx_switch
  .type kvf_emu_ctx_switch,@function
  .p2align 4
kvf_emu_ctx_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kvf_emu_ctx_switch, .-kvf_emu_ctx_switch
  .popsection

  .pushsection .text.kvf_emu_ctx_start,"axG",@progbits,kvf_emu_ctx_start,comdat
  .weak kvf_emu_ctx_start
  .hidden kvf_emu_ctx_start
  .type kvf_emu_ctx_start,@function
  .p2align 4
kvf_emu_ctx_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size kvf_emu_ctx_start, .-kvf_emu_ctx_start
  .popsection
)");
#endif

namespace kvf::emu::detail {

#if !KVF_EMU_ASM_SWITCH
// makecontext passes int arguments only: the Context pointer travels as two halves.
inline void ucontextStart(unsigned hi, unsigned lo) {
  auto* c = reinterpret_cast<Context*>((uintptr_t(hi) << 32) | uintptr_t(lo));
  c->entry(c->arg);
}
#endif

// Make `c` start entry(arg) on the stack [bottom, bottom + size) at its first resumption. The
// stack top is lowered by `colorBytes` (a multiple of 64): the tops of many equally sized stacks
// otherwise all map to the same L1 cache set.
inline void prepareContext(Context& c, char* bottom, size_t size, size_t colorBytes, ContextEntry entry,
                           void* arg) {
#if KVF_EMU_ASAN
  c.stackBottom = bottom;
  c.stackSize = size;
  c.fakeStack = nullptr;
#endif
#if KVF_EMU_ASM_SWITCH
  const uintptr_t top = (reinterpret_cast<uintptr_t>(bottom) + size - colorBytes) & ~uintptr_t(15);
  // The frame kvf_emu_ctx_switch pops, lowest address first: control words, r15, r14, r13, r12,
  // rbx, rbp, return address; then two zero words so that rsp is 16-byte aligned after `ret`
  // and the entry function sees the ABI's alignment after kvf_emu_ctx_start's call.
  auto* frame = reinterpret_cast<uint64_t*>(top - 10 * sizeof(uint64_t));
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  frame[0] = uint64_t(mxcsr) | (uint64_t(fpucw) << 32);
  frame[1] = 0;                                     // r15
  frame[2] = 0;                                     // r14
  frame[3] = reinterpret_cast<uint64_t>(entry);     // r13
  frame[4] = reinterpret_cast<uint64_t>(arg);       // r12
  frame[5] = 0;                                     // rbx
  frame[6] = 0;                                     // rbp
  frame[7] = reinterpret_cast<uint64_t>(&kvf_emu_ctx_start);
  frame[8] = 0;
  frame[9] = 0;
  c.sp = frame;
#else
  (void)colorBytes;
  c.entry = entry;
  c.arg = arg;
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = bottom;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(&c);
  makecontext(&c.uc, reinterpret_cast<void (*)()>(&ucontextStart), 2, unsigned(p >> 32), unsigned(p));
#endif
}

// Suspend the running context into `from` and resume `to`; returns when something resumes `from`.
inline void jump(Context& from, Context& to) {
#if KVF_EMU_ASAN
  __sanitizer_start_switch_fiber(&from.fakeStack, to.stackBottom, to.stackSize);
#endif
#if KVF_EMU_ASM_SWITCH
  kvf_emu_ctx_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
#if KVF_EMU_ASAN
  __sanitizer_finish_switch_fiber(from.fakeStack, nullptr, nullptr);
#endif
  // Whatever the other contexts wrote (shared memory, warp slots) must be re-read.
  asm volatile("" ::: "memory");
}

// Leave the running context for good (its stack may be reused at once) and resume `to`.
[[noreturn]] inline void jumpFinal(Context& from, Context& to) {
#if KVF_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, to.stackBottom, to.stackSize);
#endif
#if KVF_EMU_ASM_SWITCH
  kvf_emu_ctx_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
  __builtin_trap();  // never resumed
}

// Record the bounds of the calling OS thread's own stack in `c` (ASan needs them to switch back).
inline void adoptThreadStack(Context& c) {
#if KVF_EMU_ASAN
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    c.stackBottom = addr;
    c.stackSize = size;
    pthread_attr_destroy(&attr);
  }
#else
  (void)c;
#endif
}

// First thing a context's entry function does.
inline void contextStarted() {
#if KVF_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace kvf::emu::detail
