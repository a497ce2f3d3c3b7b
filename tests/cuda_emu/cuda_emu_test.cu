// Tests of the host emulation of CUDA itself (cuda_emu.h, cu_to_cc.py, the fake cuBLAS/cuSOLVER): this file is
// CUDA source, rewritten by cu_to_cc.py like the backends, so the launches, __syncthreads and extern __shared__
// rewrites are exercised here. It checks that the emulation computes what CUDA defines and, above all, that it
// reports the errors it exists to catch (bad leading dimensions, out-of-allocation ranges, missing
// synchronization, divergent barriers).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

// ---- kernels -------------------------------------------------------------------------------------------------

__global__ void write_global_index(int* out, int n) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int threads = blockDim.x * blockDim.y * blockDim.z;
  const int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int i = block * threads + t;
  if (i < n) out[i] = i;
}

// Sum of in[0..n) per block into out[blockIdx.x], static shared memory, blockDim.x == 64.
__global__ void block_sum_static(const double* in, int n, double* out) {
  __shared__ double s[64];
  double acc = 0.0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) acc += in[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned step = blockDim.x / 2; step > 0; step >>= 1) {
    if (threadIdx.x < step) s[threadIdx.x] += s[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

// The same with dynamic shared memory (blockDim.x doubles) and an early return after the last barrier.
__global__ void block_sum_dynamic(const double* in, int n, double* out) {
  extern __shared__ double s[];
  double acc = 0.0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) acc += in[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned step = blockDim.x / 2; step > 0; step >>= 1) {
    if (threadIdx.x < step) s[threadIdx.x] += s[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  out[blockIdx.x] = s[0];
}

// A barrier only half the block reaches: undefined on a GPU, an abort here.
__global__ void divergent_barrier(double* out) {
  if (threadIdx.x < 16) return;
  __syncthreads();
  out[threadIdx.x] = 1.0;
}

__global__ void fill(double* out, int n, double v) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = v;
}

// A template kernel with launch bounds and an early return (rewriter: template-id launch, attributes).
template <int kScale>
__global__ void __launch_bounds__(64) scale_by(double* v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  v[i] *= kScale;
}

// ---- helpers -------------------------------------------------------------------------------------------------

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n;
  explicit Dev(size_t count) : n(count) { EXPECT_EQ(cudaMalloc(&p, count * sizeof(T)), cudaSuccess); }
  Dev(const std::vector<T>& host) : Dev(host.size()) { put(host); }
  ~Dev() { cudaFree(p); }
  void put(const std::vector<T>& host) {
    ASSERT_EQ(cudaMemcpy(p, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> get() const {
    std::vector<T> host(n);
    EXPECT_EQ(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
};

std::vector<double> random_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (double& x : v) x = u(rng);
  return v;
}

// ---- launches and the execution model ------------------------------------------------------------------------

TEST(CudaEmulation, EveryThreadOfA3DGridRunsOnceWithItsIndices) {
  const dim3 grid(3, 2, 2), block(4, 2, 3);
  const int n = 3 * 2 * 2 * 4 * 2 * 3;
  Dev<int> out(n);
  write_global_index<<<grid, block>>>(out.p, n);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> got = out.get();
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[i], i);
}

TEST(CudaEmulation, TemplateKernelsAndLaunchesOverSeveralLines) {
  const int n = 70;
  Dev<double> v(std::vector<double>(n, 1.5));
  scale_by<3><<<(n + 31) / 32,  // enough blocks (a comment with <<< and >>> inside the launch)
                32>>>(v.p,
                      n);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (double x : v.get()) EXPECT_EQ(x, 4.5);
}

TEST(CudaEmulation, BlockReductionsWithStaticAndDynamicSharedMemory) {
  const int n = 1000;
  const std::vector<double> x = random_vector(n, 1);
  double want = 0.0;
  for (double v : x) want += v;
  Dev<double> in(x), partial(5);
  for (int dynamic = 0; dynamic < 2; ++dynamic) {
    if (dynamic)
      block_sum_dynamic<<<5, 64, 64 * sizeof(double)>>>(in.p, n, partial.p);
    else
      block_sum_static<<<5, 64>>>(in.p, n, partial.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    double got = 0.0;
    for (double v : partial.get()) got += v;
    EXPECT_NEAR(got, want, 1e-12) << "dynamic " << dynamic;
  }
}

TEST(CudaEmulation, BadLaunchConfigurationsAreLaunchErrors) {
  Dev<double> out(8);
  fill<<<1, 2048>>>(out.p, 8, 1.0);  // more than 1024 threads per block
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // not sticky
  fill<<<0, 32>>>(out.p, 8, 1.0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  block_sum_dynamic<<<1, 64, 64 * 1024>>>(out.p, 8, out.p);  // more than 48 KiB of dynamic shared memory
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

TEST(CudaEmulationDeathTest, DivergentBarrierAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto run = [] {
    Dev<double> out(32);
    divergent_barrier<<<1, 32>>>(out.p);
    cudaDeviceSynchronize();
  };
  EXPECT_DEATH(run(), "divergent barrier");
}

TEST(CudaEmulationDeathTest, ExternSharedWithoutDynamicSizeAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto run = [] {
    Dev<double> in(4);
    Dev<double> out(1);
    block_sum_dynamic<<<1, 64>>>(in.p, 4, out.p);
    cudaDeviceSynchronize();
  };
  EXPECT_DEATH(run(), "launched with 0 bytes of dynamic shared memory");
}

// Work on a stream runs when the host waits for it: a result read before the synchronization is stale, here
// deterministically (on a GPU, sometimes).
TEST(CudaEmulation, ResultsAppearOnlyAfterSynchronization) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  Dev<double> buf(std::vector<double>(4, 0.0));
  std::vector<double> host(4, -1.0);
  fill<<<1, 32, 0, s>>>(buf.p, 4, 7.0);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), buf.p, 4 * sizeof(double), cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(host[0], -1.0) << "the copy ran before the stream was synchronized";
  // A synchronous copy on the legacy stream does not wait for a non-blocking stream.
  EXPECT_EQ(buf.get()[0], 0.0);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(host[0], 7.0);
  EXPECT_EQ(buf.get()[3], 7.0);
  // A blocking stream's work is ordered before later legacy-stream work.
  cudaStream_t b;
  ASSERT_EQ(cudaStreamCreate(&b), cudaSuccess);
  fill<<<1, 32, 0, b>>>(buf.p, 4, 3.0);
  EXPECT_EQ(buf.get()[2], 3.0);
  // A host source of an async upload is staged at the call: changing it afterwards changes nothing.
  std::vector<double> src(4, 5.0);
  ASSERT_EQ(cudaMemcpyAsync(buf.p, src.data(), 4 * sizeof(double), cudaMemcpyHostToDevice, s), cudaSuccess);
  src.assign(4, 6.0);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(buf.get()[1], 5.0);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(b), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorInvalidResourceHandle);
}

TEST(CudaEmulation, EventsCompleteWhenTheirStreamReachesThem) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  double* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(&pinned, sizeof(double)), cudaSuccess);
  *pinned = -1.0;
  Dev<double> buf(1);
  cudaEvent_t done;
  ASSERT_EQ(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), cudaSuccess);
  fill<<<1, 1, 0, s>>>(buf.p, 1, 4.0);
  ASSERT_EQ(cudaMemcpyAsync(pinned, buf.p, sizeof(double), cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(done, s), cudaSuccess);
  EXPECT_EQ(*pinned, -1.0);
  ASSERT_EQ(cudaEventSynchronize(done), cudaSuccess);
  EXPECT_EQ(*pinned, 4.0);
  EXPECT_EQ(cudaEventDestroy(done), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(CudaEmulation, MemoryIsRegisteredAndStartsAsNaN) {
  const size_t before = bbo_emu::live_allocations();
  {
    Dev<double> d(3);
    EXPECT_EQ(bbo_emu::live_allocations(), before + 1);
    for (double v : d.get()) EXPECT_TRUE(std::isnan(v));
    ASSERT_EQ(cudaMemset(d.p, 0, 3 * sizeof(double)), cudaSuccess);
    for (double v : d.get()) EXPECT_EQ(v, 0.0);
  }
  EXPECT_EQ(bbo_emu::live_allocations(), before);
  double host = 0;
  EXPECT_EQ(cudaFree(&host), cudaErrorInvalidDevicePointer);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevicePointer);
  size_t free = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
  EXPECT_LE(free, total);
  EXPECT_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
}

TEST(CudaEmulationDeathTest, CopiesOutsideAnAllocationAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  static std::vector<double> host(10);
  auto too_long = [] {
    Dev<double> d(8);
    cudaMemcpy(d.p, host.data(), 10 * sizeof(double), cudaMemcpyHostToDevice);
  };
  EXPECT_DEATH(too_long(), "past the end of their allocation");
  EXPECT_DEATH(cudaMemcpy(host.data(), host.data() + 5, sizeof(double), cudaMemcpyDeviceToHost),
               "is not device memory");
  auto wrong_kind = [] {
    Dev<double> d(8);
    cudaMemcpy(d.p, d.p + 4, sizeof(double), cudaMemcpyHostToDevice);
  };
  EXPECT_DEATH(wrong_kind(), "device memory but the kind says host");
}

// ---- cuBLAS --------------------------------------------------------------------------------------------------

// C = alpha op(A) op(B) + beta C by definition, column-major.
std::vector<double> gemm_reference(bool ta, bool tb, int m, int n, int k, double alpha, const std::vector<double>& A,
                                   int lda, const std::vector<double>& B, int ldb, double beta, std::vector<double> C,
                                   int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double s = 0;
      for (int l = 0; l < k; ++l) s += (ta ? A[l + i * lda] : A[i + l * lda]) * (tb ? B[j + l * ldb] : B[l + j * ldb]);
      C[i + j * ldc] = alpha * s + beta * C[i + j * ldc];
    }
  return C;
}

TEST(CudaEmulationCublas, GemmOfEveryTransposeWithPaddedLeadingDimensions) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const int m = 5, n = 4, k = 3;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
      const std::vector<double> A = random_vector(lda * (ta ? m : k), 2), B = random_vector(ldb * (tb ? k : n), 3),
                                C0 = random_vector(ldc * n, 4);
      Dev<double> dA(A), dB(B), dC(C0);
      const double alpha = 0.7, beta = -1.3;
      ASSERT_EQ(cublasDgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, dA.p,
                            lda, dB.p, ldb, &beta, dC.p, ldc),
                CUBLAS_STATUS_SUCCESS);
      const std::vector<double> want = gemm_reference(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C0, ldc);
      const std::vector<double> got = dC.get();
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << ta << tb << " " << i;
    }
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST(CudaEmulationCublas, DocumentedArgumentChecksReturnInvalidValue) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  Dev<double> a(64), b(64), c(64);
  const double one = 1, zero = 0;
  // lda < m for op N; ldb < k; ldc < m; lda < k for op T.
  EXPECT_EQ(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 3, &one, a.p, 3, b.p, 3, &zero, c.p, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 3, &one, a.p, 4, b.p, 2, &zero, c.p, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 3, &one, a.p, 4, b.p, 3, &zero, c.p, 3), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 4, 2, 3, &one, a.p, 2, b.p, 3, &zero, c.p, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, 2, 3, &one, a.p, 4, b.p, 3, &zero, c.p, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemv(h, CUBLAS_OP_N, 4, 2, &one, a.p, 3, b.p, 1, &zero, c.p, 1), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDgemv(h, CUBLAS_OP_N, 4, 2, &one, a.p, 4, b.p, 0, &zero, c.p, 1), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasDtrsm(h, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, 4, 5, &one, a.p,
                        4, b.p, 4),
            CUBLAS_STATUS_INVALID_VALUE);  // side right: lda >= n
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST(CudaEmulationCublasDeathTest, MatricesBeyondTheirAllocationAndOverlappingBatchesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto short_a = [] {
    const double one = 1, zero = 0;
    cublasHandle_t h;
    cublasCreate(&h);
    Dev<double> a(11), b(12), c(16);  // A is 4 × 3 (12 values): one short
    cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 3, &one, a.p, 4, b.p, 3, &zero, c.p, 4);
  };
  EXPECT_DEATH(short_a(), "cublasDgemm: A: .* past the end");
  auto overlapping = [] {
    const double one = 1, zero = 0;
    cublasHandle_t h;
    cublasCreate(&h);
    Dev<double> a(64), b(64), c(64);  // two 4 × 2 outputs 4 apart: they share a column
    cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 2, 2, &one, a.p, 4, 8, b.p, 2, 4, &zero, c.p, 4, 4, 2);
  };
  EXPECT_DEATH(overlapping(), "batch entries write the same elements of C");
}

