// bnn_device.h — the interface between the bnn surrogate's CPU code (bnn_core.cc) and its CUDA backend
// (bnn_cuda.cu → libbbo_bnn_cuda.so, opened at run time with bbo::open_cuda_backend). Plain std types only, so
// that both g++ and nvcc include it.
//
// The backend trains all members of a deep ensemble at once: the members have identical layer sizes, so each
// layer's forward and backward products for all of them are one strided-batched GEMM. It computes exactly what
// bnn_core.cc's adam_train computes for each member (same loss, gradient, AdamW update and cosine schedule,
// same step count), in double precision, so the weights agree up to floating-point rounding. Everything random
// (initial weights, minibatch order) is drawn on the host by the caller, with the CPU path's RNG calls, and
// handed over: the initial weights in EnsembleJob::theta, the minibatch rows through a BatchSource.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bbo::bnn {

// The minibatch rows of every member, step by step (only when the batch is smaller than the data).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Writes the rows of steps [first, first + count) into rows: rows[((s − first) · members + m) · batch + k]
  // is row k of member m's minibatch at step s (an index into the data's n points). Called with consecutive,
  // increasing step ranges starting at 0.
  virtual void fill(int first, int count, int32_t* rows) = 0;
};

struct EnsembleJob {
  std::vector<int> sizes;  // layer widths: input, hidden..., outputs (1: mean only, 2: mean and variance head)
  int members = 0;
  bool relu = false;         // hidden activation: ReLU, else tanh
  double fixed_noise = 0.0;  // > 0: σ² = fixed_noise (sizes.back() == 1)
  int n = 0;                 // training points
  const double* U = nullptr;  // sizes[0] × n, column-major: point i at U[i · sizes[0]]
  const double* z = nullptr;  // n standardized targets
  int batch = 0;              // rows per step: n (full batch, source unused) or fewer (source gives the rows)
  BatchSource* source = nullptr;
  int steps = 0;
  int mse_steps = 0;  // the first mse_steps minimize ½ (z − μ)² instead of the Gaussian NLL
  double learning_rate = 0.0;
  double weight_decay = 0.0;
  // Parameters [frozen_offset, frozen_offset + frozen_count) of every member get zero gradient (the
  // homoscedastic variance head's weights); the caller has set them to zero.
  int64_t frozen_offset = 0;
  int64_t frozen_count = 0;
  // members × P parameters (member m at theta + m · P; per layer W row-major out × in, then b): the initial
  // weights on entry, the trained ones on return.
  double* theta = nullptr;
};

class EnsembleTrainer {
 public:
  virtual ~EnsembleTrainer() = default;
  // Trains job.theta in place. Returns false with a one-line *error (naming the failed CUDA call) when the GPU
  // failed (job.theta is then unspecified: the caller restarts from its own copy).
  virtual bool train(const EnsembleJob& job, std::string* error) = 0;
};

// The backend's factory, exported as "bbo_bnn_cuda_create": a trainer on CUDA device `device`, or nullptr
// with *error set. The caller deletes the trainer.
using EnsembleTrainerFactory = EnsembleTrainer* (*)(int device, std::string* error);

}  // namespace bbo::bnn
