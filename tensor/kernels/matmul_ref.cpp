// matmul reference: the specification the OpenBLAS and cuBLAS paths are tested against.
//
//   c[b][i][j] = sum_{kk = 0..k-1} A(b, i, kk) * B(b, kk, j)
//
// with A(b, i, kk) = a[b*bsa + i*lda + kk] (or a[b*bsa + kk*lda + i] when trans_a) and
// B(b, kk, j) = b[b*bsb + kk*ldb + j] (or b[b*bsb + j*ldb + kk] when trans_b).
// Each dot product is accumulated in double, in increasing kk, and rounded once to the
// output type. For f32 inputs every product is exact in double, so the only rounding
// errors are the k additions in double and the final rounding: the reference is within
// about 1 ulp of f32 of the exact result for any realistic k. k == 0 gives zeros.
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/matmul.h"

namespace lowbit::ref {

template <typename T>
static void matmul_typed(const MatmulParams& p, const T* a, const T* b, T* c) {
  // Element distances inside one matrix: stepping a row (i) or the inner index (kk) of A,
  // and the inner index (kk) or a column (j) of B.
  const int64_t a_row = p.trans_a ? 1 : p.lda, a_inner = p.trans_a ? p.lda : 1;
  const int64_t b_inner = p.trans_b ? 1 : p.ldb, b_col = p.trans_b ? p.ldb : 1;
  for (int64_t batch = 0; batch < p.batch; ++batch) {
    const T* A = a + batch * p.batch_stride_a;  // m x k
    const T* B = b + batch * p.batch_stride_b;  // k x n
    T* C = c + batch * p.batch_stride_c;        // m x n
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < p.k; ++kk)
          acc += static_cast<double>(A[i * a_row + kk * a_inner]) * static_cast<double>(B[kk * b_inner + j * b_col]);
        C[i * p.ldc + j] = static_cast<T>(acc);
      }
    }
  }
}

void matmul(const MatmulParams& p, const void* a, const void* b, void* c) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    matmul_typed(p, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c));
  });
}

}  // namespace lowbit::ref
