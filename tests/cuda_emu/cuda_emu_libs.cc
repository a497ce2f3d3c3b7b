// cuda_emu_libs.cc — the emulated cuBLAS and cuSOLVER calls (cublas_v2.h, cusolverDn.h): argument checks at
// call time, as the libraries report them; the arithmetic (naive column-major reference loops) queued on the
// handle's stream. TESTS ONLY.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cublas_v2.h"
#include "cusolverDn.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
struct cusolverDnContext {
  cudaStream_t stream = nullptr;
};

namespace {

using bbo_emu::fatal;
using bbo_emu::matrix_extent;
using bbo_emu::require_device;

// Live cuBLAS and cuSOLVER handles (never destroyed: engines held in statics release their handles late).
struct Handles {
  std::mutex mutex;
  std::set<const void*> live;
};
Handles& handles() {
  static auto* h = new Handles;
  return *h;
}

bool live(const void* h) {
  std::lock_guard lock(handles().mutex);
  return h && handles().live.count(h) != 0;
}
void add_handle(const void* h) {
  std::lock_guard lock(handles().mutex);
  handles().live.insert(h);
}
bool remove_handle(const void* h) {
  std::lock_guard lock(handles().mutex);
  return handles().live.erase(h) != 0;
}

void require_matrix(const double* p, long long rows, long long cols, long long ld, const char* what) {
  require_device(p, matrix_extent(rows, cols, ld) * sizeof(double), what);
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }
bool valid_fill(cublasFillMode_t f) { return f == CUBLAS_FILL_MODE_LOWER || f == CUBLAS_FILL_MODE_UPPER; }

// C (m × n, ldc) = alpha · op(A) · op(B) + beta · C; C is not read when beta == 0 (BLAS semantics).
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc) {
  std::vector<double> acc(m);
  for (int j = 0; j < n; ++j) {
    std::fill(acc.begin(), acc.end(), 0.0);
    if (ta == CUBLAS_OP_N) {
      for (int l = 0; l < k; ++l) {
        const double b = tb == CUBLAS_OP_N ? B[l + static_cast<long long>(j) * ldb] : B[j + static_cast<long long>(l) * ldb];
        const double* a = A + static_cast<long long>(l) * lda;
        for (int i = 0; i < m; ++i) acc[i] += a[i] * b;
      }
    } else {
      for (int i = 0; i < m; ++i) {
        const double* a = A + static_cast<long long>(i) * lda;
        double s = 0.0;
        if (tb == CUBLAS_OP_N) {
          const double* b = B + static_cast<long long>(j) * ldb;
          for (int l = 0; l < k; ++l) s += a[l] * b[l];
        } else {
          for (int l = 0; l < k; ++l) s += a[l] * B[j + static_cast<long long>(l) * ldb];
        }
        acc[i] = s;
      }
    }
    double* c = C + static_cast<long long>(j) * ldc;
    for (int i = 0; i < m; ++i) c[i] = beta == 0.0 ? alpha * acc[i] : alpha * acc[i] + beta * c[i];
  }
}

}  // namespace

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    default: return cublasGetStatusName(status);
  }
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext;
  add_handle(*handle);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!remove_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  cudaDeviceSynchronize();  // as cuBLAS does: its queued work completes
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!bbo_emu::valid_stream(stream)) return CUBLAS_STATUS_INVALID_VALUE;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long strideA, const double* B, int ldb, long long strideB,
                                         const double* beta, double* C, int ldc, long long strideC, int batchCount) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0 || batchCount < 0 || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
  const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
  if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;
  const double a = *alpha, b = *beta;  // host pointer mode: read at call time
  const bool reads = k > 0 && a != 0.0;
  for (int i = 0; i < batchCount; ++i) {
    if (reads) {
      require_matrix(A + i * strideA, a_rows, a_cols, lda, "cublasDgemm: A");
      require_matrix(B + i * strideB, b_rows, b_cols, ldb, "cublasDgemm: B");
    }
    require_matrix(C + i * strideC, m, n, ldc, "cublasDgemm: C");
  }
  if (batchCount > 1) {  // the batch entries must write disjoint elements of C (cuBLAS leaves overlaps undefined)
    std::vector<long long> written;
    written.reserve(static_cast<size_t>(batchCount) * m * n);
    for (int i = 0; i < batchCount; ++i)
      for (long long j = 0; j < n; ++j)
        for (long long r = 0; r < m; ++r) written.push_back(i * strideC + j * ldc + r);
    std::sort(written.begin(), written.end());
    if (std::adjacent_find(written.begin(), written.end()) != written.end())
      fatal("cublasDgemmStridedBatched: batch entries write the same elements of C (m %d, n %d, ldc %d, strideC %lld)",
            m, n, ldc, strideC);
  }
  bbo_emu::detail::enqueue(handle->stream, [=] {
    for (int i = 0; i < batchCount; ++i)
      gemm(transa, transb, m, n, reads ? k : 0, a, A + i * strideA, lda, B + i * strideB, ldb, b, C + i * strideC, ldc);
  });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc) {
  return cublasDgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasDgemv(cublasHandle_t handle, cublasOperation_t trans, int m, int n, const double* alpha,
                           const double* A, int lda, const double* x, int incx, const double* beta, double* y,
                           int incy) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(trans) || m < 0 || n < 0 || lda < std::max(1, m) || incx == 0 || incy == 0 || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (incx < 0 || incy < 0) fatal("cublasDgemv: negative increments are not emulated");
  const int xlen = trans == CUBLAS_OP_N ? n : m, ylen = trans == CUBLAS_OP_N ? m : n;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const double a = *alpha, b = *beta;
  require_matrix(A, m, n, lda, "cublasDgemv: A");
  require_device(x, (static_cast<size_t>(xlen - 1) * incx + 1) * sizeof(double), "cublasDgemv: x");
  require_device(y, (static_cast<size_t>(ylen - 1) * incy + 1) * sizeof(double), "cublasDgemv: y");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    std::vector<double> acc(ylen, 0.0);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const double v = A[i + static_cast<long long>(j) * lda];
        if (trans == CUBLAS_OP_N)
          acc[i] += v * x[static_cast<long long>(j) * incx];
        else
          acc[j] += v * x[static_cast<long long>(i) * incx];
      }
    for (int i = 0; i < ylen; ++i) {
      double& yi = y[static_cast<long long>(i) * incy];
      yi = b == 0.0 ? a * acc[i] : a * acc[i] + b * yi;
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDtrsm(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,
                           cublasOperation_t trans, cublasDiagType_t diag, int m, int n, const double* alpha,
                           const double* A, int lda, double* B, int ldb) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int ka = side == CUBLAS_SIDE_LEFT ? m : n;
  if ((side != CUBLAS_SIDE_LEFT && side != CUBLAS_SIDE_RIGHT) || !valid_fill(uplo) || !valid_op(trans) ||
      (diag != CUBLAS_DIAG_UNIT && diag != CUBLAS_DIAG_NON_UNIT) || m < 0 || n < 0 || lda < std::max(1, ka) ||
      ldb < std::max(1, m) || !alpha)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const double a = *alpha;
  require_matrix(A, ka, ka, lda, "cublasDtrsm: A");
  require_matrix(B, m, n, ldb, "cublasDtrsm: B");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    // T = op(A) as a dense ka × ka matrix built from the referenced triangle only.
    std::vector<double> T(static_cast<size_t>(ka) * ka, 0.0);
    for (int j = 0; j < ka; ++j)
      for (int i = 0; i < ka; ++i) {
        const bool in = uplo == CUBLAS_FILL_MODE_LOWER ? i >= j : i <= j;
        if (!in) continue;
        const double v = i == j && diag == CUBLAS_DIAG_UNIT ? 1.0 : A[i + static_cast<long long>(j) * lda];
        if (trans == CUBLAS_OP_N)
          T[i + static_cast<size_t>(j) * ka] = v;
        else
          T[j + static_cast<size_t>(i) * ka] = v;
      }
    const bool t_lower = (uplo == CUBLAS_FILL_MODE_LOWER) == (trans == CUBLAS_OP_N);
    auto t = [&](int i, int j) { return T[i + static_cast<size_t>(j) * ka]; };
    std::vector<double> v(ka);
    if (side == CUBLAS_SIDE_LEFT) {  // T X = a B, column by column
      for (int j = 0; j < n; ++j) {
        double* b = B + static_cast<long long>(j) * ldb;
        for (int i = 0; i < m; ++i) v[i] = a * b[i];
        if (t_lower) {
          for (int i = 0; i < m; ++i) {
            for (int l = 0; l < i; ++l) v[i] -= t(i, l) * v[l];
            v[i] /= t(i, i);
          }
        } else {
          for (int i = m - 1; i >= 0; --i) {
            for (int l = i + 1; l < m; ++l) v[i] -= t(i, l) * v[l];
            v[i] /= t(i, i);
          }
        }
        for (int i = 0; i < m; ++i) b[i] = v[i];
      }
    } else {  // X T = a B, row by row: Tᵀ xᵀ = a bᵀ
      for (int r = 0; r < m; ++r) {
        for (int j = 0; j < n; ++j) v[j] = a * B[r + static_cast<long long>(j) * ldb];
        if (!t_lower) {  // Tᵀ lower
          for (int j = 0; j < n; ++j) {
            for (int l = 0; l < j; ++l) v[j] -= t(l, j) * v[l];
            v[j] /= t(j, j);
          }
        } else {
          for (int j = n - 1; j >= 0; --j) {
            for (int l = j + 1; l < n; ++l) v[j] -= t(l, j) * v[l];
            v[j] /= t(j, j);
          }
        }
        for (int j = 0; j < n; ++j) B[r + static_cast<long long>(j) * ldb] = v[j];
      }
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

namespace {
// Checks a strided vector of n elements (positive increment) and returns false for a bad increment.
bool vector_ok(const double* v, int n, int inc, const char* what) {
  if (inc <= 0) return false;  // negative increments are not emulated (no backend uses them)
  if (n > 0) require_device(v, (static_cast<size_t>(n - 1) * inc + 1) * sizeof(double), what);
  return true;
}
}  // namespace

cublasStatus_t cublasDdot(cublasHandle_t handle, int n, const double* x, int incx, const double* y, int incy,
                          double* result) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!result || n < 0 || !vector_ok(x, n, incx, "cublasDdot: x") || !vector_ok(y, n, incy, "cublasDdot: y"))
    return CUBLAS_STATUS_INVALID_VALUE;
  cudaStreamSynchronize(handle->stream);  // host pointer mode: the result is there when the call returns
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += x[static_cast<long long>(i) * incx] * y[static_cast<long long>(i) * incy];
  *result = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDnrm2(cublasHandle_t handle, int n, const double* x, int incx, double* result) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!result || n < 0 || !vector_ok(x, n, incx, "cublasDnrm2: x")) return CUBLAS_STATUS_INVALID_VALUE;
  cudaStreamSynchronize(handle->stream);
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += x[static_cast<long long>(i) * incx] * x[static_cast<long long>(i) * incx];
  *result = std::sqrt(s);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDaxpy(cublasHandle_t handle, int n, const double* alpha, const double* x, int incx, double* y,
                           int incy) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!alpha || n < 0 || !vector_ok(x, n, incx, "cublasDaxpy: x") || !vector_ok(y, n, incy, "cublasDaxpy: y"))
    return CUBLAS_STATUS_INVALID_VALUE;
  const double a = *alpha;
  bbo_emu::detail::enqueue(handle->stream, [=] {
    for (int i = 0; i < n; ++i) y[static_cast<long long>(i) * incy] += a * x[static_cast<long long>(i) * incx];
  });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDscal(cublasHandle_t handle, int n, const double* alpha, double* x, int incx) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!alpha || n < 0 || !vector_ok(x, n, incx, "cublasDscal: x")) return CUBLAS_STATUS_INVALID_VALUE;
  const double a = *alpha;
  bbo_emu::detail::enqueue(handle->stream, [=] {
    for (int i = 0; i < n; ++i) x[static_cast<long long>(i) * incx] *= a;
  });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDcopy(cublasHandle_t handle, int n, const double* x, int incx, double* y, int incy) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (n < 0 || !vector_ok(x, n, incx, "cublasDcopy: x") || !vector_ok(y, n, incy, "cublasDcopy: y"))
    return CUBLAS_STATUS_INVALID_VALUE;
  bbo_emu::detail::enqueue(handle->stream, [=] {
    for (int i = 0; i < n; ++i) y[static_cast<long long>(i) * incy] = x[static_cast<long long>(i) * incx];
  });
  return CUBLAS_STATUS_SUCCESS;
}
// C (n × n, the uplo triangle only) = alpha op(A) op(A)ᵀ + beta C; op(A) is n × k (trans N) or A is k × n (T).
cublasStatus_t cublasDsyrk(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans, int n, int k,
                           const double* alpha, const double* A, int lda, const double* beta, double* C, int ldc) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int a_rows = trans == CUBLAS_OP_N ? n : k;
  if (!valid_fill(uplo) || !valid_op(trans) || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldc < std::max(1, n) ||
      !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (n == 0) return CUBLAS_STATUS_SUCCESS;
  const double a = *alpha, b = *beta;
  if (k > 0 && a != 0.0) require_matrix(A, a_rows, trans == CUBLAS_OP_N ? k : n, lda, "cublasDsyrk: A");
  require_matrix(C, n, n, ldc, "cublasDsyrk: C");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    auto op = [&](int i, int l) {
      return trans == CUBLAS_OP_N ? A[i + static_cast<long long>(l) * lda] : A[l + static_cast<long long>(i) * lda];
    };
    for (int j = 0; j < n; ++j)
      for (int i = uplo == CUBLAS_FILL_MODE_LOWER ? j : 0; i < (uplo == CUBLAS_FILL_MODE_LOWER ? n : j + 1); ++i) {
        double s = 0.0;
        if (a != 0.0)
          for (int l = 0; l < k; ++l) s += op(i, l) * op(j, l);
        double& c = C[i + static_cast<long long>(j) * ldc];
        c = b == 0.0 ? a * s : a * s + b * c;
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cuSOLVER ----------------------------------------------------------------------------------------------

namespace {

// The workspace sizes the _bufferSize calls report (in doubles): arbitrary but n-dependent and different per
// routine, so that a workspace sized for one routine and used by another shows.
int potrf_lwork(int n) { return 32 * std::max(n, 1) + 1; }
int potri_lwork(int n) { return 64 * std::max(n, 1) + 3; }

// The element (i, j), i ≥ j, of the factor stored in the `uplo` triangle (upper: its transpose).
struct Tri {
  double* a;
  int lda;
  bool lower;
  double& operator()(int i, int j) const {
    return lower ? a[i + static_cast<long long>(j) * lda] : a[j + static_cast<long long>(i) * lda];
  }
};

void write_info(int* info, int v) { *info = v; }

cusolverStatus_t solver_args(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, int lda) {
  if (!live(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!valid_fill(uplo) || n < 0 || lda < std::max(1, n)) return CUSOLVER_STATUS_INVALID_VALUE;
  return CUSOLVER_STATUS_SUCCESS;
}

void require_workspace(double* work, int lwork, int needed, const char* what) {
  if (lwork < needed)
    fatal("%s: Lwork %d is smaller than the %d its _bufferSize call reports", what, lwork, needed);
  require_device(work, static_cast<size_t>(lwork) * sizeof(double), what);
}

}  // namespace

cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle) {
  if (!handle) return CUSOLVER_STATUS_INVALID_VALUE;
  *handle = new cusolverDnContext;
  add_handle(*handle);
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle) {
  if (!remove_handle(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  cudaDeviceSynchronize();
  delete handle;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle, cudaStream_t stream) {
  if (!live(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!bbo_emu::valid_stream(stream)) return CUSOLVER_STATUS_INVALID_VALUE;
  handle->stream = stream;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnGetStream(cusolverDnHandle_t handle, cudaStream_t* stream) {
  if (!live(handle)) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!stream) return CUSOLVER_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, double*, int lda,
                                             int* Lwork) {
  if (cusolverStatus_t s = solver_args(handle, uplo, n, lda); s != CUSOLVER_STATUS_SUCCESS) return s;
  if (!Lwork) return CUSOLVER_STATUS_INVALID_VALUE;
  *Lwork = potrf_lwork(n);
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDpotri_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, double*, int lda,
                                             int* Lwork) {
  if (cusolverStatus_t s = solver_args(handle, uplo, n, lda); s != CUSOLVER_STATUS_SUCCESS) return s;
  if (!Lwork) return CUSOLVER_STATUS_INVALID_VALUE;
  *Lwork = potri_lwork(n);
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, double* A, int lda,
                                  double* workspace, int Lwork, int* devInfo) {
  if (cusolverStatus_t s = solver_args(handle, uplo, n, lda); s != CUSOLVER_STATUS_SUCCESS) return s;
  require_device(devInfo, sizeof(int), "cusolverDnDpotrf: devInfo");
  require_workspace(workspace, Lwork, potrf_lwork(n), "cusolverDnDpotrf: workspace");
  require_matrix(A, n, n, lda, "cusolverDnDpotrf: A");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    std::memset(workspace, 0xff, static_cast<size_t>(Lwork) * sizeof(double));  // the library uses it
    const Tri L{A, lda, uplo == CUBLAS_FILL_MODE_LOWER};
    for (int j = 0; j < n; ++j) {
      double d = L(j, j);
      for (int k = 0; k < j; ++k) d -= L(j, k) * L(j, k);
      if (!(d > 0.0)) {  // LAPACK: a non-positive or NaN pivot
        write_info(devInfo, j + 1);
        return;
      }
      d = std::sqrt(d);
      L(j, j) = d;
      for (int i = j + 1; i < n; ++i) {
        double s = L(i, j);
        for (int k = 0; k < j; ++k) s -= L(i, k) * L(j, k);
        L(i, j) = s / d;
      }
    }
    write_info(devInfo, 0);
  });
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, int nrhs, const double* A,
                                  int lda, double* B, int ldb, int* devInfo) {
  if (cusolverStatus_t s = solver_args(handle, uplo, n, lda); s != CUSOLVER_STATUS_SUCCESS) return s;
  if (nrhs < 0 || ldb < std::max(1, n)) return CUSOLVER_STATUS_INVALID_VALUE;
  require_device(devInfo, sizeof(int), "cusolverDnDpotrs: devInfo");
  require_matrix(A, n, n, lda, "cusolverDnDpotrs: A");
  require_matrix(B, n, nrhs, ldb, "cusolverDnDpotrs: B");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    const Tri L{const_cast<double*>(A), lda, uplo == CUBLAS_FILL_MODE_LOWER};
    for (int c = 0; c < nrhs; ++c) {
      double* b = B + static_cast<long long>(c) * ldb;
      for (int i = 0; i < n; ++i) {  // L y = b
        double s = b[i];
        for (int k = 0; k < i; ++k) s -= L(i, k) * b[k];
        b[i] = s / L(i, i);
      }
      for (int i = n - 1; i >= 0; --i) {  // Lᵀ x = y
        double s = b[i];
        for (int k = i + 1; k < n; ++k) s -= L(k, i) * b[k];
        b[i] = s / L(i, i);
      }
    }
    write_info(devInfo, 0);
  });
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotri(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, double* A, int lda,
                                  double* work, int Lwork, int* devInfo) {
  if (cusolverStatus_t s = solver_args(handle, uplo, n, lda); s != CUSOLVER_STATUS_SUCCESS) return s;
  require_device(devInfo, sizeof(int), "cusolverDnDpotri: devInfo");
  require_workspace(work, Lwork, potri_lwork(n), "cusolverDnDpotri: workspace");
  require_matrix(A, n, n, lda, "cusolverDnDpotri: A");
  bbo_emu::detail::enqueue(handle->stream, [=] {
    std::memset(work, 0xff, static_cast<size_t>(Lwork) * sizeof(double));
    const Tri L{A, lda, uplo == CUBLAS_FILL_MODE_LOWER};
    for (int i = 0; i < n; ++i)
      if (L(i, i) == 0.0) {  // LAPACK dtrtri: a singular factor
        write_info(devInfo, i + 1);
        return;
      }
    // M = L⁻¹ (lower), then A⁻¹ = Mᵀ M into the uplo triangle.
    std::vector<double> M(static_cast<size_t>(n) * n, 0.0);
    auto m = [&](int i, int j) -> double& { return M[i + static_cast<size_t>(j) * n]; };
    for (int j = 0; j < n; ++j) {
      m(j, j) = 1.0 / L(j, j);
      for (int i = j + 1; i < n; ++i) {
        double s = 0.0;
        for (int k = j; k < i; ++k) s += L(i, k) * m(k, j);
        m(i, j) = -s / L(i, i);
      }
    }
    for (int j = 0; j < n; ++j)
      for (int i = j; i < n; ++i) {
        double s = 0.0;
        for (int k = i; k < n; ++k) s += m(k, i) * m(k, j);
        L(i, j) = s;
      }
    write_info(devInfo, 0);
  });
  return CUSOLVER_STATUS_SUCCESS;
}
