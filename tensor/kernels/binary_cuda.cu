// binary on CUDA: one thread per element, grid-stride loops, 64-bit indices.
//
// The formula is binary_arith / binary_compare / binary_grad_mask from binary.h, the same
// functions the reference and the CPU scalar paths call; each is a single IEEE operation
// (or a comparison, or a select), so CUDA results are bit-identical to the CPU's. The 1-D path covers
// contiguous tensors, 1-D views and a broadcast scalar (stride 0); everything else goes
// through the per-operand offsets of the layout.
#include <cuda_runtime.h>

#include "tensor/kernels/cuda_loops.cuh"
#include "tensor/kernels/binary.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::cuda {

namespace {

// out is T for arithmetic and grad masks, uint8_t (b8) for comparisons. lo, hi: the
// hardtanh_backward bounds in T.
template <typename T>
__device__ void binary_element(BinaryOp op, void* out, int64_t o, T a, T b, T lo, T hi) {
  if (is_comparison(op)) {
    static_cast<uint8_t*>(out)[o] = binary_compare(op, a, b);
  } else if (is_grad_mask(op)) {
    static_cast<T*>(out)[o] = binary_grad_mask(op, a, b, lo, hi);
  } else {
    static_cast<T*>(out)[o] = binary_arith(op, a, b);
  }
}

// 1-D: element i is out[i * s0], a[i * s1], b[i * s2].
template <typename T>
__global__ void binary_1d_kernel(BinaryOp op, int64_t n, void* out, int64_t s0, const T* a, int64_t s1, const T* b,
                                 int64_t s2, T lo, T hi) {
  for (int64_t i = first_index(); i < n; i += grid_stride())
    binary_element(op, out, i * s0, a[i * s1], b[i * s2], lo, hi);
}

template <typename T>
__global__ void binary_strided_kernel(BinaryOp op, ElementwiseLayout L, void* out, const T* a, const T* b, T lo,
                                      T hi) {
  int64_t off[kMaxOperands];
  for (int64_t i = first_index(); i < L.numel; i += grid_stride()) {
    layout_offsets(L, i, off);
    binary_element(op, out, off[0], a[off[1]], b[off[2]], lo, hi);
  }
}

}  // namespace

void binary(const BinaryParams& p, void* out, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  if (L.numel == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    const T lo = convert<T>(p.min_val), hi = convert<T>(p.max_val);
    const int blocks = static_cast<int>(num_blocks(L.numel));
    if (L.ndim <= 1) {
      binary_1d_kernel<T><<<blocks, kThreads>>>(p.op, L.numel, out, L.inner_stride(0), x, L.inner_stride(1), y,
                                                L.inner_stride(2), lo, hi);
    } else {
      binary_strided_kernel<T><<<blocks, kThreads>>>(p.op, L, out, x, y, lo, hi);
    }
    check_launch(binary_op_name(p.op));
  });
}

}  // namespace lowbit::cuda
