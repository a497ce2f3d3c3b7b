// cuda_emu.h — host emulation of the CUDA execution model, for TESTS ONLY (docs/gpu.md, "Testing without a
// GPU"). The CUDA backends (surrogates/*/*_cuda.cu) are rewritten by cu_to_cc.py into host C++ and compiled by
// g++ against the fake cuda_runtime.h / cublas_v2.h / cusolverDn.h of this folder, so that their logic (index
// arithmetic, column-major layouts, leading dimensions, stream ordering, synchronization before reading results)
// is tested on every machine. Nothing here is fast or shipped.
//
// Execution model:
//   - Device memory is host memory, registered by cudaMalloc (filled with 0xff bytes: NaN doubles, −1 ints, so
//     that reading memory nobody wrote shows). Copies, memsets and cuBLAS/cuSOLVER calls check that every device
//     range they touch lies inside one live allocation and that host/device directions are right; a violation
//     (a real GPU's illegal address or silent corruption) prints one line and aborts the process.
//   - Work is deferred: kernels, async copies and library calls go into their stream's queue and run only when
//     something waits for them (cudaStreamSynchronize, cudaDeviceSynchronize, a synchronous cudaMemcpy on the
//     legacy stream, cudaFree), so a host read of results before the synchronization sees stale data here too.
//     Streams created with cudaStreamNonBlocking do not order with the legacy default stream (as on a GPU).
//   - A grid runs its blocks one after another (ascending, and descending every other launch, so that results
//     that depend on the order of blocks differ). A kernel that never calls __syncthreads runs its threads as a
//     loop (in the same direction); one that does is rewritten into a C++20 coroutine (co_await at each
//     __syncthreads), and the block's threads run round-robin between barriers (ascending and descending thread
//     order alternately), with checks that every thread reaches the same barrier (divergent barriers abort).
//     Coroutines rather than one OS thread per GPU thread: a reduction launch of 240 blocks × 128 threads would
//     create 30,000 threads, and the schedule stays deterministic and sanitizer-friendly.
//   - Static __shared__ arrays are function statics (one per kernel; launches are serialized); extern
//     __shared__ arrays point into a per-launch buffer of exactly the dynamic size of the launch.
// What it cannot show: real concurrency and warp-level behaviour (races between threads of a phase, atomics
// contention, warp shuffles), memory limits, timing.
#pragma once

#include <cmath>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
typedef struct CUstream_st* cudaStream_t;

