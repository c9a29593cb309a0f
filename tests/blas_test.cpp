// tensor/kernels/blas: OpenBLAS is loaded with vector kernels on every x86 CPU that has
// them, including Intel CPUs newer than Debian's OpenBLAS 0.3.21 knows (which it would run
// with its SSE3 "Prescott" kernels, 2.5x slower; blas.h), and it computes what the
// reference GEMM does.
#include "tensor/kernels/blas.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "tensor/config.h"

namespace lowbit {
namespace {

TEST(Blas, VectorKernelsWhereTheCpuHasThem) {
  const std::string core = blas_core_name();
  std::printf("OpenBLAS kernels: %s (OPENBLAS_CORETYPE=%s)\n", core.c_str(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "");
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    for (const char* old : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Northwood"}) {
      EXPECT_NE(core, old) << "an AVX2 CPU running OpenBLAS's pre-AVX kernels";
    }
  }
#endif
}

TEST(Blas, SgemmAndDgemmCompute) {
  // C = alpha A B^T + beta C on 3x2 * (4x2)^T, against the sums written out.
  const std::vector<double> a = {1, 2, 3, -4, 0.5, 6}, b = {1, 0, -1, 2, 3, 1, 0.25, -8};
  std::vector<double> c(12, 1.0), expected(12);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) expected[i * 4 + j] = 2 * (a[i * 2] * b[j * 2] + a[i * 2 + 1] * b[j * 2 + 1]) + 0.5;
  blas::dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3, 4, 2, 2.0, a.data(), 2, b.data(), 2, 0.5, c.data(), 4);
  EXPECT_EQ(c, expected);
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(12, 1.0f);
  blas::sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3, 4, 2, 2.0f, af.data(), 2, bf.data(), 2, 0.5f, cf.data(), 4);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(cf[i], static_cast<float>(expected[i])) << i;  // exact in f32 too
}

}  // namespace
}  // namespace lowbit
