// pfn_device.h — the interface between the `pfn` surrogate (pfn_core.cc, g++) and its CUDA backend
// (pfn_cuda.cu, nvcc → libbbo_pfn_cuda.so, opened at run time with bbo::open_cuda_backend()).
//
// Plain C++ with std types only (no Eigen, no CUDA types), so that both compilers include it. Every matrix is
// a dense row-major array of doubles, as torch.nn.Linear stores its weight (out × in). No exception crosses
// the library boundary: each call returns false and sets *error (one line naming the failing CUDA/cuBLAS
// call) on failure, and the caller turns that into a CPU fallback or a bbo::Error.
//
// The engine computes exactly the query path of PfnNetwork::logits() (pfn_core.cc): for m query feature rows
// f (m × max_dims), h = xenc(f); per layer h += out(attend(q(LN1(h)), K_l, V_l)), h += ff2(gelu(ff1(LN2(h))));
// then logits = dec2(gelu(dec1(LNf(h)))). LayerNorm eps 1e-5 (biased variance), GELU the exact erf form,
// attention softmax over the context tokens with scale 1/sqrt(E/heads). The context cache K_l, V_l (per
// layer, tokens × E, the prior token first) is computed on the host by PfnNetwork::set_context().
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bbo::pfn {

// The weights the query path needs (the key/value rows of the QKV projection are not: the context cache
// holds their products), row-major (out × in) matrices and their biases.
struct PfnDeviceLayer {
  std::vector<double> ln1_w, ln1_b;  // E
  std::vector<double> q_w, q_b;      // E × E (the first E rows of qkv_w), E
  std::vector<double> out_w, out_b;  // E × E, E
  std::vector<double> ln2_w, ln2_b;  // E
  std::vector<double> ff1_w, ff1_b;  // ff × E, ff
  std::vector<double> ff2_w, ff2_b;  // E × ff, E
};

struct PfnDeviceWeights {
  size_t max_dims = 0, emsize = 0, heads = 0, ff = 0, dec_hidden = 0, buckets = 0;
  std::vector<double> xenc_w, xenc_b;  // E × max_dims, E
  std::vector<PfnDeviceLayer> layer;
  std::vector<double> lnf_w, lnf_b;    // E
  std::vector<double> dec1_w, dec1_b;  // dec_hidden × E, dec_hidden
  std::vector<double> dec2_w, dec2_b;  // buckets × dec_hidden, buckets
};

// One engine per network and GPU: it owns its device memory (freed by the destructor) and a cuBLAS handle.
// Not thread-safe: the caller serializes calls (PfnNetwork holds a mutex).
class PfnDeviceEngine {
 public:
  virtual ~PfnDeviceEngine() = default;
  // Uploads the weights (once per engine; a second call replaces them and drops the context).
  virtual bool load_weights(const PfnDeviceWeights& w, std::string* error) = 0;
  // Uploads the context cache: per layer, keys[l] and values[l] point to tokens × E row-major arrays.
  virtual bool set_context(size_t tokens, const std::vector<const double*>& keys,
                           const std::vector<const double*>& values, std::string* error) = 0;
  // Logits (m × buckets, row-major, into out) of m query rows (m × max_dims, row-major). Any m: large m is
  // processed in chunks of rows so that the device memory stays bounded. Returns when out is written.
  virtual bool logits(const double* features, size_t m, double* out, std::string* error) = 0;
};

// The backend's factory, exported by libbbo_pfn_cuda.so as kPfnCudaFactory:
//   extern "C" PfnDeviceEngine* bbo_pfn_cuda_create(int device, std::string* error);
// returns a new engine on CUDA device `device` (delete it to release it), or nullptr with *error set.
using PfnCudaFactory = PfnDeviceEngine* (*)(int device, std::string* error);
inline constexpr const char* kPfnCudaLibrary = "libbbo_pfn_cuda.so";
inline constexpr const char* kPfnCudaFactory = "bbo_pfn_cuda_create";

}  // namespace bbo::pfn