// Plain globals, not thread_local: kernels run only inside the runtime's stream flushes, which hold its mutex, so
// one launch runs at a time (and thread_local access in a dlopen'ed library costs a call per read).
inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace bbo_emu {

struct LaunchConfig {
  dim3 grid, block;
  size_t shared_bytes = 0;
  cudaStream_t stream = nullptr;
};
// The text between <<< and >>> becomes the arguments of this call (cu_to_cc.py).
inline LaunchConfig config(dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return LaunchConfig{grid, block, shared_bytes, stream};
}

[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

namespace detail {
void* frame_alloc(size_t bytes);
void frame_free(void* p, size_t bytes);
}  // namespace detail

// The coroutine type of a kernel that calls __syncthreads (cu_to_cc.py rewrites its return type to this and
// each __syncthreads() into co_await ::bbo_emu::Barrier{__LINE__}).
struct BlockTask {
  struct promise_type {
    int barrier_line = 0;  // the __syncthreads the thread waits at (0: not waiting)
    BlockTask get_return_object() { return BlockTask{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { fatal("a kernel thread threw a C++ exception"); }
    // Frames come from a per-thread free list: a launch creates and destroys one per GPU thread.
    static void* operator new(size_t bytes) { return detail::frame_alloc(bytes); }
    static void operator delete(void* p, size_t bytes) { detail::frame_free(p, bytes); }
  };
  explicit BlockTask(std::coroutine_handle<promise_type> h) : handle(h) {}
  BlockTask(BlockTask&& o) noexcept : handle(std::exchange(o.handle, {})) {}
  BlockTask(const BlockTask&) = delete;
  BlockTask& operator=(const BlockTask&) = delete;
  BlockTask& operator=(BlockTask&&) = delete;
  ~BlockTask() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};

struct Barrier {
  int line;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<BlockTask::promise_type> h) const noexcept { h.promise().barrier_line = line; }
  void await_resume() const noexcept {}
};

namespace detail {
// Validates the launch configuration (records cudaErrorInvalidConfiguration/-Value for cudaGetLastError and
// returns false when it is not launchable), as the CUDA runtime does at launch time.
bool begin_launch(const char* kernel, int line, const LaunchConfig& cfg);
// Queues `op` on `stream` (nullptr: the legacy default stream); it runs when the stream is synchronized.
void enqueue(cudaStream_t stream, std::function<void()> op);
// The dynamic shared memory of the running launch (fatal when the launch gave none).
void* dynamic_shared(size_t element_size, const char* name);
// Per launch: allocates the dynamic shared buffer; per block: fills it with 0xff.
struct LaunchScope {
  LaunchScope(const char* kernel, int line, const LaunchConfig& cfg);
  ~LaunchScope();
  void begin_block();
  bool descending() const { return descending_; }

 private:
  bool descending_ = false;
};
}  // namespace detail

template <class T>
T* dynamic_shared(const char* name) {
  return static_cast<T*>(detail::dynamic_shared(sizeof(T), name));
}

// The scheduler itself is not instrumented by AddressSanitizer (it is most of the emulation's time); the kernels
// it runs are.
template <class R, class... P, class Tuple>
__attribute__((no_sanitize("address"))) void run_grid(const char* kernel_name, int line, const LaunchConfig& cfg, R (*kernel)(P...), Tuple& params) {
  detail::LaunchScope scope(kernel_name, line, cfg);
  gridDim = cfg.grid;
  blockDim = cfg.block;
  const dim3 g = cfg.grid, b = cfg.block;
  const size_t threads = static_cast<size_t>(b.x) * b.y * b.z;
  const size_t blocks = static_cast<size_t>(g.x) * g.y * g.z;
  // Every other launch runs its blocks (and the threads of a barrier-free kernel) in descending order, so that
  // a result that depends on the order of blocks or threads (a race on a GPU) differs between launches.
  const bool descending = scope.descending();
  for (size_t k = 0; k < blocks; ++k) {
    const size_t bi = descending ? blocks - 1 - k : k;
    const unsigned bx = static_cast<unsigned>(bi % g.x), by = static_cast<unsigned>((bi / g.x) % g.y),
                   bz = static_cast<unsigned>(bi / (static_cast<size_t>(g.x) * g.y));
    blockIdx = uint3{bx, by, bz};
    scope.begin_block();
    auto thread_index = [&](size_t t) {
      threadIdx = uint3{static_cast<unsigned>(t % b.x), static_cast<unsigned>((t / b.x) % b.y),
                        static_cast<unsigned>(t / (static_cast<size_t>(b.x) * b.y))};
    };
    if constexpr (std::is_void_v<R>) {
      for (size_t k2 = 0; k2 < threads; ++k2) {
        thread_index(descending ? threads - 1 - k2 : k2);
        std::apply(kernel, params);  // each thread gets its own copies of the parameters
      }
    } else {
      static_assert(std::is_same_v<R, BlockTask>, "a kernel returns void");
      std::vector<BlockTask> task;
      task.reserve(threads);
      for (size_t t = 0; t < threads; ++t) {
        thread_index(t);
        task.push_back(std::apply(kernel, params));  // suspended before its first statement
      }
      for (int phase = 0;; ++phase) {
        size_t done = 0;
        int line_first = 0;
        for (size_t j = 0; j < threads; ++j) {
          const size_t t = (phase % 2 == 0) != descending ? j : threads - 1 - j;
          thread_index(t);
          auto& h = task[t].handle;
          h.promise().barrier_line = 0;
          h.resume();
          if (h.done()) {
            ++done;
          } else if (line_first == 0) {
            line_first = h.promise().barrier_line;
          } else if (h.promise().barrier_line != line_first) {
            fatal("kernel %s (line %d): block (%u,%u,%u): threads wait at different __syncthreads (lines %d and %d)",
                  kernel_name, line, bx, by, bz, line_first, h.promise().barrier_line);
          }
        }
        if (done == threads) break;
        if (done > 0)
          fatal("kernel %s (line %d): block (%u,%u,%u): %zu threads exited while %zu wait at __syncthreads "
                "(line %d): divergent barrier",
                kernel_name, line, bx, by, bz, done, threads - done, line_first);
      }
    }
  }
}

// kernel<<<cfg>>>(args...): converts the arguments to the kernel's parameter types now (as CUDA does) and
// queues the grid on the launch's stream.
template <class R, class... P, class... A>
void launch(const char* kernel_name, int line, const LaunchConfig& cfg, R (*kernel)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  if (!detail::begin_launch(kernel_name, line, cfg)) return;
  std::tuple<std::decay_t<P>...> params(static_cast<std::decay_t<P>>(std::forward<A>(args))...);
  detail::enqueue(cfg.stream, [kernel_name, line, cfg, kernel, params]() mutable {
    run_grid(kernel_name, line, cfg, kernel, params);
  });
}

// cu_to_cc.py turns `kernel<<<cfg>>>` into launcher(...): its call operator takes the launch's arguments.
template <class R, class... P>
struct Launcher {
  const char* kernel_name;
  int line;
  LaunchConfig cfg;
  R (*kernel)(P...);
  template <class... A>
  void operator()(A&&... args) const {
    launch(kernel_name, line, cfg, kernel, std::forward<A>(args)...);
  }
};
template <class R, class... P>
Launcher<R, P...> launcher(const char* kernel_name, int line, const LaunchConfig& cfg, R (*kernel)(P...)) {
  return Launcher<R, P...>{kernel_name, line, cfg, kernel};
}

}  // namespace bbo_emu

// Called from a kernel that cu_to_cc.py did not turn into a coroutine (e.g. from a __device__ helper).
[[noreturn]] inline void __syncthreads() {
  bbo_emu::fatal("__syncthreads() outside a kernel body (the emulation supports it only directly in a __global__ function)");
}

// Device-side functions the backends use that have no host counterpart.
template <class T>
inline T atomicAdd(T* address, T value) {
  const T old = *address;  // one OS thread runs a whole launch: no concurrent update
  *address = old + value;
  return old;
}
template <class T>
inline T atomicMax(T* address, T value) {
  const T old = *address;
  if (value > old) *address = value;
  return old;
}
template <class T>
inline T atomicMin(T* address, T value) {
  const T old = *address;
  if (value < old) *address = value;
  return old;
}
template <class T>
inline T atomicExch(T* address, T value) {
  const T old = *address;
  *address = value;
  return old;
}
template <class T>
inline T atomicCAS(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}
// CUDA's global min/max overloads (same-type arguments).
#define BBO_EMU_MINMAX(T)                          \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
BBO_EMU_MINMAX(int)
BBO_EMU_MINMAX(unsigned)
BBO_EMU_MINMAX(long)
BBO_EMU_MINMAX(unsigned long)
BBO_EMU_MINMAX(long long)
BBO_EMU_MINMAX(unsigned long long)
BBO_EMU_MINMAX(float)
BBO_EMU_MINMAX(double)
#undef BBO_EMU_MINMAX
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
