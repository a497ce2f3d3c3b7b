// cuda_emu_runtime.cc — the emulated CUDA runtime (cuda_runtime.h, cuda_emu.h): device memory registry, stream
// queues with deferred execution, launch checks. TESTS ONLY; cuda_emu.h states the model.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "cuda_runtime.h"

struct CUevent_st {
  CUstream_st* stream = nullptr;  // where it was last recorded (null: never, or completed)
  bool complete = true;
};

struct CUstream_st {
  bool blocking = true;  // orders with the legacy default stream (cudaStreamDefault)
  std::deque<std::function<void()>> queue;
};

namespace bbo_emu {

void fatal(const char* format, ...) {
  std::fflush(stdout);
  std::fputs("bbo cuda emulation: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::abort();
}

namespace {

constexpr size_t kDeviceMemory = size_t{16} << 30;  // what cudaMemGetInfo reports as the total

// The state lives until the process ends (never destroyed): engines held in statics free their memory late.
std::recursive_mutex& mutex() {
  static auto* m = new std::recursive_mutex;
  return *m;
}
std::map<uintptr_t, size_t>& allocations() {  // base address → bytes
  static auto* a = new std::map<uintptr_t, size_t>;
  return *a;
}
size_t g_used = 0;
CUstream_st& legacy() {  // the legacy default stream (nullptr, cudaStreamLegacy)
  static auto* s = new CUstream_st;
  return *s;
}
std::vector<CUstream_st*>& streams() {  // created streams, in creation order
  static auto* v = new std::vector<CUstream_st*>;
  return *v;
}
thread_local cudaError_t t_last_error = cudaSuccess;
// The running launch (one at a time: kernels run in stream flushes, under mutex()).
unsigned char* t_shared = nullptr;  // its dynamic shared memory
size_t t_shared_bytes = 0;
const char* t_kernel = nullptr;

cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

CUstream_st* resolve(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return &legacy();
  for (CUstream_st* c : streams())
    if (c == s) return c;
  return nullptr;
}

void flush(CUstream_st* s) {
  while (!s->queue.empty()) {
    std::function<void()> op = std::move(s->queue.front());
    s->queue.pop_front();
    op();
  }
}

void flush_all() {
  flush(&legacy());
  for (CUstream_st* c : streams()) flush(c);
}

// The allocation that contains [p, p + bytes), or null.
const std::pair<const uintptr_t, size_t>* find(const void* p, size_t bytes) {
  auto& a = allocations();
  const auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = a.upper_bound(addr);
  if (it == a.begin()) return nullptr;
  --it;
  if (addr + bytes > it->first + it->second || addr >= it->first + std::max<size_t>(it->second, 1)) return nullptr;
  return &*it;
}

bool is_device(const void* p) { return find(p, 0) != nullptr; }

void push(cudaStream_t stream, std::function<void()> op) {
  CUstream_st* s = resolve(stream);
  if (s == &legacy()) {
    for (CUstream_st* c : streams())
      if (c->blocking) flush(c);  // legacy work waits for all earlier work of blocking streams
  } else if (s->blocking) {
    flush(&legacy());  // and blocking streams wait for earlier legacy work
  }
  s->queue.push_back(std::move(op));
}

// Checks a copy's pointers against its kind; returns the error of a bad call (aborts on wrong memory).
cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind& kind, const char* call) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  if (kind == cudaMemcpyDefault)
    kind = is_device(src) ? (is_device(dst) ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                          : (is_device(dst) ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDeviceToDevice) return cudaErrorInvalidMemcpyDirection;
  if (src_dev) require_device(src, bytes, call);
  if (dst_dev) require_device(dst, bytes, call);
  if (!src_dev && is_device(src)) fatal("%s: the source %p is device memory but the kind says host", call, src);
  if (!dst_dev && is_device(dst)) fatal("%s: the destination %p is device memory but the kind says host", call, dst);
  return cudaSuccess;
}

}  // namespace

void require_device(const void* ptr, size_t bytes, const char* what) {
  std::lock_guard lock(mutex());
  if (bytes == 0) return;
  if (find(ptr, bytes)) return;
  if (const auto* a = find(ptr, 0))
    fatal("%s: %zu bytes at %p run %zu bytes past the end of their allocation (%zu bytes at %p)", what, bytes, ptr,
          reinterpret_cast<uintptr_t>(ptr) + bytes - a->first - a->second, a->second,
          reinterpret_cast<const void*>(a->first));
  fatal("%s: %p (%zu bytes) is not device memory (host memory, freed, or never allocated)", what, ptr, bytes);
}

bool valid_stream(cudaStream_t stream) {
  std::lock_guard lock(mutex());
  return resolve(stream) != nullptr;
}

size_t live_allocations() {
  std::lock_guard lock(mutex());
  return allocations().size();
}

namespace detail {

bool begin_launch(const char* kernel, int line, const LaunchConfig& cfg) {
  std::lock_guard lock(mutex());
  (void)kernel;
  (void)line;
  const dim3 g = cfg.grid, b = cfg.block;
  const unsigned long long threads = static_cast<unsigned long long>(b.x) * b.y * b.z;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535 || threads == 0 ||
      threads > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64) {
    record(cudaErrorInvalidConfiguration);
    return false;
  }
  if (cfg.shared_bytes > 48 * 1024) {  // above 48 KiB needs cudaFuncSetAttribute, which no backend uses
    record(cudaErrorInvalidValue);
    return false;
  }
  if (!resolve(cfg.stream)) {
    record(cudaErrorInvalidResourceHandle);
    return false;
  }
  return true;
}

void enqueue(cudaStream_t stream, std::function<void()> op) {
  std::lock_guard lock(mutex());
  if (!resolve(stream)) {
    record(cudaErrorInvalidResourceHandle);
    return;
  }
  push(stream, std::move(op));
}

void* dynamic_shared(size_t element_size, const char* name) {
  if (t_shared_bytes == 0)
    fatal("kernel %s uses extern __shared__ %s but was launched with 0 bytes of dynamic shared memory",
          t_kernel ? t_kernel : "?", name);
  if (t_shared_bytes % element_size != 0)
    fatal("kernel %s: the dynamic shared memory (%zu bytes) is no whole number of %s elements", t_kernel, t_shared_bytes,
          name);
  return t_shared;
}

namespace {
struct FramePool {  // free coroutine frames by size (used under mutex(), as all kernel execution)
  std::map<size_t, std::vector<void*>> free;
  size_t last_bytes = 0;  // the size of the running kernel's frames, and their list
  std::vector<void*>* last = nullptr;
  std::vector<void*>& list(size_t bytes) {
    if (bytes != last_bytes || !last) {
      last = &free[bytes];
      last_bytes = bytes;
    }
    return *last;
  }
};
FramePool& frames() {
  static auto* f = new FramePool;  // never destroyed
  return *f;
}
}  // namespace

void* frame_alloc(size_t bytes) {
  auto& list = frames().list(bytes);
  if (list.empty()) return ::operator new(bytes);
  void* p = list.back();
  list.pop_back();
  return p;
}
void frame_free(void* p, size_t bytes) { frames().list(bytes).push_back(p); }

LaunchScope::LaunchScope(const char* kernel, int, const LaunchConfig& cfg) {
  static unsigned long long launches = 0;
  descending_ = launches++ % 2 == 1;
  t_kernel = kernel;
  t_shared_bytes = cfg.shared_bytes;
  t_shared = cfg.shared_bytes ? new unsigned char[cfg.shared_bytes] : nullptr;  // exact size: ASan sees overruns
}
LaunchScope::~LaunchScope() {
  delete[] t_shared;
  t_shared = nullptr;
  t_shared_bytes = 0;
  t_kernel = nullptr;
}
void LaunchScope::begin_block() {
  if (t_shared) std::memset(t_shared, 0xff, t_shared_bytes);  // shared memory starts undefined (NaN here)
}

}  // namespace detail
}  // namespace bbo_emu

