// matmul on CUDA: cuBLAS sgemm / dgemm, strided batched.
//
// cuBLAS is column-major and our matrices are row-major. A row-major m x n matrix with
// leading dim ld is, read column-major, its n x m transpose with the same ld. So
//   C = op(A) op(B)   (row-major)   <=>   C^T = op(B)^T op(A)^T   (column-major)
// and we ask cuBLAS for the column-major product with the operands swapped:
//   gemm(transa = trans_b, transb = trans_a, m' = n, n' = m, k' = k,
//        A' = b (ld ldb), B' = a (ld lda), C' = c (ld ldc)).
//
// The math mode is CUBLAS_DEFAULT_MATH (no TF32 tensor cores): an f32 matmul rounds like
// f32 everywhere, as the CPU's sgemm does. cuBLAS orders its sums differently from
// OpenBLAS, so results agree within a bound (tests/cuda_test.cpp), not bit for bit; for
// one GPU model and shape they are deterministic on the default stream.
//
// One cuBLAS handle per device, created on first use on that device and never destroyed
// (destroying it after the CUDA runtime is torn down at exit would crash).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <climits>
#include <mutex>
#include <vector>

#include "tensor/error.h"
#include "tensor/kernels/matmul.h"

namespace lowbit::cuda {

namespace {

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw_error(str_cat("matmul: ", what, ": ", cudaGetErrorString(err)));
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_error(str_cat("matmul: ", what, ": ", cublasGetStatusString(status), " (cuBLAS status ", int(status), ")"));
}

// The handle of the current device, bound to the legacy default stream.
cublasHandle_t handle_for_current_device() {
  static std::mutex mutex;
  static std::vector<cublasHandle_t> handles;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<int>(handles.size()) <= device) handles.resize(static_cast<size_t>(device) + 1, nullptr);
  if (handles[device] == nullptr) {
    cublasHandle_t h = nullptr;
    check_cublas(cublasCreate(&h), "cublasCreate");
    check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check_cublas(cublasSetStream(h, nullptr), "cublasSetStream");
    handles[device] = h;
  }
  return handles[device];
}

// A row-major rows x cols matrix with one row may carry any leading dim; cuBLAS insists
// on ld >= cols (in its terms, >= the rows of the column-major view), so give it that.
int64_t usable_ld(int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 1 && ld < cols) return cols;
  return ld < 1 ? 1 : ld;
}

int to_int(int64_t v, const char* name) {
  LOWBIT_CHECK(v >= 0 && v <= INT_MAX, "matmul: ", name, " = ", v, " does not fit cuBLAS's 32-bit int");
  return static_cast<int>(v);
}

// k == 0: every entry of c is an empty sum. c[b] is [m, n] with row stride ldc.
template <typename T>
__global__ void zero_output_kernel(T* c, int64_t batch, int64_t m, int64_t n, int64_t ldc, int64_t batch_stride_c) {
  const int64_t total = batch * m * n;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = e / (m * n), i = e / n % m, j = e % n;
    c[b * batch_stride_c + i * ldc + j] = T(0);
  }
}

cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                    const float* a, int lda, long long sa, const float* b, int ldb, long long sb,
                                    float* c, int ldc, long long sc, int batch) {
  const float one = 1, zero = 0;
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c, ldc, sc, batch);
}

cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                    const double* a, int lda, long long sa, const double* b, int ldb, long long sb,
                                    double* c, int ldc, long long sc, int batch) {
  const double one = 1, zero = 0;
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c, ldc, sc, batch);
}

template <typename T>
void run(const MatmulParams& p, const T* a, const T* b, T* c) {
  if (p.k == 0) {
    const int64_t total = p.batch * p.m * p.n;
    const int64_t blocks = (total + 255) / 256 < 8192 ? (total + 255) / 256 : 8192;
    zero_output_kernel<T><<<static_cast<int>(blocks), 256>>>(c, p.batch, p.m, p.n, p.ldc, p.batch_stride_c);
    check_cuda(cudaGetLastError(), "kernel launch");
    return;
  }
  // Stored (row-major) shapes: a is m x k or k x m, b is k x n or n x k, c is m x n.
  const int64_t lda = p.trans_a ? usable_ld(p.lda, p.k, p.m) : usable_ld(p.lda, p.m, p.k);
  const int64_t ldb = p.trans_b ? usable_ld(p.ldb, p.n, p.k) : usable_ld(p.ldb, p.k, p.n);
  const int64_t ldc = usable_ld(p.ldc, p.m, p.n);
  // Column-major view: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check_cublas(gemm_strided_batched(handle_for_current_device(), op_b, op_a, to_int(p.n, "n"), to_int(p.m, "m"),
                                    to_int(p.k, "k"), b, to_int(ldb, "ldb"), p.batch_stride_b, a, to_int(lda, "lda"),
                                    p.batch_stride_a, c, to_int(ldc, "ldc"), p.batch_stride_c, to_int(p.batch, "batch")),
               p.dtype == DType::f32 ? "cublasSgemmStridedBatched" : "cublasDgemmStridedBatched");
}

}  // namespace

void matmul(const MatmulParams& p, const void* a, const void* b, void* c) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  switch (p.dtype) {
    case DType::f32:
      return run(p, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c));
    case DType::f64:
      return run(p, static_cast<const double*>(a), static_cast<const double*>(b), static_cast<double*>(c));
    default: throw_error(str_cat("matmul: expected f32 or f64, got ", dtype_name(p.dtype)));
  }
}

}  // namespace lowbit::cuda
