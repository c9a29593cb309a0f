// optim_step on the CPU: OpenMP over fixed blocks of kChunk elements (cpu_loops.h), each
// block a Highway SIMD loop (dynamic dispatch) plus a scalar tail.
//
// The SIMD lanes evaluate the formulas of optim_step.h with the same operations in the
// same order: hn::MulAdd where the formula has std::fma, one Mul / Div / Sqrt / Add per
// IEEE operation, Neg as a sign flip. That is the same bits as ref:: only where MulAdd is
// a real fused multiply-add; on the targets where Highway emulates it with a separate
// multiply and add (SSSE3, SSE4, EMU128: HWY_NATIVE_FMA == 0) the whole block runs the
// scalar formula, whose std::fma is exact everywhere. Each element is computed on its
// own, so neither the block size nor the thread count changes any bit.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/optim_step_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cstdint>

#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/optim_step.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// n elements of one parameter; buf is null when momentum is off (sgd_element's rule).
template <typename T>
HWY_INLINE void SgdBlock(const SgdScalars<T>& s, T* HWY_RESTRICT w, const T* HWY_RESTRICT g, T* HWY_RESTRICT buf,
                         int64_t n) {
  int64_t i = 0;
#if HWY_NATIVE_FMA
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto neg_lr = hn::Set(d, s.neg_lr), momentum = hn::Set(d, s.momentum);
  const auto one_minus_dampening = hn::Set(d, s.one_minus_dampening), weight_decay = hn::Set(d, s.weight_decay);
  for (; i + N <= n; i += N) {
    const auto param = hn::LoadU(d, w + i);
    auto d_p = hn::LoadU(d, g + i);
    if (s.maximize) d_p = hn::Neg(d_p);
    if (s.use_weight_decay) d_p = hn::MulAdd(param, weight_decay, d_p);
    if (s.use_momentum) {
      const auto b =
          s.first_step ? d_p : hn::MulAdd(d_p, one_minus_dampening, hn::Mul(hn::LoadU(d, buf + i), momentum));
      hn::StoreU(b, d, buf + i);
      d_p = s.nesterov ? hn::MulAdd(b, momentum, d_p) : b;
    }
    hn::StoreU(hn::MulAdd(d_p, neg_lr, param), d, w + i);
  }
#endif
  for (; i < n; ++i) w[i] = sgd_element(s, w[i], g[i], buf ? buf + i : nullptr);
}

// vmax is null unless amsgrad.
template <typename T>
HWY_INLINE void AdamWBlock(const AdamWScalars<T>& s, T* HWY_RESTRICT w, const T* HWY_RESTRICT g, T* HWY_RESTRICT m,
                           T* HWY_RESTRICT v, T* HWY_RESTRICT vmax, int64_t n) {
  int64_t i = 0;
#if HWY_NATIVE_FMA
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto decay = hn::Set(d, s.decay), beta1 = hn::Set(d, s.beta1), one_minus_beta1 = hn::Set(d, s.one_minus_beta1);
  const auto beta2 = hn::Set(d, s.beta2), one_minus_beta2 = hn::Set(d, s.one_minus_beta2);
  const auto bias_correction2_sqrt = hn::Set(d, s.bias_correction2_sqrt), eps = hn::Set(d, s.eps);
  const auto neg_step_size = hn::Set(d, s.neg_step_size);
  for (; i + N <= n; i += N) {
    auto grad = hn::LoadU(d, g + i);
    if (s.maximize) grad = hn::Neg(grad);
    const auto param = hn::Mul(hn::LoadU(d, w + i), decay);
    const auto exp_avg = hn::MulAdd(grad, one_minus_beta1, hn::Mul(hn::LoadU(d, m + i), beta1));
    const auto exp_avg_sq = hn::MulAdd(hn::Mul(one_minus_beta2, grad), grad, hn::Mul(hn::LoadU(d, v + i), beta2));
    hn::StoreU(exp_avg, d, m + i);
    hn::StoreU(exp_avg_sq, d, v + i);
    auto used = exp_avg_sq;
    if (s.amsgrad) {  // nan_maximum(vmax, exp_avg_sq)
      const auto a = hn::LoadU(d, vmax + i);
      used = hn::IfThenElse(
          hn::IsNaN(a), a,
          hn::IfThenElse(hn::IsNaN(exp_avg_sq), exp_avg_sq, hn::IfThenElse(hn::Lt(a, exp_avg_sq), exp_avg_sq, a)));
      hn::StoreU(used, d, vmax + i);
    }
    const auto denom = hn::Add(hn::Div(hn::Sqrt(used), bias_correction2_sqrt), eps);
    hn::StoreU(hn::Add(param, hn::Div(hn::Mul(neg_step_size, exp_avg), denom)), d, w + i);
  }
#endif
  for (; i < n; ++i) w[i] = adamw_element(s, w[i], g[i], m + i, v + i, vmax ? vmax + i : nullptr);
}

