// matmul on the CPU: one OpenBLAS sgemm/dgemm call per batch entry (row-major, with the
// trans flags of MatmulParams, alpha = 1, beta = 0).
//
// Threads. We link the OpenMP build of OpenBLAS, which shares our OpenMP pool: outside a
// parallel region a GEMM uses num_threads() threads (OpenBLAS splits m and n, never k);
// inside one it runs single-threaded. A batch of small GEMMs is therefore run with the
// batch entries spread over our threads (OpenBLAS would not thread them anyway: it keeps
// m*n*k <= 4 * 65536 on one thread), and a batch of large GEMMs one after another, each
// threaded by OpenBLAS.
//
// Determinism. Both paths produce, for each output element, the same k-blocked
// accumulation (OpenBLAS's k blocking does not depend on the thread count), so results
// do not depend on num_threads(); tests/matmul_test.cpp checks this bit for bit.
#include <cblas.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/matmul.h"

namespace lowbit::cpu {

// Below this m*n*k a batch is spread over threads, one whole GEMM per thread at a time.
// 2^22 is about 160^3: from there on OpenBLAS's own threading is close to linear.
constexpr double kBatchParallelMnk = 4194304.0;

// C = op(A) @ op(B) for one batch entry; every size is at least 1 here.
template <typename T>
static void gemm(const MatmulParams& p, const T* a, const T* b, T* c) {
  const CBLAS_TRANSPOSE ta = p.trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = p.trans_b ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(p.m), n = static_cast<blasint>(p.n), k = static_cast<blasint>(p.k);
  const auto lda = static_cast<blasint>(p.lda), ldb = static_cast<blasint>(p.ldb), ldc = static_cast<blasint>(p.ldc);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
  }
}

template <typename T>
static void matmul_typed(const MatmulParams& p, const T* a, const T* b, T* c) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {  // an empty sum: C = 0 (BLAS would also read lda/ldb, which may be 0 here)
    for (int64_t batch = 0; batch < p.batch; ++batch)
      for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) c[batch * p.batch_stride_c + i * p.ldc + j] = T(0);
    return;
  }
  const double mnk = static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
  const bool spread = p.batch > 1 && mnk <= kBatchParallelMnk;
#pragma omp parallel for schedule(static) if (spread)
  for (int64_t batch = 0; batch < p.batch; ++batch)
    gemm(p, a + batch * p.batch_stride_a, b + batch * p.batch_stride_b, c + batch * p.batch_stride_c);
}

void matmul(const MatmulParams& p, const void* a, const void* b, void* c) {
  // OpenBLAS as packaged by Debian takes 32-bit sizes and leading dimensions.
  for (int64_t v : {p.m, p.n, p.k, p.lda, p.ldb, p.ldc})
    LOWBIT_CHECK(v <= INT_MAX, "matmul: size or leading dimension ", v,
                 " exceeds the 32-bit range of OpenBLAS (m=", p.m, " n=", p.n, " k=", p.k, ")");
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    matmul_typed(p, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c));
  });
}

}  // namespace lowbit::cpu
