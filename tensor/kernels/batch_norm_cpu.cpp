// batch_norm on the CPU: OpenMP over the N*C planes (each plane x[n, c, :] is S
// contiguous values), Highway SIMD (dynamic dispatch) in double lanes within a plane.
//
// Every kernel is a sequence of passes over the planes:
//   sums     each plane's sum goes to part[n*C + c] (16 interleaved partial sums per
//            plane, folded in a fixed pairwise tree); then channel c adds part[n*C + c]
//            for n = 0, 1, ... in order. Plane by plane, so the work splits evenly even
//            when C is smaller than the thread count.
//   per-element  y or dx of a plane from its channel's constants, with the reference's
//            operations in the reference's order (f32 widened to double exactly,
//            rounded once at the store), so given the same constants they are the
//            reference's bits. The eval forward is the exception: batch_norm.h defines it
//            in the dtype (y = x * a + b, then the fused activation), so it runs in the
//            dtype's lanes, again with the reference's operations in its order.
// Which thread runs a plane never changes what it computes, and the 16-partial blocking
// is the same on every SIMD target, so results depend on the shape alone.
// Against ref:: (one sequential sum per channel) the sums differ by rounding only;
// the bounds are derived in tests/batch_norm_test.cpp.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/batch_norm_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "tensor/kernels/batch_norm.h"
#include "tensor/kernels/cpu_sum.h"
#include "tensor/kernels/dtype_switch.h"

// Scalar helpers shared by every SIMD target and the driver (compiled once).

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {

using DD = hn::ScalableTag<double>;
using VD = hn::Vec<DD>;

// N consecutive values at p as doubles (f32 widened exactly), and back (rounded once).
HWY_INLINE VD LoadAsF64(DD dd, const float* HWY_RESTRICT p) {
  return hn::PromoteTo(dd, hn::LoadU(hn::Rebind<float, DD>(), p));
}
HWY_INLINE VD LoadAsF64(DD dd, const double* HWY_RESTRICT p) { return hn::LoadU(dd, p); }
HWY_INLINE void StoreFromF64(DD, VD v, float* HWY_RESTRICT p) {
  const hn::Rebind<float, DD> df;
  hn::StoreU(hn::DemoteTo(df, v), df, p);
}
HWY_INLINE void StoreFromF64(DD dd, VD v, double* HWY_RESTRICT p) { hn::StoreU(v, dd, p); }

// The sums of one plane of n values, element i into partial sum i % 16 (16/N vectors of
// N lanes, the scalar tail into the same partials), folded by fold16(), as row_sum() of
// cpu_sum.h (reduce_cpu.cpp) sums x or (x - mean)^2:
//   PlaneGradSums  out[0] = sum dy, out[1] = sum dy * (x - mean)
template <typename T>
HWY_INLINE void PlaneGradSums(const T* HWY_RESTRICT dy, const T* HWY_RESTRICT x, int64_t n, double mean,
                              double* out) {
  const DD dd;
  constexpr int64_t N = static_cast<int64_t>(hn::MaxLanes(DD()));
  constexpr int64_t K = kSumLanes / N;
  VD acc_dy[K], acc_dy_xmu[K];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) acc_dy[k] = acc_dy_xmu[k] = hn::Zero(dd);
  const VD m = hn::Set(dd, mean);
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes) {
#pragma GCC unroll 16
    for (int64_t k = 0; k < K; ++k) {
      const VD g = LoadAsF64(dd, dy + i + k * N);
      acc_dy[k] = hn::Add(acc_dy[k], g);
      acc_dy_xmu[k] = hn::Add(acc_dy_xmu[k], hn::Mul(g, hn::Sub(LoadAsF64(dd, x + i + k * N), m)));
    }
  }
  HWY_ALIGN double lanes_dy[kSumLanes], lanes_dy_xmu[kSumLanes];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) {
    hn::Store(acc_dy[k], dd, lanes_dy + k * N);
    hn::Store(acc_dy_xmu[k], dd, lanes_dy_xmu + k * N);
  }
  for (; i < n; ++i) {
    const double g = static_cast<double>(dy[i]);
    lanes_dy[i % kSumLanes] += g;
    lanes_dy_xmu[i % kSumLanes] += g * (static_cast<double>(x[i]) - mean);
  }
  out[0] = fold16(lanes_dy);
  out[1] = fold16(lanes_dy_xmu);
}

