// CUDA loop helpers shared by the elementwise *_cuda.cu kernels (copy, binary, unary,
// where): the counterpart of cpu_loops.h. One thread per element, grid-stride loops,
// 64-bit indices. Included only from *_cuda.cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/error.h"
#include "tensor/kernels/elementwise.h"

namespace lowbit::cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride loops cover the rest

inline int64_t num_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return blocks < kMaxBlocks ? blocks : kMaxBlocks;
}

// Raises lowbit::Error naming `op` if the last kernel launch failed.
inline void check_launch(const char* op) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw_error(str_cat(op, ": CUDA kernel launch failed: ", cudaGetErrorString(err)));
}

// The device twin of ElementwiseLayout::offsets().
__device__ inline void layout_offsets(const ElementwiseLayout& L, int64_t i, int64_t* out) {
  for (int k = 0; k < L.noperands; ++k) out[k] = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % L.sizes[d];
    i /= L.sizes[d];
    for (int k = 0; k < L.noperands; ++k) out[k] += coord * L.strides[k][d];
  }
}

__device__ inline int64_t first_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

}  // namespace lowbit::cuda
