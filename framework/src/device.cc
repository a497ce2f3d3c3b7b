#include "bbo/device.h"

#include <dlfcn.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "bbo/error.h"
#include "bbo/plugin.h"

#ifndef BBO_CUDA_BUILT
#define BBO_CUDA_BUILT 0
#endif

namespace bbo {

Device Device::parse(std::string_view text) {
  Device d;
  if (text == "cpu") return d;
  if (text == "auto") {
    d.kind = Kind::Auto;
    return d;
  }
  if (text == "cuda") {
    d.kind = Kind::Cuda;
    return d;
  }
  if (text.starts_with("cuda:") && text.size() > 5) {
    const std::string_view digits = text.substr(5);
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && index >= 0) {
      d.kind = Kind::Cuda;
      d.index = index;
      return d;
    }
  }
  throw ConfigError("device must be cpu, cuda, cuda:N or auto, got '" + std::string(text) + "'");
}

std::string Device::str() const {
  switch (kind) {
    case Kind::Cpu: return "cpu";
    case Kind::Auto: return "auto";
    case Kind::Cuda: return "cuda:" + std::to_string(index);
  }
  return "cpu";
}

namespace {

// The few driver-API entry points the probe needs (cuda.h's signatures; CUresult and CUdevice are ints).
using CuInit = int (*)(unsigned);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetName = int (*)(char*, int, int);

// Tests only (device.h): the folder of the host-emulated backends (tests/cuda_emu), or empty.
std::string emulation_dir() {
  const char* dir = std::getenv(kCudaEmulationVariable);
  return dir ? dir : "";
}

CudaInfo probe() {
  CudaInfo info;
  if (!emulation_dir().empty()) {
    info.built_with_cuda = true;
    info.device_count = 1;
    info.names.emplace_back(kCudaEmulationDeviceName);
    return info;
  }
  info.built_with_cuda = BBO_CUDA_BUILT != 0;
  if (!info.built_with_cuda) {
    info.unavailable_reason = "bbo was built without CUDA (BBO_WITH_CUDA off or nvcc not found)";
    return info;
  }
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    info.unavailable_reason = "no NVIDIA driver (libcuda.so.1 not found)";
    return info;
  }
  auto init = reinterpret_cast<CuInit>(dlsym(lib, "cuInit"));
  auto count = reinterpret_cast<CuDeviceGetCount>(dlsym(lib, "cuDeviceGetCount"));
  auto get = reinterpret_cast<CuDeviceGet>(dlsym(lib, "cuDeviceGet"));
  auto name = reinterpret_cast<CuDeviceGetName>(dlsym(lib, "cuDeviceGetName"));
  if (!init || !count || !get || !name) {
    info.unavailable_reason = "the NVIDIA driver library lacks the device query functions";
    return info;
  }
  if (int rc = init(0); rc != 0) {
    info.unavailable_reason = "the NVIDIA driver did not initialise (CUresult " + std::to_string(rc) + ")";
    return info;
  }
  int n = 0;
  if (count(&n) != 0 || n <= 0) {
    info.unavailable_reason = "the NVIDIA driver reports no GPU";
    return info;
  }
  for (int i = 0; i < n; ++i) {
    int dev = 0;
    char buf[256] = {};
    if (get(&dev, i) != 0 || name(buf, sizeof buf, dev) != 0) buf[0] = '\0';
    info.names.emplace_back(buf[0] ? buf : "unknown NVIDIA GPU");
  }
  info.device_count = n;
  return info;  // the driver library stays loaded: the backends use it
}

std::mutex g_mutex;

}  // namespace

const CudaInfo& cuda_info() {
  static const CudaInfo info = probe();
  return info;
}

void notice_cpu_fallback(const std::string& who, const Device& requested, const std::string& reason) {
  static std::set<std::string> said;
  std::lock_guard lock(g_mutex);
  if (!said.insert(who).second) return;
  std::fprintf(stderr, "bbo: %s: device '%s' unavailable (%s); computing on the CPU\n", who.c_str(),
               requested.str().c_str(), reason.c_str());
}

Device resolve_device(const Device& requested, bool gpu_worthwhile, const std::string& who) {
  const Device cpu;
  if (requested.kind == Device::Kind::Cpu) return cpu;
  const CudaInfo& info = cuda_info();
  if (requested.kind == Device::Kind::Auto) {
    if (!gpu_worthwhile || info.device_count == 0) return cpu;
    return Device{Device::Kind::Cuda, 0};
  }
  if (info.device_count == 0) {
    notice_cpu_fallback(who, requested, info.unavailable_reason);
    return cpu;
  }
  if (requested.index >= info.device_count) {
    notice_cpu_fallback(who, requested,
                        "only " + std::to_string(info.device_count) + " GPU(s): cuda:0..cuda:" +
                            std::to_string(info.device_count - 1));
    return cpu;
  }
  return requested;
}

void* open_cuda_backend(const void* anchor, const std::string& file_name, const std::string& factory,
                        std::string* reason) {
  static std::map<std::string, void*> opened;  // path → handle; never closed
  auto fail = [&](const std::string& why) -> void* {
    if (reason) *reason = why;
    return nullptr;
  };
  if (!cuda_info().built_with_cuda) return fail(cuda_info().unavailable_reason);
  // Candidate folders: "cuda" beside the calling plugin, then beside every plugin folder (build tree, install
  // prefix, BBO_PLUGIN_PATH) — a test program that links a surrogate's core statically finds the build tree's.
  std::vector<std::filesystem::path> dirs;
  const std::string emulated = emulation_dir();
  Dl_info where{};
  if (!emulated.empty()) {
    dirs.push_back(emulated);  // tests only: the emulated backends and nothing else
  } else {
    if (anchor && dladdr(anchor, &where) && where.dli_fname)
      dirs.push_back(std::filesystem::path(where.dli_fname).parent_path() / "cuda");
    for (const auto& d : PluginRegistry::default_search_dirs()) dirs.push_back(std::filesystem::path(d) / "cuda");
  }
  std::lock_guard lock(g_mutex);
  void* handle = nullptr;
  for (const auto& dir : dirs) {
    const std::filesystem::path path = dir / file_name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    void*& cached = opened[path.string()];
    if (!cached) {
      cached = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!cached) {
        const char* err = dlerror();
        return fail(std::string("cannot load CUDA backend: ") + (err ? err : path.string()));
      }
    }
    handle = cached;
    break;
  }
  if (!handle && !emulated.empty())
    return fail("CUDA backend " + file_name + " not found in " + kCudaEmulationVariable + "=" + emulated);
  if (!handle) return fail("CUDA backend " + file_name + " not found beside the plugins");
  void* symbol = dlsym(handle, factory.c_str());
  if (!symbol) return fail("CUDA backend " + file_name + " has no symbol " + factory);
  return symbol;
}

}  // namespace bbo
