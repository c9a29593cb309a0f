// copy / fill on CUDA: one thread per element, grid-stride loops, 64-bit indices.
//
// Two kernels per op: a 1-D path (the layout coalesced to at most one dim, which covers
// every contiguous tensor and every 1-D strided view: offset = i * stride) and a
// general path that turns the linear index into per-operand offsets like
// ElementwiseLayout::offsets(). The conversion rules are convert<>() from copy.h, the
// same function the CPU kernels call, so results are bit-identical.
//
// All kernels run on the legacy default stream of the current device (see
// device_memory_cuda.cu); errors of a launch are checked right after it.
#include <cuda_runtime.h>

#include "tensor/kernels/cuda_loops.cuh"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::cuda {

namespace {

// dst[i] = convert(src[i]); bool destinations normalise to 0/1 (copy.h).
template <typename D, typename S>
__device__ D convert_element(S v, bool to_bool) {
  return to_bool ? D(convert_to_bool(v)) : convert<D>(v);
}

// 1-D: out is dst[i * so], in is src[i * si] (so = si = 1 when contiguous).
template <typename D, typename S>
__global__ void copy_1d_kernel(int64_t n, D* dst, int64_t so, const S* src, int64_t si, bool to_bool) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) dst[i * so] = convert_element<D>(src[i * si], to_bool);
}

template <typename D, typename S>
__global__ void copy_strided_kernel(ElementwiseLayout L, D* dst, const S* src, bool to_bool) {
  int64_t off[kMaxOperands];
  for (int64_t i = first_index(); i < L.numel; i += grid_stride()) {
    layout_offsets(L, i, off);
    dst[off[0]] = convert_element<D>(src[off[1]], to_bool);
  }
}

template <typename T>
__global__ void fill_1d_kernel(int64_t n, T* dst, int64_t so, T v) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) dst[i * so] = v;
}

template <typename T>
__global__ void fill_strided_kernel(ElementwiseLayout L, T* dst, T v) {
  int64_t off[kMaxOperands];
  for (int64_t i = first_index(); i < L.numel; i += grid_stride()) {
    layout_offsets(L, i, off);
    dst[off[0]] = v;
  }
}

}  // namespace

void copy(const CopyParams& p, void* dst, const void* src) {
  const ElementwiseLayout& L = p.layout;
  if (L.numel == 0) return;
  // b8 -> b8 is a plain copy; anything else -> b8 normalises to 0/1.
  const bool to_bool = p.dst_dtype == DType::b8 && p.src_dtype != DType::b8;
  switch_dtype(p.dst_dtype, [&](auto dst_zero) {
    using D = decltype(dst_zero);
    switch_dtype(p.src_dtype, [&](auto src_zero) {
      using S = decltype(src_zero);
      D* out = static_cast<D*>(dst);
      const S* in = static_cast<const S*>(src);
      const int blocks = static_cast<int>(num_blocks(L.numel));
      if (L.ndim <= 1) {
        copy_1d_kernel<D, S><<<blocks, kThreads>>>(L.numel, out, L.inner_stride(0), in, L.inner_stride(1), to_bool);
      } else {
        copy_strided_kernel<D, S><<<blocks, kThreads>>>(L, out, in, to_bool);
      }
      check_launch("copy");
    });
  });
}

void fill(const FillParams& p, void* dst) {
  const ElementwiseLayout& L = p.layout;
  if (L.numel == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = p.dtype == DType::b8 ? T(convert_to_bool(p.value)) : convert<T>(p.value);
    T* out = static_cast<T*>(dst);
    const int blocks = static_cast<int>(num_blocks(L.numel));
    if (L.ndim <= 1) {
      fill_1d_kernel<T><<<blocks, kThreads>>>(L.numel, out, L.inner_stride(0), v);
    } else {
      fill_strided_kernel<T><<<blocks, kThreads>>>(L, out, v);
    }
    check_launch("fill");
  });
}

}  // namespace lowbit::cuda
