// OpenBLAS, reached through this file only (SGEMM/DGEMM for matmul and the conv lowerings).
//
// It is loaded with dlopen at its first use instead of at program start, so that its kernel
// set can be chosen first. OpenBLAS 0.3.21 (Debian 12's) picks its kernels when it is
// loaded, from a table of CPU models, and an Intel model newer than the table (Sapphire
// Rapids, Raptor Lake, ...) falls back to the SSE3 "Prescott" kernels (OpenBLAS issue
// #4267, fixed in 0.3.25): on a Sapphire Rapids VM sgemm was 2.5x slower and ResNet-18 at
// batch 1 took 51 ms instead of 20. OPENBLAS_CORETYPE overrides the choice, but only if it
// is in the environment when OpenBLAS initialises, which a program linked against it
// cannot arrange (its constructor runs before main, and glibc resets the environment
// after an executable's .preinit_array). So, before loading, if OPENBLAS_CORETYPE is unset
// and the CPU is Intel, it is set from the CPU's features to the kernels OpenBLAS itself
// uses for known CPUs with them: SkylakeX (AVX-512 F/VL/BW/DQ), Haswell (AVX2 + FMA). A user's own OPENBLAS_CORETYPE wins; AMD CPUs are left to OpenBLAS,
// which knows Zen. The library is the OpenMP build found at configure time
// (LOWBIT_OPENBLAS_LIBRARY), whose threads are our OpenMP pool.
#pragma once

#include <cblas.h>  // the CBLAS enums and blasint only: nothing links against OpenBLAS

namespace lowbit::blas {

void sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
           float alpha, const float* a, blasint lda, const float* b, blasint ldb, float beta, float* c, blasint ldc);
void dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
           double alpha, const double* a, blasint lda, const double* b, blasint ldb, double beta, double* c,
           blasint ldc);
void set_num_threads(int n);
const char* core_name();  // openblas_get_corename()

}  // namespace lowbit::blas