// y = ((x - mean) * invstd) * g + b over one plane.
template <typename T>
HWY_INLINE void PlaneNormalize(const T* HWY_RESTRICT x, T* HWY_RESTRICT y, int64_t n, const double* c) {
  const double mean = c[0], invstd = c[1], g = c[2], b = c[3];
  const DD dd;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vm = hn::Set(dd, mean), vi = hn::Set(dd, invstd), vg = hn::Set(dd, g), vb = hn::Set(dd, b);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const VD xhat = hn::Mul(hn::Sub(LoadAsF64(dd, x + i), vm), vi);
    StoreFromF64(dd, hn::Add(hn::Mul(xhat, vg), vb), y + i);
  }
  for (; i < n; ++i) y[i] = static_cast<T>(((static_cast<double>(x[i]) - mean) * invstd) * g + b);
}

// Eval y = act(x * a + b) over one plane, in T (batch_norm.h). The activations are written
// as batch_norm_act_apply's comparisons, so NaN and -0 come out as the reference's.
template <typename T>
HWY_INLINE void PlaneAffine(const T* HWY_RESTRICT x, T* HWY_RESTRICT y, int64_t n, T a, T b, BatchNormAct act) {
  const hn::ScalableTag<T> d;
  using VT = hn::Vec<decltype(d)>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const VT va = hn::Set(d, a), vb = hn::Set(d, b), zero = hn::Zero(d), six = hn::Set(d, T(6));
  auto apply = [&](VT v) {
    if (act == BatchNormAct::relu) return hn::IfThenElse(hn::Or(hn::Gt(v, zero), hn::IsNaN(v)), v, zero);
    if (act == BatchNormAct::relu6) return hn::IfThenElse(hn::Lt(v, zero), zero, hn::IfThenElse(hn::Gt(v, six), six, v));
    return v;
  };
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(apply(hn::Add(hn::Mul(hn::LoadU(d, x + i), va), vb)), d, y + i);
  for (; i < n; ++i) {
    const T ax = x[i] * a;
    y[i] = batch_norm_act_apply(act, static_cast<T>(ax + b));
  }
}

// Training dx = k * ((M * dy - sum_dy) - xhat * sum_dy_xhat), xhat = (x - mean) * invstd,
// with c = {mean, invstd, M, sum_dy, sum_dy_xhat, k}.
template <typename T>
HWY_INLINE void PlaneGradInput(const T* HWY_RESTRICT dy, const T* HWY_RESTRICT x, T* HWY_RESTRICT dx, int64_t n,
                               const double* c) {
  const double mean = c[0], invstd = c[1], M = c[2], sum_dy = c[3], sum_dy_xhat = c[4], k = c[5];
  const DD dd;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vm = hn::Set(dd, mean), vi = hn::Set(dd, invstd), vM = hn::Set(dd, M), vs = hn::Set(dd, sum_dy);
  const VD vsx = hn::Set(dd, sum_dy_xhat), vk = hn::Set(dd, k);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const VD xhat = hn::Mul(hn::Sub(LoadAsF64(dd, x + i), vm), vi);
    const VD t = hn::Sub(hn::Sub(hn::Mul(vM, LoadAsF64(dd, dy + i)), vs), hn::Mul(xhat, vsx));
    StoreFromF64(dd, hn::Mul(vk, t), dx + i);
  }
  for (; i < n; ++i) {
    const double xhat = (static_cast<double>(x[i]) - mean) * invstd;
    dx[i] = static_cast<T>(k * (M * static_cast<double>(dy[i]) - sum_dy - xhat * sum_dy_xhat));
  }
}

// Eval dx = dy * scale over one plane.
template <typename T>
HWY_INLINE void PlaneScale(const T* HWY_RESTRICT dy, T* HWY_RESTRICT dx, int64_t n, double scale) {
  const DD dd;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vs = hn::Set(dd, scale);
  int64_t i = 0;
  for (; i + N <= n; i += N) StoreFromF64(dd, hn::Mul(LoadAsF64(dd, dy + i), vs), dx + i);
  for (; i < n; ++i) dx[i] = static_cast<T>(static_cast<double>(dy[i]) * scale);
}

}  // namespace