TEST(CudaEmulationCublas, GemvAndTrsmSolveWhatTheyShould) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const int m = 4, n = 3, lda = 6;
  const std::vector<double> A = random_vector(lda * n, 5), x = random_vector(4, 6);
  Dev<double> dA(A), dx(x), dy(std::vector<double>(4, std::nan("")));
  const double one = 1, zero = 0;
  ASSERT_EQ(cublasDgemv(h, CUBLAS_OP_T, m, n, &one, dA.p, lda, dx.p, 1, &zero, dy.p, 1), CUBLAS_STATUS_SUCCESS);
  const std::vector<double> y = dy.get();
  for (int j = 0; j < n; ++j) {
    double s = 0;
    for (int i = 0; i < m; ++i) s += A[i + j * lda] * x[i];
    EXPECT_NEAR(y[j], s, 1e-14);  // beta = 0: the NaN in y is not read
  }
  // op(T) X = 2 B (left) and X op(T) = 2 B (right) for each triangle and transpose; the other triangle is NaN.
  const int k = 4;
  for (int side = 0; side < 2; ++side)
    for (int up = 0; up < 2; ++up)
      for (int tr = 0; tr < 2; ++tr) {
        std::vector<double> T(k * k, std::nan(""));
        std::vector<double> r = random_vector(k * k, 7);
        for (int j = 0; j < k; ++j)
          for (int i = 0; i < k; ++i)
            if (up ? i <= j : i >= j) T[i + j * k] = i == j ? 2.0 + r[i + j * k] : r[i + j * k];
        const int bm = side ? 3 : k, bn = side ? k : 3;
        const std::vector<double> B = random_vector(bm * bn, 8);
        Dev<double> dT(T), dB(B);
        const double two = 2;
        ASSERT_EQ(cublasDtrsm(h, side ? CUBLAS_SIDE_RIGHT : CUBLAS_SIDE_LEFT,
                              up ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER, tr ? CUBLAS_OP_T : CUBLAS_OP_N,
                              CUBLAS_DIAG_NON_UNIT, bm, bn, &two, dT.p, k, dB.p, bm),
                  CUBLAS_STATUS_SUCCESS);
        const std::vector<double> X = dB.get();
        auto op = [&](int i, int j) {
          const int a = tr ? j : i, b = tr ? i : j;
          return (up ? a <= b : a >= b) ? T[a + b * k] : 0.0;
        };
        for (int i = 0; i < bm; ++i)
          for (int j = 0; j < bn; ++j) {
            double s = 0;
            for (int l = 0; l < k; ++l) s += side ? X[i + l * bm] * op(l, j) : op(i, l) * X[l + j * bm];
            EXPECT_NEAR(s, 2 * B[i + j * bm], 1e-12) << side << up << tr;
          }
      }
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST(CudaEmulationCublas, LevelOneAndSyrk) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const std::vector<double> x = random_vector(6, 11), y = random_vector(6, 12);
  Dev<double> dx(x), dy(y);
  double dot = 0, nrm = 0, want = 0, sq = 0;
  for (int i = 0; i < 3; ++i) want += x[2 * i] * y[i];
  for (double v : x) sq += v * v;
  ASSERT_EQ(cublasDdot(h, 3, dx.p, 2, dy.p, 1, &dot), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasDnrm2(h, 6, dx.p, 1, &nrm), CUBLAS_STATUS_SUCCESS);
  EXPECT_NEAR(dot, want, 1e-15);
  EXPECT_NEAR(nrm, std::sqrt(sq), 1e-15);
  const double two = 2;
  ASSERT_EQ(cublasDaxpy(h, 6, &two, dx.p, 1, dy.p, 1), CUBLAS_STATUS_SUCCESS);
  const std::vector<double> got = dy.get();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[i], y[i] + 2 * x[i], 1e-15);
  EXPECT_EQ(cublasDdot(h, 3, dx.p, 0, dy.p, 1, &dot), CUBLAS_STATUS_INVALID_VALUE);
  // C = A Aᵀ (A: 3 × 2, lda 4), lower triangle only: the upper one keeps its NaN.
  const std::vector<double> A = random_vector(8, 13);
  Dev<double> dA(A), dC(std::vector<double>(9, std::nan("")));
  const double one = 1, zero = 0;
  ASSERT_EQ(cublasDsyrk(h, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, 3, 2, &one, dA.p, 4, &zero, dC.p, 3),
            CUBLAS_STATUS_SUCCESS);
  const std::vector<double> C = dC.get();
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i) {
      if (i < j) {
        EXPECT_TRUE(std::isnan(C[i + 3 * j]));
        continue;
      }
      EXPECT_NEAR(C[i + 3 * j], A[i] * A[j] + A[i + 4] * A[j + 4], 1e-15);
    }
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

