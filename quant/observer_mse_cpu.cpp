// The MSE observer's error sums on the CPU (observer_mse.h): L = sum of d_j^2 with
// d_j = x_j - fake_quantize(x_j) in float32 and d_j^2 added in double into 16 partial sums,
// element j into partial j % 16 whatever the vector width (as tensor/kernels/reduce_cpu.cpp's
// RowSum), folded by fold16(). Two paths, both equal to ref::fq_squared_error bit for bit:
//   pytorch policy  one fused Highway pass: the fake quantization of
//                   quant/kernels/fake_quantize_cpu.cpp's pytorch instantiation, lane by lane,
//                   straight into the error sum; nothing is stored. ~3x faster than the
//                   generic path on 1M floats, which is what makes the 95-candidate search cheap.
//   other policies  the library's fake-quant kernel into a scratch buffer, then the sum.
// The fused pass computes y = clamp(rne(x * (1/s)), qmin - z, qmax - z) * s, which is the
// kernel's (clamp(rne(x * (1/s)) + z, qmin, qmax) - z) * s bit for bit: with integral
// codes of magnitude below 2^24 both sides are exact integer arithmetic, and a rounded
// r + z beyond the range clamps to the same bound (rounding is monotone, the bounds are
// representable). Min/Max instead of the kernel's compare-and-select, and the dropped
// + z - z, can only change the sign of a zero y, and d = x - (+-0) is the same.
// d * d of a float32 d is exact in double (48 significant bits), so MulAdd(d, d, acc) rounds
// exactly like the reference's acc + d * d.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/observer_mse_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <cstdint>

#include "quant/kernels/fake_quantize.h"
#include "quant/observer_mse.h"
#include "tensor/kernels/cpu_sum.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::quant::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DD = hn::ScalableTag<double>;
constexpr int64_t kLanes = lowbit::cpu::kSumLanes;

// The scalar tail of both kernels: d = x - y in float32, d^2 into partial i % 16.
HWY_INLINE void AddTail(double* lanes, int64_t i, float x, float y) {
  const float d = x - y;
  lanes[i % kLanes] += static_cast<double>(d) * static_cast<double>(d);
}

// y given (the generic path): sum of (x - y)^2 as above.
double SquaredErrorSum(const float* HWY_RESTRICT x, const float* HWY_RESTRICT y, int64_t n) {
  const DD dd;
  const hn::Rebind<float, DD> df;  // as many floats as a vector has doubles
  constexpr int64_t N = static_cast<int64_t>(hn::MaxLanes(DD()));
  constexpr int64_t K = kLanes / N;
  hn::Vec<DD> acc[K];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) acc[k] = hn::Zero(dd);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma GCC unroll 16
    for (int64_t k = 0; k < K; ++k) {
      const auto d = hn::PromoteTo(dd, hn::Sub(hn::LoadU(df, x + i + k * N), hn::LoadU(df, y + i + k * N)));
      acc[k] = hn::MulAdd(d, d, acc[k]);  // d * d exact: the same bits as the reference's acc + d * d
    }
  }
  HWY_ALIGN double lanes[kLanes];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) hn::Store(acc[k], dd, lanes + k * N);
  for (; i < n; ++i) AddTail(lanes, i, x[i], y[i]);
  return lowbit::cpu::fold16(lanes);
}

// The pytorch policy fused: y = clamp(rne(x * (1/s)), qmin - z, qmax - z) * s per lane.
double FusedPytorch(const float* HWY_RESTRICT x, int64_t n, float scale, float zero_point, float qmin, float qmax) {
  const DD dd;
  const hn::Rebind<float, DD> df;
  constexpr int64_t N = static_cast<int64_t>(hn::MaxLanes(DD()));
  constexpr int64_t K = kLanes / N;
  const float inv_scale = 1.0f / scale;  // the kernel's one IEEE division
  const auto vinv = hn::Set(df, inv_scale), vs = hn::Set(df, scale);
  const auto vlo = hn::Set(df, qmin - zero_point), vhi = hn::Set(df, qmax - zero_point);  // exact: integers <= 2^24
  hn::Vec<DD> acc[K];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) acc[k] = hn::Zero(dd);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma GCC unroll 16
    for (int64_t k = 0; k < K; ++k) {
      const auto vx = hn::LoadU(df, x + i + k * N);
      const auto code_minus_z = hn::Min(hn::Max(hn::Round(hn::Mul(vx, vinv)), vlo), vhi);
      const auto d = hn::PromoteTo(dd, hn::Sub(vx, hn::Mul(code_minus_z, vs)));
      acc[k] = hn::MulAdd(d, d, acc[k]);
    }
  }
  HWY_ALIGN double lanes[kLanes];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) hn::Store(acc[k], dd, lanes + k * N);
  const FqChannel<float> ch = fq_channel(scale, zero_point, static_cast<int64_t>(qmin), static_cast<int64_t>(qmax));
  for (; i < n; ++i) AddTail(lanes, i, x[i], fq_forward_element(x[i], ch, NumericPolicy::pytorch()));
  return lowbit::cpu::fold16(lanes);
}

}  // namespace lowbit::quant::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::quant::cpu {

HWY_EXPORT(SquaredErrorSum);
HWY_EXPORT(FusedPytorch);

namespace {
bool is_pytorch_fake_quant(const NumericPolicy& p) {  // the fields fake quantization reads
  return p.rounding == Rounding::half_even && p.scale == ScaleApply::multiply &&
         p.zero_point == ZeroPointOrder::after_rounding && p.clamp == ClampOrder::after_rounding;
}
}  // namespace

double fq_squared_error(const float* x, int64_t n, float scale, float zero_point, QRange range,
                        const NumericPolicy& policy, float* scratch) {
  if (is_pytorch_fake_quant(policy))
    return HWY_DYNAMIC_DISPATCH(FusedPytorch)(x, n, scale, zero_point, static_cast<float>(range.qmin),
                                              static_cast<float>(range.qmax));
  FakeQuantizeParams p;
  p.dtype = DType::f32;
  p.inner = n;
  p.qmin = range.qmin;
  p.qmax = range.qmax;
  p.policy = policy;
  fake_quantize_forward(p, scratch, x, &scale, &zero_point);
  return HWY_DYNAMIC_DISPATCH(SquaredErrorSum)(x, scratch, n);
}

}  // namespace lowbit::quant::cpu
#endif  // HWY_ONCE
