#include "tensor/kernels/blas.h"

#include <dlfcn.h>

#include <cstdlib>

#include "tensor/config.h"
#include "tensor/error.h"

namespace lowbit::blas {

namespace {

// blas.h: the kernels OpenBLAS would pick for a CPU of its table with these features.
void choose_core() {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  __builtin_cpu_init();
  if (!__builtin_cpu_is("intel")) return;
  const char* core = nullptr;
  // SkylakeX rather than Cooperlake for AVX-512 BF16 CPUs: the same SGEMM/DGEMM kernels
  // (measured equal), and a name 0.3.21 accepts (it rejects "Cooperlake", OpenBLAS #3806).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    core = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    core = "Haswell";
  }
  if (core) setenv("OPENBLAS_CORETYPE", core, 0);
#endif
}

struct Library {
  decltype(&cblas_sgemm) sgemm;
  decltype(&cblas_dgemm) dgemm;
  decltype(&openblas_set_num_threads) set_num_threads;
  decltype(&openblas_get_corename) get_corename;
};

template <typename F>
F symbol(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  LOWBIT_CHECK(p, "OpenBLAS: ", LOWBIT_OPENBLAS_LIBRARY, " has no symbol ", name);
  return reinterpret_cast<F>(p);
}

Library load() {
  choose_core();
  void* h = dlopen(LOWBIT_OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  LOWBIT_CHECK(h, "OpenBLAS: cannot load ", LOWBIT_OPENBLAS_LIBRARY, ": ", dlerror(),
               " (scripts/setup.sh installs libopenblas-openmp-dev)");
  return Library{symbol<decltype(&cblas_sgemm)>(h, "cblas_sgemm"), symbol<decltype(&cblas_dgemm)>(h, "cblas_dgemm"),
                 symbol<decltype(&openblas_set_num_threads)>(h, "openblas_set_num_threads"),
                 symbol<decltype(&openblas_get_corename)>(h, "openblas_get_corename")};
}

const Library& lib() {
  static const Library l = load();  // thread-safe, once
  return l;
}

}  // namespace

void sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
           float alpha, const float* a, blasint lda, const float* b, blasint ldb, float beta, float* c, blasint ldc) {
  lib().sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
           double alpha, const double* a, blasint lda, const double* b, blasint ldb, double beta, double* c,
           blasint ldc) {
  lib().dgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void set_num_threads(int n) { lib().set_num_threads(n); }

const char* core_name() { return lib().get_corename(); }

}  // namespace lowbit::blas

namespace lowbit {
const char* blas_core_name() { return blas::core_name(); }
}  // namespace lowbit
