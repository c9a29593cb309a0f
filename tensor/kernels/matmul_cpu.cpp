// matmul on the CPU: OpenBLAS sgemm/dgemm (row-major, the trans flags of MatmulParams,
// alpha = 1, beta = 0), always called single-threaded, with our own OpenMP threads
// running independent calls side by side.
//
// Why not let OpenBLAS thread? Its result depends on its thread count: measured with
// OpenBLAS 0.3.21 on 512^3 and the ResNet-18 GEMMs of PERF.md, 5-20% of the elements of a
// 2-thread sgemm differ in the last bits from the 1-thread result, and so do the elements
// of a 1-thread call on a slice of C compared with the same elements of a call on all of C.
// DESIGN.md (contract 2) wants the same bits for every thread count, so the work is cut
// by a rule that depends on the shape only, never on num_threads():
//   work item = (batch entry, slice), where a GEMM with m*n*k >= kTwoSlicesMnk is cut into
//   2 (or, from kFourSlicesMnk, 4) slices of its larger output dim, at multiples of 16;
// and every item is one single-threaded OpenBLAS call. Which thread runs an item changes
// nothing, so the output is bit-identical on 1, 2 or any number of threads.
//
// Speed (2 cores, the shapes of bench/matmul_bench.cpp): two slices of the larger output
// dim, or four from ~800^3, run as fast as OpenBLAS's own 2-thread sgemm, and faster on
// skinny shapes it threads badly (512x49x4608). Slicing the smaller dim, or cutting 8
// slices, lost 15-27%: every slice packs its whole share of the other operand again.
// A batch of small GEMMs runs one whole GEMM per item.
#include <omp.h>

#include "tensor/kernels/blas.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/matmul.h"

namespace lowbit::cpu {

constexpr double kTwoSlicesMnk = 1 << 20;   // ~100^3: from here two threads pay off
constexpr double kFourSlicesMnk = 1 << 29;  // ~800^3: four slices still cost nothing
constexpr int64_t kSliceAlign = 16;         // slice boundaries: whole register tiles

// How one GEMM is cut: `count` slices of the rows of C (m) or of its columns (n).
struct Slicing {
  bool rows = true;
  int64_t count = 1;
};

static Slicing slicing(const MatmulParams& p) {
  const double mnk = static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
  Slicing s;
  s.rows = p.m >= p.n;
  s.count = mnk >= kFourSlicesMnk ? 4 : mnk >= kTwoSlicesMnk ? 2 : 1;
  s.count = std::min(s.count, std::max<int64_t>(1, (s.rows ? p.m : p.n) / kSliceAlign));  // no empty slices
  return s;
}

// [begin, end) of slice `i` of `extent`; inner boundaries at multiples of kSliceAlign.
static void slice_bounds(int64_t extent, int64_t count, int64_t i, int64_t& begin, int64_t& end) {
  begin = extent * i / count / kSliceAlign * kSliceAlign;
  end = i + 1 == count ? extent : extent * (i + 1) / count / kSliceAlign * kSliceAlign;
}

// C = op(A) @ op(B), m x n x k, every size at least 1. Runs on the calling thread only.
template <typename T>
static void gemm(const MatmulParams& p, int64_t m, int64_t n, const T* a, const T* b, T* c) {
  const CBLAS_TRANSPOSE ta = p.trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = p.trans_b ? CblasTrans : CblasNoTrans;
  const auto bm = static_cast<blasint>(m), bn = static_cast<blasint>(n), bk = static_cast<blasint>(p.k);
  const auto lda = static_cast<blasint>(p.lda), ldb = static_cast<blasint>(p.ldb), ldc = static_cast<blasint>(p.ldc);
  if constexpr (std::is_same_v<T, float>) {
    blas::sgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    blas::dgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0, a, lda, b, ldb, 0.0, c, ldc);
  }
}

template <typename T>
static void matmul_typed(const MatmulParams& p, const T* a, const T* b, T* c) {
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {  // an empty sum: C = 0 (BLAS would also check lda/ldb, which may be 0 here)
    for (int64_t batch = 0; batch < p.batch; ++batch)
      for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) c[batch * p.batch_stride_c + i * p.ldc + j] = T(0);
    return;
  }
  const Slicing s = slicing(p);
  const int64_t items = p.batch * s.count;
#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    // OpenBLAS (OpenMP build) runs single-threaded inside an active parallel region and,
    // in a team of one, when this task's thread count is 1: this only affects this region.
    omp_set_num_threads(1);
    const int64_t batch = item / s.count;
    const T* A = a + batch * p.batch_stride_a;  // m x k (k x m stored when trans_a)
    const T* B = b + batch * p.batch_stride_b;  // k x n (n x k stored when trans_b)
    T* C = c + batch * p.batch_stride_c;        // m x n
    int64_t begin, end;
    slice_bounds(s.rows ? p.m : p.n, s.count, item % s.count, begin, end);
    if (s.rows) {  // rows [begin, end) of op(A) and of C
      gemm(p, end - begin, p.n, A + (p.trans_a ? begin : begin * p.lda), B, C + begin * p.ldc);
    } else {       // columns [begin, end) of op(B) and of C
      gemm(p, p.m, end - begin, A, B + (p.trans_b ? begin * p.ldb : begin), C + begin);
    }
  }
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
