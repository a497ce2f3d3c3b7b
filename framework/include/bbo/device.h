// device.h — where a surrogate computes: the CPU or an NVIDIA GPU (CUDA), chosen at run time.
//
// Surrogates with a GPU path (gp, bnn, pfn) take a plugin parameter `device`: "cpu", "cuda" (= "cuda:0"),
// "cuda:N" or "auto". The GPU code lives in separate shared libraries ("CUDA backends", built only when the
// CUDA toolkit is found at build time: BBO_WITH_CUDA) that a surrogate loads with open_cuda_backend() the
// first time it needs one, so that a CPU-only machine never loads libcudart/cuBLAS and every binary runs
// without a GPU:
//   - "cpu": never touches CUDA.
//   - "cuda[:N]": uses GPU N when the driver, the GPU and the backend are there; otherwise computes on the CPU
//     and prints one line on stderr (once per process and surrogate) saying why.
//   - "auto": uses GPU 0 only where the caller says the GPU is faster (each surrogate has a measured size
//     threshold, docs/surrogates.md); silently the CPU otherwise or when no GPU is usable.
// Results never depend on availability beyond floating-point rounding: each GPU path computes what its CPU
// path computes (tests compare them where a GPU exists).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bbo {

struct Device {
  enum class Kind { Cpu, Cuda, Auto };
  Kind kind = Kind::Cpu;
  int index = 0;  // the CUDA device ordinal (Kind::Cuda)

  // "cpu", "cuda", "cuda:N" (N a non-negative integer) or "auto"; ConfigError naming the text otherwise.
  static Device parse(std::string_view text);
  std::string str() const;  // the canonical text: "cpu", "cuda:N", "auto"
  bool operator==(const Device&) const = default;
};

// What the NVIDIA driver reports, probed once per process through the driver library (libcuda.so.1, opened
// with dlopen: nothing links against it). Never throws.
struct CudaInfo {
  int device_count = 0;            // 0 when no driver or no GPU
  std::vector<std::string> names;  // per device, e.g. "NVIDIA H100 80GB HBM3"
  std::string unavailable_reason;  // why device_count is 0 (empty otherwise)
  bool built_with_cuda = false;    // the CUDA backends were compiled (BBO_WITH_CUDA)
};
const CudaInfo& cuda_info();

// The device a surrogate should compute on for `requested`. `gpu_worthwhile` is the caller's judgement for
// "auto" (its work is above the size where the GPU wins). Returns Kind::Cpu or Kind::Cuda with a valid
// index. For an explicit "cuda[:N]" that cannot be honoured, writes the one-line notice (prefixed by `who`,
// e.g. "gp") on stderr once per process and `who`.
Device resolve_device(const Device& requested, bool gpu_worthwhile, const std::string& who);

// Prints "bbo: <who>: device '<requested>' unavailable (<reason>); computing on the CPU" once per process and
// `who` (also used by surrogates when a backend fails to load or to initialise).
void notice_cpu_fallback(const std::string& who, const Device& requested, const std::string& reason);

// Opens the CUDA backend library `file_name` (e.g. "libbbo_gp_cuda.so") from the "cuda" folder beside the
// library that contains `anchor` (the address of any function of the calling plugin; may be null), else from
// the "cuda" folder of each plugin search folder (PluginRegistry::default_search_dirs), and returns the
// address of its symbol `factory`, or nullptr with *reason set (not built, library or its CUDA libraries missing, symbol
// missing). The library stays loaded for the life of the process. Thread-safe.
void* open_cuda_backend(const void* anchor, const std::string& file_name, const std::string& factory,
                        std::string* reason);

// TESTS ONLY — host emulation of the GPU (docs/gpu.md, "Testing without a GPU"): when the environment variable
// BBO_CUDA_EMULATION names a folder (ctest sets it to <build>/cuda_emu for the `*.emulated` tests), cuda_info()
// reports one device named kCudaEmulationDeviceName (built_with_cuda true, whatever the build), and
// open_cuda_backend() loads backends only from that folder: the .cu sources compiled as host C++ by
// tests/cuda_emu. Never set it outside tests: the emulated backends are slow and check, not compute.
inline constexpr const char* kCudaEmulationVariable = "BBO_CUDA_EMULATION";
inline constexpr const char* kCudaEmulationDeviceName = "bbo host emulation of CUDA (tests only)";

}  // namespace bbo