using namespace bbo_emu;

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return record(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* device) {
  if (!device) return record(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  std::lock_guard lock(mutex());
  flush_all();
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  std::lock_guard lock(mutex());
  if (!free || !total) return record(cudaErrorInvalidValue);
  *total = kDeviceMemory;
  *free = kDeviceMemory - g_used;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  std::lock_guard lock(mutex());
  if (!ptr) return record(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (bytes > kDeviceMemory - g_used) return record(cudaErrorMemoryAllocation);
  void* p = std::malloc(bytes);
  if (!p) return record(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, bytes);  // NaN doubles, -1 ints: reading unwritten memory shows
  allocations()[reinterpret_cast<uintptr_t>(p)] = bytes;
  g_used += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  std::lock_guard lock(mutex());
  if (!ptr) return cudaSuccess;
  flush_all();  // cudaFree synchronizes the device
  auto& a = allocations();
  auto it = a.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == a.end()) return record(cudaErrorInvalidDevicePointer);
  g_used -= it->second;
  a.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  std::lock_guard lock(mutex());
  if (!resolve(stream)) return record(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = check_copy(dst, src, bytes, kind, "cudaMemcpy"); e != cudaSuccess) return record(e);
  if (bytes == 0) return cudaSuccess;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyHostToHost) {
    // A pageable host source is staged during the call: the caller may reuse it at once.
    auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                               static_cast<const unsigned char*>(src) + bytes);
    push(stream, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
  } else {
    push(stream, [dst, src, bytes] { std::memmove(dst, src, bytes); });
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  std::lock_guard lock(mutex());
  const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  flush(&legacy());  // synchronous on the legacy stream (not with cudaStreamNonBlocking streams)
  return e;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  std::lock_guard lock(mutex());
  if (!resolve(stream)) return record(cudaErrorInvalidResourceHandle);
  if (bytes == 0) return cudaSuccess;
  require_device(ptr, bytes, "cudaMemset");
  push(stream, [ptr, value, bytes] { std::memset(ptr, value, bytes); });
  return cudaSuccess;
}
cudaError_t cudaMemset(void* ptr, int value, size_t bytes) { return cudaMemsetAsync(ptr, value, bytes, nullptr); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  std::lock_guard lock(mutex());
  if (!stream || (flags & ~cudaStreamNonBlocking) != 0) return record(cudaErrorInvalidValue);
  auto* s = new CUstream_st;
  s->blocking = (flags & cudaStreamNonBlocking) == 0;
  streams().push_back(s);
  *stream = s;
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard lock(mutex());
  CUstream_st* s = resolve(stream);
  if (!s || s == &legacy()) return record(cudaErrorInvalidResourceHandle);
  flush(s);  // queued work still completes
  streams().erase(std::find(streams().begin(), streams().end(), s));
  delete s;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard lock(mutex());
  CUstream_st* s = resolve(stream);
  if (!s) return record(cudaErrorInvalidResourceHandle);
  flush(s);
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

namespace {
std::set<void*>& pinned() {
  static auto* p = new std::set<void*>;
  return *p;
}
std::set<CUevent_st*>& events() {
  static auto* e = new std::set<CUevent_st*>;
  return *e;
}
}  // namespace

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  std::lock_guard lock(mutex());
  if (!ptr) return record(cudaErrorInvalidValue);
  *ptr = std::malloc(std::max<size_t>(bytes, 1));
  if (!*ptr) return record(cudaErrorMemoryAllocation);
  pinned().insert(*ptr);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* ptr) {
  std::lock_guard lock(mutex());
  if (!ptr) return cudaSuccess;
  flush_all();  // like cudaFree, it synchronizes
  if (pinned().erase(ptr) == 0) return record(cudaErrorInvalidValue);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  std::lock_guard lock(mutex());
  if (!event || (flags & ~(cudaEventBlockingSync | cudaEventDisableTiming)) != 0) return record(cudaErrorInvalidValue);
  *event = new CUevent_st;
  events().insert(*event);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard lock(mutex());
  if (events().erase(event) == 0) return record(cudaErrorInvalidResourceHandle);
  if (event->stream && !event->complete) flush(event->stream);  // its queued record op refers to it
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::lock_guard lock(mutex());
  CUstream_st* s = resolve(stream);
  if (!events().count(event) || !s) return record(cudaErrorInvalidResourceHandle);
  event->stream = s;
  event->complete = false;
  push(stream, [event] { event->complete = true; });
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  std::lock_guard lock(mutex());
  if (!events().count(event)) return record(cudaErrorInvalidResourceHandle);
  if (event->stream && !event->complete) flush(event->stream);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  std::lock_guard lock(mutex());
  if (!ms || !events().count(start) || !events().count(end)) return record(cudaErrorInvalidValue);
  cudaEventSynchronize(start);
  cudaEventSynchronize(end);
  *ms = 0.0f;
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  std::lock_guard lock(mutex());
  if (!resolve(stream) || !events().count(event)) return record(cudaErrorInvalidResourceHandle);
  // Later work on `stream` must follow the event: run the event's stream up to it now (a valid schedule).
  if (event->stream && !event->complete) flush(event->stream);
  return cudaSuccess;
}
