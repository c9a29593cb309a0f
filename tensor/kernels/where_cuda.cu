// where on CUDA: out[i] = cond[i] ? a[i] : b[i], one thread per element, grid-stride
// loops, 64-bit indices. A select copies bits, so results equal the CPU's exactly.
#include <cuda_runtime.h>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/where.h"

namespace lowbit::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride loops cover the rest

int64_t num_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return blocks < kMaxBlocks ? blocks : kMaxBlocks;
}

void check_launch(const char* op) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw_error(str_cat(op, ": CUDA kernel launch failed: ", cudaGetErrorString(err)));
}

// The device twin of ElementwiseLayout::offsets().
__device__ void layout_offsets(const ElementwiseLayout& L, int64_t i, int64_t* out) {
  for (int k = 0; k < L.noperands; ++k) out[k] = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % L.sizes[d];
    i /= L.sizes[d];
    for (int k = 0; k < L.noperands; ++k) out[k] += coord * L.strides[k][d];
  }
}

__device__ int64_t first_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

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
