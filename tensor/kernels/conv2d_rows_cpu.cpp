// Row helpers of the CPU conv2d (conv2d_cpu.cpp, conv2d_depthwise_cpu.cpp): Highway kernels
// for the strided row copies and additions of im2col, col2im, the phased planes and the
// bias, behind the plain functions declared in conv2d_cpu_internal.h (float and double).
// Each is a vector loop plus a scalar tail that repeats the same formula.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/conv2d_rows_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[j] = src[j * stride] for j < n: im2col's copy of a strided row piece (stride >= 2).
// Stride 2 deinterleaves whole vectors; LoadInterleaved2 reads one element past the last
// one used, so the vector loop stops a vector early and the scalar loop finishes.
template <typename T>
HWY_INLINE void copy_strided(T* HWY_RESTRICT dst, const T* HWY_RESTRICT src, int64_t n, int64_t stride) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t j = 0;
  if (stride == 2) {
    for (; j + N < n; j += N) {
      hn::Vec<decltype(d)> even, odd;
      hn::LoadInterleaved2(d, src + 2 * j, even, odd);
      hn::StoreU(even, d, dst + j);
    }
  }
  for (; j < n; ++j) dst[j] = src[j * stride];
}

// x[i] += b for i < n (the bias of one output row).
template <typename T>
HWY_INLINE void add_scalar(T* HWY_RESTRICT x, int64_t n, T b) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto vb = hn::Set(d, b);
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(d, x + i), vb), d, x + i);
  for (; i < n; ++i) x[i] += b;
}

// dst[j * stride] += src[j] for j < n: col2im's scatter of a row piece. Stride 2 loads and
// stores whole (even, odd) vector pairs, writing the odd lanes back unchanged; like
// copy_strided it stops a vector early so that it never touches the element after the last.
template <typename T>
HWY_INLINE void add_strided(T* HWY_RESTRICT dst, const T* HWY_RESTRICT src, int64_t n, int64_t stride) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t j = 0;
  if (stride == 1) {
    for (; j + N <= n; j += N) hn::StoreU(hn::Add(hn::LoadU(d, dst + j), hn::LoadU(d, src + j)), d, dst + j);
  } else if (stride == 2) {
    for (; j + N < n; j += N) {
      hn::Vec<decltype(d)> even, odd;
      hn::LoadInterleaved2(d, dst + 2 * j, even, odd);
      hn::StoreInterleaved2(hn::Add(even, hn::LoadU(d, src + j)), odd, d, dst + 2 * j);
    }
  }
  for (; j < n; ++j) dst[j * stride] += src[j];
}

void AddStridedF32(float* dst, const float* src, int64_t n, int64_t stride) { add_strided(dst, src, n, stride); }
void AddStridedF64(double* dst, const double* src, int64_t n, int64_t stride) { add_strided(dst, src, n, stride); }
void CopyStridedF32(float* dst, const float* src, int64_t n, int64_t stride) { copy_strided(dst, src, n, stride); }
void CopyStridedF64(double* dst, const double* src, int64_t n, int64_t stride) { copy_strided(dst, src, n, stride); }
void AddScalarF32(float* x, int64_t n, float b) { add_scalar(x, n, b); }
void AddScalarF64(double* x, int64_t n, double b) { add_scalar(x, n, b); }

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <type_traits>

#include "tensor/kernels/conv2d_cpu_internal.h"

namespace lowbit::cpu {

HWY_EXPORT(CopyStridedF32);
HWY_EXPORT(CopyStridedF64);
HWY_EXPORT(AddScalarF32);
HWY_EXPORT(AddScalarF64);
HWY_EXPORT(AddStridedF32);
HWY_EXPORT(AddStridedF64);

template <typename T>
void copy_strided(T* dst, const T* src, int64_t n, int64_t stride) {
  if constexpr (std::is_same_v<T, float>) {
    HWY_DYNAMIC_DISPATCH(CopyStridedF32)(dst, src, n, stride);
  } else {
    HWY_DYNAMIC_DISPATCH(CopyStridedF64)(dst, src, n, stride);
  }
}

template <typename T>
void add_strided(T* dst, const T* src, int64_t n, int64_t stride) {
  if constexpr (std::is_same_v<T, float>) {
    HWY_DYNAMIC_DISPATCH(AddStridedF32)(dst, src, n, stride);
  } else {
    HWY_DYNAMIC_DISPATCH(AddStridedF64)(dst, src, n, stride);
  }
}

template <typename T>
void add_scalar(T* x, int64_t n, T b) {
  if constexpr (std::is_same_v<T, float>) {
    HWY_DYNAMIC_DISPATCH(AddScalarF32)(x, n, b);
  } else {
    HWY_DYNAMIC_DISPATCH(AddScalarF64)(x, n, b);
  }
}

template void copy_strided<float>(float*, const float*, int64_t, int64_t);
template void copy_strided<double>(double*, const double*, int64_t, int64_t);
template void add_strided<float>(float*, const float*, int64_t, int64_t);
template void add_strided<double>(double*, const double*, int64_t, int64_t);
template void add_scalar<float>(float*, int64_t, float);
template void add_scalar<double>(double*, int64_t, double);

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
