// What the CPU conv2d files share: conv2d_cpu.cpp (im2col + GEMMs, the entry points),
// conv2d_depthwise_cpu.cpp (direct Highway kernels for groups == C_in == C_out) and
// conv2d_rows_cpu.cpp (Highway row helpers). Internal to those files; nothing else includes it.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/device_memory.h"
#include "tensor/kernels/conv2d.h"

namespace lowbit::cpu {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- row helpers (conv2d_rows_cpu.cpp: Highway-dispatched, float and double) ------------

template <typename T>
void copy_strided(T* dst, const T* src, int64_t n, int64_t stride);  // dst[j] = src[j*stride], j < n
template <typename T>
void add_strided(T* dst, const T* src, int64_t n, int64_t stride);  // dst[j*stride] += src[j], j < n
template <typename T>
void add_scalar(T* x, int64_t n, T b);  // x[i] += b, i < n

// Row pieces are short (W_out elements: 7 in ResNet's last stage), where a call to memmove
// costs more than the copy.
template <typename T>
void copy_row(T* __restrict dst, const T* __restrict src, int64_t n) {
  if (n >= 64) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
  } else {
    for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
  }
}

// The output columns j in [0, count) of a row piece whose first tap reads input column
// x0 = out_x*stride - pad + filter_x*dilation, stepping by `stride`: those reading inside
// [0, width) are [lo, hi).
inline void valid_range(int64_t x0, int64_t stride, int64_t width, int64_t count, int64_t& lo, int64_t& hi) {
  lo = x0 >= 0 ? 0 : ceil_div(-x0, stride);
  hi = x0 >= width ? 0 : (width - 1 - x0) / stride + 1;
  lo = std::min(lo, count);
  hi = std::clamp(hi, lo, count);
}

// One scratch buffer per thread, allocated before the parallel region (nothing may throw
// inside it). Which thread uses which buffer does not affect any result.
template <typename T>
class ThreadScratch {
 public:
  explicit ThreadScratch(int64_t per_thread)
      : per_thread_(std::max<int64_t>(per_thread, 1)),
        bytes_(static_cast<size_t>(per_thread_ * omp_get_max_threads()) * sizeof(T)),
        data_(static_cast<T*>(cpu_alloc(bytes_))) {}
  ~ThreadScratch() { cpu_free(data_, bytes_); }
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
  T* mine() const { return data_ + per_thread_ * omp_get_thread_num(); }

 private:
  int64_t per_thread_;
  size_t bytes_;
  T* data_;
};

// ---- depthwise (conv2d_depthwise_cpu.cpp), float and double -------------------------------

bool is_depthwise(const Conv2dParams& p);  // groups == C_in == C_out
int64_t f32_lanes();  // f32 lanes of the SIMD target the Highway kernels dispatch to
template <typename T>
void depthwise_forward(const Conv2dParams& p, const T* input, const T* weight, const T* bias, T* output);
template <typename T>
void depthwise_backward_input(const Conv2dParams& p, const T* grad_output, const T* weight, T* grad_input);
template <typename T>
void depthwise_backward_weight(const Conv2dParams& p, const T* input, const T* grad_output, T* grad_weight);

// ---- Winograd F(4x4, 3x3) (conv2d_winograd_cpu.cpp), float only ----------------------------

// f32, 3x3, stride 1, no dilation, groups 1, equal padding <= 2, >= 16 channels each way,
// output >= 4x4, >= 48 output tiles over the batch, and winograd_enabled().
bool winograd_eligible(const Conv2dParams& p);
// output = conv(input, g) + bias with g[k][c] = weight[k][c], or, when flip_transpose,
// g[k][c] = weight[c][k] rotated by 180 degrees (weight then has shape (C_in, C_out, 3, 3)
// of p: the backward-input convolution). Requires winograd_eligible(p).
void winograd_forward(const Conv2dParams& p, const float* input, const float* weight, const float* bias,
                      float* output, bool flip_transpose);
// grad_weight = dL/dweight of that forward (flip_transpose false); requires winograd_eligible(p).
void winograd_backward_weight(const Conv2dParams& p, const float* input, const float* grad_output,
                              float* grad_weight);

// ---- 1x1 convolutions with a stride (conv2d_pointwise_cpu.cpp), f32 forward ----------------

// f32, 1x1, no padding, groups 1, stride > 1 along at least one axis.
bool pointwise_strided_eligible(const Conv2dParams& p);
// output = conv(input, weight) + bias (bias may be null); requires pointwise_strided_eligible(p).
void pointwise_strided_forward(const Conv2dParams& p, const float* input, const float* weight, const float* bias,
                               float* output);

}  // namespace lowbit::cpu
