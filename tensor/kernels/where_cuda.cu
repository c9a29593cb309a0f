// where on CUDA: out[i] = cond[i] ? a[i] : b[i], one thread per element, grid-stride
// loops, 64-bit indices. A select copies bits, so results equal the CPU's exactly.
#include <cuda_runtime.h>

#include "tensor/kernels/cuda_loops.cuh"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/where.h"

namespace lowbit::cuda {

namespace {

// 1-D: element i is out[i * s0], cond[i * s1], a[i * s2], b[i * s3].
template <typename T>
__global__ void where_1d_kernel(int64_t n, T* out, int64_t s0, const uint8_t* cond, int64_t s1, const T* a,
                                int64_t s2, const T* b, int64_t s3) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i * s0] = cond[i * s1] ? a[i * s2] : b[i * s3];
}

template <typename T>
__global__ void where_strided_kernel(ElementwiseLayout L, T* out, const uint8_t* cond, const T* a, const T* b) {
  int64_t off[kMaxOperands];
  for (int64_t i = first_index(); i < L.numel; i += grid_stride()) {
    layout_offsets(L, i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

}  // namespace

void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  if (L.numel == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = static_cast<T*>(out);
    const uint8_t* c = static_cast<const uint8_t*>(cond);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    const int blocks = static_cast<int>(num_blocks(L.numel));
    if (L.ndim <= 1) {
      where_1d_kernel<T><<<blocks, kThreads>>>(L.numel, o, L.inner_stride(0), c, L.inner_stride(1), x,
                                               L.inner_stride(2), y, L.inner_stride(3));
    } else {
      where_strided_kernel<T><<<blocks, kThreads>>>(L, o, c, x, y);
    }
    check_launch("where");
  });
}

}  // namespace lowbit::cuda
