// unary on the CPU. Rows along the innermost dim run on OpenMP threads (cpu_loops.h).
// Contiguous f32/f64 rows use Highway SIMD with dynamic dispatch; integer dtypes,
// strided rows, sign and pow use the scalar formula from unary.h.
//
// Exactness against the reference (std:: functions, unary_ref.cpp):
//   bit-identical  neg abs relu sqrt rsqrt floor ceil round clamp  (IEEE-exact ops)
//   within bounds  exp, log, tanh: Highway's contrib/math polynomials, documented at
//                  1, 4 and 4 ulp from the exact value; the reference (glibc) has its
//                  own error (tanh up to ~2 ulp), so the tested bounds against it are
//                  exp 2, log 4, tanh 6 ulp (measured worst on AVX2: 1, 1, 5). sigmoid
//                  is 1/(1+exp(-x)) on top of that exp: bound 5 (measured 4).
// Highway's math is only specified on a valid range, so special inputs (NaN, +-inf,
// overflow, 0 and negatives for log) are patched with masks to the IEEE results.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/unary_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include <limits>

#include "tensor/kernels/copy.h"
#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/unary.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp with IEEE behaviour outside Highway's valid range: NaN -> NaN, x above the
// overflow threshold -> +inf, x below the underflow threshold -> +0.
template <class D, class V>
HWY_INLINE V exp_ieee(D d, V x) {
  using T = hn::TFromD<D>;
  const T hi = sizeof(T) == 4 ? T(88.72283935546875) : T(709.782712893384);   // ln(max)
  const T lo = sizeof(T) == 4 ? T(-103.972077083991796) : T(-745.1332191019412);  // ln(min subnormal / 2)
  const V safe = hn::Min(hn::Max(x, hn::Set(d, lo)), hn::Set(d, hi));  // Min/Max: NaN patched below
  V r = hn::Exp(d, safe);
  r = hn::IfThenElse(hn::Gt(x, hn::Set(d, hi)), hn::Set(d, std::numeric_limits<T>::infinity()), r);
  r = hn::IfThenElse(hn::Lt(x, hn::Set(d, lo)), hn::Zero(d), r);
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

// log with IEEE special cases: log(+0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN -> NaN.
template <class D, class V>
HWY_INLINE V log_ieee(D d, V x) {
  using T = hn::TFromD<D>;
  const V inf = hn::Set(d, std::numeric_limits<T>::infinity());
  const auto valid = hn::And(hn::Gt(x, hn::Zero(d)), hn::Lt(x, inf));
  V r = hn::Log(d, hn::IfThenElse(valid, x, hn::Set(d, T(1))));
  r = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Neg(inf), r);
  r = hn::IfThenElse(hn::Eq(x, inf), inf, r);
  r = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Set(d, std::numeric_limits<T>::quiet_NaN()), r);
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

template <UnaryOp kOp, class D, class V>
HWY_INLINE V apply(D d, V x, V alpha, V beta) {
  using T = hn::TFromD<D>;
  if constexpr (kOp == UnaryOp::neg) return hn::Neg(x);
  if constexpr (kOp == UnaryOp::abs) return hn::Abs(x);
  if constexpr (kOp == UnaryOp::relu)  // x > 0 ? x : (NaN ? x : 0)
    return hn::IfThenElse(hn::Or(hn::Gt(x, hn::Zero(d)), hn::IsNaN(x)), x, hn::Zero(d));
  if constexpr (kOp == UnaryOp::exp) return exp_ieee(d, x);
  if constexpr (kOp == UnaryOp::log) return log_ieee(d, x);
  if constexpr (kOp == UnaryOp::sqrt) return hn::Sqrt(x);
  if constexpr (kOp == UnaryOp::rsqrt) return hn::Div(hn::Set(d, T(1)), hn::Sqrt(x));
  if constexpr (kOp == UnaryOp::tanh) return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
  if constexpr (kOp == UnaryOp::sigmoid) {
    const V one = hn::Set(d, T(1));
    return hn::Div(one, hn::Add(one, exp_ieee(d, hn::Neg(x))));
  }
  // floor, ceil and round keep the sign of x (floor(-0) = -0, ceil(-0.5) = round(-0.5) = -0).
  // Highway's emulations on targets without a rounding instruction (SSSE3, SCALAR) return
  // +0 there, so the sign is copied back; a no-op where the instruction exists.
  if constexpr (kOp == UnaryOp::floor) return hn::CopySign(hn::Floor(x), x);
  if constexpr (kOp == UnaryOp::ceil) return hn::CopySign(hn::Ceil(x), x);
  if constexpr (kOp == UnaryOp::round) return hn::CopySign(hn::Round(x), x);  // half to even
  if constexpr (kOp == UnaryOp::clamp) {  // NaN ? x : x < lo ? lo : x > hi ? hi : x
    const V lo_clamped = hn::IfThenElse(hn::Lt(x, alpha), alpha, x);
    const V clamped = hn::IfThenElse(hn::Gt(x, beta), beta, lo_clamped);
    return hn::IfThenElse(hn::IsNaN(x), x, clamped);
  }
  return x;
}

