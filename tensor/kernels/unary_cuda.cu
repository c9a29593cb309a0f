// unary on CUDA: one thread per element, grid-stride loops, 64-bit indices.
//
// The formula is unary_apply from unary.h, shared with the reference and the CPU paths.
// Which functions agree bit for bit with the CPU:
//   neg abs sign relu floor ceil round clamp sqrt rsqrt   exact (IEEE operations: nvcc's
//       default -prec-div=true -prec-sqrt=true makes / and sqrt correctly rounded, and
//       rsqrt is spelled 1 / sqrt(x), two correctly rounded steps, never the rsqrt
//       approximation)
//   exp log tanh sigmoid pow   CUDA's libdevice vs glibc: each is within a few ulp of
//       the true value (CUDA Programming Guide, "Mathematical Functions": expf 2 ulp,
//       logf 1, tanhf 2, powf 4; double exp/log/tanh 1 ulp, pow 2), so CUDA and CPU may
//       differ in the last bits; tests/cuda_test.cpp states the bounds.
#include <cuda_runtime.h>

#include "tensor/kernels/cuda_loops.cuh"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/unary.h"

namespace lowbit::cuda {

namespace {

// 1-D: element i is out[i * so], x[i * sx].
template <typename T>
__global__ void unary_1d_kernel(UnaryOp op, T alpha, T beta, int64_t n, T* out, int64_t so, const T* x, int64_t sx) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i * so] = unary_apply(op, x[i * sx], alpha, beta);
}

template <typename T>
__global__ void unary_strided_kernel(UnaryOp op, T alpha, T beta, ElementwiseLayout L, T* out, const T* x) {
  int64_t off[kMaxOperands];
  for (int64_t i = first_index(); i < L.numel; i += grid_stride()) {
    layout_offsets(L, i, off);
    out[off[0]] = unary_apply(op, x[off[1]], alpha, beta);
  }
}

}  // namespace

void unary(const UnaryParams& p, void* out, const void* x) {
  const ElementwiseLayout& L = p.layout;
  if (L.numel == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    // Scalar parameters in the element type (clamp bounds saturate for integers, copy.h).
    const T alpha = convert<T>(p.alpha), beta = convert<T>(p.beta);
    T* o = static_cast<T*>(out);
    const T* in = static_cast<const T*>(x);
    const int blocks = static_cast<int>(num_blocks(L.numel));
    if (L.ndim <= 1) {
      unary_1d_kernel<T><<<blocks, kThreads>>>(p.op, alpha, beta, L.numel, o, L.inner_stride(0), in, L.inner_stride(1));
    } else {
      unary_strided_kernel<T><<<blocks, kThreads>>>(p.op, alpha, beta, L, o, in);
    }
    check_launch(unary_op_name(p.op));
  });
}

}  // namespace lowbit::cuda