void SgdF32(const SgdScalars<float>& s, float* w, const float* g, float* buf, int64_t n) { SgdBlock(s, w, g, buf, n); }
void SgdF64(const SgdScalars<double>& s, double* w, const double* g, double* buf, int64_t n) {
  SgdBlock(s, w, g, buf, n);
}
void AdamWF32(const AdamWScalars<float>& s, float* w, const float* g, float* m, float* v, float* vmax, int64_t n) {
  AdamWBlock(s, w, g, m, v, vmax, n);
}
void AdamWF64(const AdamWScalars<double>& s, double* w, const double* g, double* m, double* v, double* vmax,
              int64_t n) {
  AdamWBlock(s, w, g, m, v, vmax, n);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(SgdF32);
HWY_EXPORT(SgdF64);
HWY_EXPORT(AdamWF32);
HWY_EXPORT(AdamWF64);

namespace {

// fn(begin, count) for the blocks [b * kChunk, min(n, (b + 1) * kChunk)) on OpenMP threads.
template <typename Fn>
void for_each_block(int64_t n, Fn&& fn) {
  const int64_t blocks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b) fn(b * kChunk, std::min(kChunk, n - b * kChunk));
}

// Offsets a pointer that may be null (the optional state arrays).
template <typename T>
T* at(void* p, int64_t i) {
  return p ? static_cast<T*>(p) + i : nullptr;
}

}  // namespace

void sgd_step(const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const SgdScalars<T> s = sgd_scalars<T>(p);
    for_each_block(p.numel, [&](int64_t i, int64_t n) {
      T* w = static_cast<T*>(param) + i;
      const T* g = static_cast<const T*>(grad) + i;
      if constexpr (std::is_same_v<T, float>) {
        HWY_DYNAMIC_DISPATCH(SgdF32)(s, w, g, at<T>(momentum_buffer, i), n);
      } else {
        HWY_DYNAMIC_DISPATCH(SgdF64)(s, w, g, at<T>(momentum_buffer, i), n);
      }
    });
  });
}

void adamw_step(const AdamWStepParams& p, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
                void* max_exp_avg_sq) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const AdamWScalars<T> s = adamw_scalars<T>(p);
    for_each_block(p.numel, [&](int64_t i, int64_t n) {
      T* w = static_cast<T*>(param) + i;
      const T* g = static_cast<const T*>(grad) + i;
      T *m = at<T>(exp_avg, i), *v = at<T>(exp_avg_sq, i), *vmax = at<T>(max_exp_avg_sq, i);
      if constexpr (std::is_same_v<T, float>) {
        HWY_DYNAMIC_DISPATCH(AdamWF32)(s, w, g, m, v, vmax, n);
      } else {
        HWY_DYNAMIC_DISPATCH(AdamWF64)(s, w, g, m, v, vmax, n);
      }
    });
  });
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