// out[i] = f(x[i]) for contiguous rows.
template <UnaryOp kOp, typename T>
HWY_INLINE void row(T* HWY_RESTRICT out, const T* HWY_RESTRICT x, int64_t n, T alpha, T beta) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto va = hn::Set(d, alpha), vb = hn::Set(d, beta);
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(apply<kOp>(d, hn::LoadU(d, x + i), va, vb), d, out + i);
  if (i < n) {  // the tail goes through the same SIMD formula on a padded vector
    HWY_ALIGN T buf[hn::MaxLanes(d)] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    hn::Store(apply<kOp>(d, hn::Load(d, buf), va, vb), d, buf);
    for (int64_t j = i; j < n; ++j) out[j] = buf[j - i];
  }
}

template <typename T>
void RowImpl(UnaryOp op, T* out, const T* x, int64_t n, T alpha, T beta) {
  switch (op) {
    case UnaryOp::neg: return row<UnaryOp::neg>(out, x, n, alpha, beta);
    case UnaryOp::abs: return row<UnaryOp::abs>(out, x, n, alpha, beta);
    case UnaryOp::relu: return row<UnaryOp::relu>(out, x, n, alpha, beta);
    case UnaryOp::exp: return row<UnaryOp::exp>(out, x, n, alpha, beta);
    case UnaryOp::log: return row<UnaryOp::log>(out, x, n, alpha, beta);
    case UnaryOp::sqrt: return row<UnaryOp::sqrt>(out, x, n, alpha, beta);
    case UnaryOp::rsqrt: return row<UnaryOp::rsqrt>(out, x, n, alpha, beta);
    case UnaryOp::tanh: return row<UnaryOp::tanh>(out, x, n, alpha, beta);
    case UnaryOp::sigmoid: return row<UnaryOp::sigmoid>(out, x, n, alpha, beta);
    case UnaryOp::floor: return row<UnaryOp::floor>(out, x, n, alpha, beta);
    case UnaryOp::ceil: return row<UnaryOp::ceil>(out, x, n, alpha, beta);
    case UnaryOp::round: return row<UnaryOp::round>(out, x, n, alpha, beta);
    case UnaryOp::clamp: return row<UnaryOp::clamp>(out, x, n, alpha, beta);
    default: break;  // sign, pow: scalar path
  }
}

void RowF32(UnaryOp op, float* out, const float* x, int64_t n, float alpha, float beta) {
  RowImpl(op, out, x, n, alpha, beta);
}
void RowF64(UnaryOp op, double* out, const double* x, int64_t n, double alpha, double beta) {
  RowImpl(op, out, x, n, alpha, beta);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(RowF32);
HWY_EXPORT(RowF64);

void unary(const UnaryParams& p, void* out, const void* x) {
  const ElementwiseLayout& L = p.layout;
  const int64_t so = L.inner_stride(0), sx = L.inner_stride(1);
  const bool simd_op = p.op != UnaryOp::sign && p.op != UnaryOp::pow;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T alpha = convert<T>(p.alpha), beta = convert<T>(p.beta);  // saturating (copy.h): clamp(i8, -1000, 1000)
    T* o = static_cast<T*>(out);
    const T* in = static_cast<const T*>(x);
    for_each_row_chunk(L, [&](const int64_t* off, int64_t n) {
      if constexpr (std::is_same_v<T, float>) {
        if (simd_op && so == 1 && sx == 1) return HWY_DYNAMIC_DISPATCH(RowF32)(p.op, o + off[0], in + off[1], n, alpha, beta);
      } else if constexpr (std::is_same_v<T, double>) {
        if (simd_op && so == 1 && sx == 1) return HWY_DYNAMIC_DISPATCH(RowF64)(p.op, o + off[0], in + off[1], n, alpha, beta);
      }
      for (int64_t i = 0; i < n; ++i) o[off[0] + i * so] = unary_apply(p.op, in[off[1] + i * sx], alpha, beta);
    });
  });
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