// Non-template entry points for HWY_EXPORT (one per element type).
void PlaneGradSumsF32(const float* dy, const float* x, int64_t n, double mean, double* out) {
  PlaneGradSums(dy, x, n, mean, out);
}
void PlaneGradSumsF64(const double* dy, const double* x, int64_t n, double mean, double* out) {
  PlaneGradSums(dy, x, n, mean, out);
}
void PlaneAffineF32(const float* x, float* y, int64_t n, float a, float b, BatchNormAct act) {
  PlaneAffine(x, y, n, a, b, act);
}
void PlaneAffineF64(const double* x, double* y, int64_t n, double a, double b, BatchNormAct act) {
  PlaneAffine(x, y, n, a, b, act);
}
void PlaneNormalizeF32(const float* x, float* y, int64_t n, const double* c) { PlaneNormalize(x, y, n, c); }
void PlaneNormalizeF64(const double* x, double* y, int64_t n, const double* c) { PlaneNormalize(x, y, n, c); }
void PlaneGradInputF32(const float* dy, const float* x, float* dx, int64_t n, const double* c) {
  PlaneGradInput(dy, x, dx, n, c);
}
void PlaneGradInputF64(const double* dy, const double* x, double* dx, int64_t n, const double* c) {
  PlaneGradInput(dy, x, dx, n, c);
}
void PlaneScaleF32(const float* dy, float* dx, int64_t n, double scale) { PlaneScale(dy, dx, n, scale); }
void PlaneScaleF64(const double* dy, double* dx, int64_t n, double scale) { PlaneScale(dy, dx, n, scale); }

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(PlaneGradSumsF32);
HWY_EXPORT(PlaneGradSumsF64);
HWY_EXPORT(PlaneAffineF32);
HWY_EXPORT(PlaneAffineF64);
HWY_EXPORT(PlaneNormalizeF32);
HWY_EXPORT(PlaneNormalizeF64);
HWY_EXPORT(PlaneGradInputF32);
HWY_EXPORT(PlaneGradInputF64);
HWY_EXPORT(PlaneScaleF32);
HWY_EXPORT(PlaneScaleF64);

