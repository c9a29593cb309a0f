// matmul: batched GEMM, c[b] = op(a[b]) @ op(b[b]) for b in [0, batch).
//
//   a[b] is m x k (or k x m stored, when trans_a), row-major with leading dim lda
//   b[b] is k x n (or n x k stored, when trans_b), row-major with leading dim ldb
//   c[b] is m x n, row-major with leading dim ldc, overwritten
//   batch_stride_* is the element distance between consecutive batches (0 broadcasts)
//
// The op layer (tensor/ops/matmul.cpp) maps NumPy matmul semantics to this: transposed
// views are passed as trans flags without copying; other layouts are made contiguous.
// f32 uses sgemm, f64 dgemm (OpenBLAS on the CPU, cuBLAS on CUDA). The reference
// accumulates each dot product in f64 in k order.
//
// Determinism: OpenBLAS's own threading gives different bits for 1 and 2 threads, so the
// CPU path never lets it thread. It calls single-threaded OpenBLAS on slices of the output
// chosen from the shape alone (batch entries, then 2 or 4 slices of the larger output dim
// for big GEMMs) and runs those calls on our OpenMP threads (matmul_cpu.cpp).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit {

struct MatmulParams {
  DType dtype = DType::f32;  // f32 or f64, all three operands
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch_stride_a = 0, batch_stride_b = 0, batch_stride_c = 0;
};

namespace ref { void matmul(const MatmulParams& p, const void* a, const void* b, void* c); }
namespace cpu { void matmul(const MatmulParams& p, const void* a, const void* b, void* c); }
namespace cuda { void matmul(const MatmulParams& p, const void* a, const void* b, void* c); }

inline void matmul(Device device, const MatmulParams& p, const void* a, const void* b, void* c) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::matmul(p, a, b, c);
    case Backend::cpu: return cpu::matmul(p, a, b, c);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::matmul(p, a, b, c);
#else
      throw_no_cuda("matmul");
#endif
  }
}

}  // namespace lowbit