// ---- cuSOLVER ------------------------------------------------------------------------------------------------

TEST(CudaEmulationCusolver, CholeskySolveAndInverseReadOnlyTheirTriangle) {
  cusolverDnHandle_t h;
  ASSERT_EQ(cusolverDnCreate(&h), CUSOLVER_STATUS_SUCCESS);
  const int n = 5, lda = 7;
  const std::vector<double> r = random_vector(n * n, 9);
  std::vector<double> K(n * n);  // K = R Rᵀ + n I
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = i == j ? n : 0.0;
      for (int l = 0; l < n; ++l) s += r[i + l * n] * r[j + l * n];
      K[i + j * n] = s;
    }
  for (int up = 0; up < 2; ++up) {
    const cublasFillMode_t fill = up ? CUBLAS_FILL_MODE_UPPER : CUBLAS_FILL_MODE_LOWER;
    std::vector<double> A(lda * n, std::nan(""));  // the unused triangle and the padding: NaN
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i)
        if (up ? i <= j : i >= j) A[i + j * lda] = K[i + j * n];
    Dev<double> dA(A), dz(random_vector(n, 10));
    const std::vector<double> z = dz.get();
    Dev<int> info(std::vector<int>(3, 99));
    int lwork = 0, lwork_inv = 0;
    ASSERT_EQ(cusolverDnDpotrf_bufferSize(h, fill, n, dA.p, lda, &lwork), CUSOLVER_STATUS_SUCCESS);
    ASSERT_EQ(cusolverDnDpotri_bufferSize(h, fill, n, dA.p, lda, &lwork_inv), CUSOLVER_STATUS_SUCCESS);
    Dev<double> work(std::max(lwork, lwork_inv));
    ASSERT_EQ(cusolverDnDpotrf(h, fill, n, dA.p, lda, work.p, lwork, info.p), CUSOLVER_STATUS_SUCCESS);
    ASSERT_EQ(cusolverDnDpotrs(h, fill, n, 1, dA.p, lda, dz.p, n, info.p + 1), CUSOLVER_STATUS_SUCCESS);
    ASSERT_EQ(cusolverDnDpotri(h, fill, n, dA.p, lda, work.p, lwork_inv, info.p + 2), CUSOLVER_STATUS_SUCCESS);
    EXPECT_EQ(info.get(), (std::vector<int>{0, 0, 0}));
    const std::vector<double> x = dz.get(), inv = dA.get();
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < n; ++j) s += K[i + j * n] * x[j];
      EXPECT_NEAR(s, z[i], 1e-12);  // K x = z
      for (int j = 0; j < n; ++j) {  // K · K⁻¹ = I from the stored triangle of K⁻¹
        double e = 0;
        for (int l = 0; l < n; ++l) {
          const int a = std::max(l, j), b = std::min(l, j);
          e += K[i + l * n] * (up ? inv[b + a * lda] : inv[a + b * lda]);
        }
        EXPECT_NEAR(e, i == j ? 1.0 : 0.0, 1e-12);
      }
    }
    EXPECT_TRUE(std::isnan(inv[up ? 1 : lda])) << "the other triangle was written";
  }
  // Not positive definite at the second pivot: info = 2; bad lda: CUSOLVER_STATUS_INVALID_VALUE.
  std::vector<double> A = {4, 2, 0, 2, 1, 0, 0, 0, 1};
  Dev<double> dA(A), work(200);
  Dev<int> info(1);
  ASSERT_EQ(cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, 3, dA.p, 3, work.p, 200, info.p), CUSOLVER_STATUS_SUCCESS);
  EXPECT_EQ(info.get()[0], 2);
  EXPECT_EQ(cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, 3, dA.p, 2, work.p, 200, info.p), CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDestroy(h), CUSOLVER_STATUS_SUCCESS);
}

TEST(CudaEmulationCusolverDeathTest, AWorkspaceSmallerThanReportedAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto run = [] {
    cusolverDnHandle_t h;
    cusolverDnCreate(&h);
    Dev<double> a(16);
    Dev<int> info(1);
    int lwork = 0;
    cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER, 4, a.p, 4, &lwork);
    Dev<double> work(lwork);
    cusolverDnDpotri(h, CUBLAS_FILL_MODE_LOWER, 4, a.p, 4, work.p, lwork, info.p);  // potri needs more
  };
  EXPECT_DEATH(run(), "Lwork .* is smaller than");
}

}  // namespace