namespace {

constexpr int64_t kParallelWork = 32768;  // fewer elements than this stay on one thread

template <typename T>
constexpr bool kF32 = std::is_same_v<T, float>;

// The dispatched plane kernels, by element type.
template <typename T>
void plane_grad_sums(const T* dy, const T* x, int64_t n, double mean, double* out) {
  if constexpr (kF32<T>) HWY_DYNAMIC_DISPATCH(PlaneGradSumsF32)(dy, x, n, mean, out);
  else HWY_DYNAMIC_DISPATCH(PlaneGradSumsF64)(dy, x, n, mean, out);
}
template <typename T>
void plane_normalize(const T* x, T* y, int64_t n, const double* c) {
  if constexpr (kF32<T>) HWY_DYNAMIC_DISPATCH(PlaneNormalizeF32)(x, y, n, c);
  else HWY_DYNAMIC_DISPATCH(PlaneNormalizeF64)(x, y, n, c);
}
template <typename T>
void plane_affine(const T* x, T* y, int64_t n, T a, T b, BatchNormAct act) {
  if constexpr (kF32<T>) HWY_DYNAMIC_DISPATCH(PlaneAffineF32)(x, y, n, a, b, act);
  else HWY_DYNAMIC_DISPATCH(PlaneAffineF64)(x, y, n, a, b, act);
}
template <typename T>
void plane_grad_input(const T* dy, const T* x, T* dx, int64_t n, const double* c) {
  if constexpr (kF32<T>) HWY_DYNAMIC_DISPATCH(PlaneGradInputF32)(dy, x, dx, n, c);
  else HWY_DYNAMIC_DISPATCH(PlaneGradInputF64)(dy, x, dx, n, c);
}
template <typename T>
void plane_scale(const T* dy, T* dx, int64_t n, double scale) {
  if constexpr (kF32<T>) HWY_DYNAMIC_DISPATCH(PlaneScaleF32)(dy, dx, n, scale);
  else HWY_DYNAMIC_DISPATCH(PlaneScaleF64)(dy, dx, n, scale);
}

// fn(plane, n, c) for every plane = n*C + c, statically split over the OpenMP threads
// for inputs of kParallelWork elements or more.
template <typename Fn>
void for_each_plane(const BatchNormParams& p, Fn&& fn) {
  const int64_t planes = p.batch * p.channels;
#pragma omp parallel for schedule(static) if (planes * p.plane >= kParallelWork)
  for (int64_t plane = 0; plane < planes; ++plane) fn(plane, plane / p.channels, plane % p.channels);
}

// total[c] = sum over n, in order, of part[n*C + c].
std::vector<double> channel_totals(const BatchNormParams& p, const std::vector<double>& part) {
  std::vector<double> total(static_cast<size_t>(p.channels), 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t c = 0; c < p.channels; ++c) total[c] += part[n * p.channels + c];
  return total;
}

template <typename T>
double value_or(const T* p, int64_t c, double otherwise) {
  return p == nullptr ? otherwise : static_cast<double>(p[c]);
}

// Three passes over x: the sums for the means, the sums of squared deviations from
// them, then y; between them the per-channel work is serial (C values).
template <typename T>
void train_typed(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                 T* save_invstd, T* running_mean, T* running_var) {
  const int64_t S = p.plane, C = p.channels;
  const double M = static_cast<double>(p.batch * S);
  std::vector<double> part(static_cast<size_t>(p.batch * C));
  // Pass 1: mean = (1/M) sum x.
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t) { part[plane] = row_sum(x + plane * S, S, nullptr); });
  std::vector<double> mean = channel_totals(p, part);
  for (double& m : mean) m /= M;
  // Pass 2: q = sum (x - mean)^2.
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) { part[plane] = row_sum(x + plane * S, S, &mean[c]); });
  const std::vector<double> q = channel_totals(p, part);
  // Per channel: {mean, invstd, gamma, beta}, the statistics saved and the running update.
  std::vector<double> consts(static_cast<size_t>(4 * C));
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(q[c] / M + p.eps);
    consts[4 * c] = mean[c];
    consts[4 * c + 1] = invstd;
    consts[4 * c + 2] = value_or(gamma, c, 1.0);
    consts[4 * c + 3] = value_or(beta, c, 0.0);
    save_mean[c] = static_cast<T>(mean[c]);
    save_invstd[c] = static_cast<T>(invstd);
    if (running_mean != nullptr) {
      const double unbiased_var = q[c] / (M - 1);
      running_mean[c] =
          static_cast<T>((1 - p.momentum) * static_cast<double>(running_mean[c]) + p.momentum * mean[c]);
      running_var[c] =
          static_cast<T>((1 - p.momentum) * static_cast<double>(running_var[c]) + p.momentum * unbiased_var);
    }
  }
  // Pass 3: y.
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) {
    plane_normalize(x + plane * S, y + plane * S, S, &consts[4 * c]);
  });
}

// One pass: the reference's per-channel coefficients, then y plane by plane.
template <typename T>
void eval_typed(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, const T* running_mean,
                const T* running_var, T* y) {
  const int64_t S = p.plane, C = p.channels;
  std::vector<BatchNormEvalCoefficients<T>> ab(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    ab[c] = batch_norm_eval_coefficients<T>(static_cast<double>(running_mean[c]), static_cast<double>(running_var[c]),
                                            value_or(gamma, c, 1.0), value_or(beta, c, 0.0), p.eps);
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) {
    plane_affine(x + plane * S, y + plane * S, S, ab[c].a, ab[c].b, p.act);
  });
}

// sum dy and sum dy * (x - mean[c]) per channel (the reference's grad_sums).
template <typename T>
void grad_sums(const BatchNormParams& p, const T* dy, const T* x, const std::vector<double>& mean,
               std::vector<double>& sum_dy, std::vector<double>& sum_dy_xmu) {
  const int64_t S = p.plane;
  std::vector<double> part_dy(static_cast<size_t>(p.batch * p.channels)), part_dy_xmu(part_dy.size());
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) {
    double out[2];
    plane_grad_sums(dy + plane * S, x + plane * S, S, mean[c], out);
    part_dy[plane] = out[0];
    part_dy_xmu[plane] = out[1];
  });
  sum_dy = channel_totals(p, part_dy);
  sum_dy_xmu = channel_totals(p, part_dy_xmu);
}

// Two passes over (dy, x): the channel sums, then dx from the per-channel constants
// (computed with the reference's expressions, so dx differs only through the sums).
template <typename T>
void backward_typed(const BatchNormParams& p, const T* dy, const T* x, const T* gamma, const T* save_mean,
                    const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const int64_t S = p.plane, C = p.channels;
  const double M = static_cast<double>(p.batch * S);
  std::vector<double> mean(static_cast<size_t>(C)), sum_dy, sum_dy_xmu;
  for (int64_t c = 0; c < C; ++c) mean[c] = static_cast<double>(save_mean[c]);
  grad_sums(p, dy, x, mean, sum_dy, sum_dy_xmu);
  // Per channel: {mean, invstd, M, sum_dy, sum_dy_xhat, k = invstd * gamma / M}.
  std::vector<double> consts(static_cast<size_t>(6 * C));
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = static_cast<double>(save_invstd[c]);
    const double sum_dy_xhat = invstd * sum_dy_xmu[c];
    if (dgamma != nullptr) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dbeta != nullptr) dbeta[c] = static_cast<T>(sum_dy[c]);
    const double k = invstd * value_or(gamma, c, 1.0) / M;
    const double cc[6] = {mean[c], invstd, M, sum_dy[c], sum_dy_xhat, k};
    std::copy(cc, cc + 6, &consts[6 * c]);
  }
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) {
    plane_grad_input(dy + plane * S, x + plane * S, dx + plane * S, S, &consts[6 * c]);
  });
}

// dx needs no sums (one pass); dgamma and dbeta take a second pass, when asked for.
template <typename T>
void eval_backward_typed(const BatchNormParams& p, const T* dy, const T* x, const T* gamma, const T* running_mean,
                         const T* running_var, T* dx, T* dgamma, T* dbeta) {
  const int64_t S = p.plane, C = p.channels;
  std::vector<double> mean(static_cast<size_t>(C)), invstd(static_cast<size_t>(C)), scale(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    mean[c] = static_cast<double>(running_mean[c]);
    invstd[c] = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + p.eps);
    scale[c] = value_or(gamma, c, 1.0) * invstd[c];
  }
  for_each_plane(p, [&](int64_t plane, int64_t, int64_t c) {
    plane_scale(dy + plane * S, dx + plane * S, S, scale[c]);
  });
  if (dgamma == nullptr && dbeta == nullptr) return;
  std::vector<double> sum_dy, sum_dy_xmu;
  grad_sums(p, dy, x, mean, sum_dy, sum_dy_xmu);
  for (int64_t c = 0; c < C; ++c) {
    if (dgamma != nullptr) dgamma[c] = static_cast<T>(invstd[c] * sum_dy_xmu[c]);
    if (dbeta != nullptr) dbeta[c] = static_cast<T>(sum_dy[c]);
  }
}

}  // namespace

// Entry points: pick the element type, run the drivers above.
void batch_norm_train(const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                      void* save_mean, void* save_invstd, void* running_mean, void* running_var) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    train_typed(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                static_cast<T*>(y), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                static_cast<T*>(running_mean), static_cast<T*>(running_var));
  });
}
void batch_norm_eval(const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                     const void* running_mean, const void* running_var, void* y) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    eval_typed(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
               static_cast<const T*>(running_mean), static_cast<const T*>(running_var), static_cast<T*>(y));
  });
}
void batch_norm_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                         const void* save_mean, const void* save_invstd, void* dx, void* dgamma, void* dbeta) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_typed(p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
                   static_cast<const T*>(save_mean), static_cast<const T*>(save_invstd), static_cast<T*>(dx),
                   static_cast<T*>(dgamma), static_cast<T*>(dbeta));
  });
}
void batch_norm_eval_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                              const void* running_mean, const void* running_var, void* dx, void* dgamma,
                              void* dbeta) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    eval_backward_typed(p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
                        static_cast<const T*>(running_mean), static_cast<const T*>(running_var),
                        static_cast<T*>(dx), static_cast<T*>(dgamma), static_cast<T*>(dbeta));
  });
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
