// fake_quantize on the CPU: OpenMP over fixed chunks of at most kChunk elements, each a
// Highway SIMD loop (dynamic dispatch) plus a scalar tail that calls the reference's
// per-element formula (fake_quantize.h).
//
// Work items: the [outer, channels, inner] array is cut into rows that share constants,
//   per tensor           one row of outer*inner elements, s and z broadcast
//   per channel, inner>1 outer*channels rows of `inner` elements, s[c] and z[c] broadcast
//   per channel, inner=1 outer rows of `channels` elements, s and z loaded per lane
// and rows into chunks of kChunk. Every element is computed on its own, so neither the
// chunking nor the thread count can change a bit (DESIGN.md, contract 2).
//
// Exactness against ref:: (fake_quantize_ref.cpp): bit-identical, up to NaN payloads.
// The lanes perform the reference's IEEE operations in its order: one Mul or Div for
// x * (1/s) or x / s, Round (half to even) / Floor / Trunc for the three roundings, one
// Add or Sub per + and -. Two details keep the bits equal:
//   - zeros keep the sign std::nearbyint / std::round / std::floor give them: Highway
//     emulates Round/Floor/Trunc on targets without a rounding instruction (SSSE3, EMU128)
//     and returns +0 there, so the sign of the operand is copied back (a no-op elsewhere);
//   - the pytorch learnable formula has two fused multiply-adds; lanes use hn::MulAdd /
//     hn::MulSub only where they are real FMAs (HWY_NATIVE_FMA), elsewhere the whole
//     chunk runs the scalar formula, whose std::fma is exact on every machine.
// The pytorch policy (the default) gets its own instantiation in which the policy
// branches are compile-time constants; the other policies branch per vector (uniformly).

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/kernels/fake_quantize_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on
#include <hwy/cache_control.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "quant/kernels/fake_quantize.h"
#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"

// Shared by every SIMD target and the driver (compiled once): how a chunk is processed,
// with constants per lane (channels innermost) or broadcast, and whether full vectors are
// written with non-temporal stores (outputs too big for the cache).
#ifndef LOWBIT_FAKE_QUANTIZE_CPU_SHARED
#define LOWBIT_FAKE_QUANTIZE_CPU_SHARED
namespace lowbit::quant::cpu {
struct RowMode {
  bool per_lane = false;
  bool stream = false;
};
}  // namespace lowbit::quant::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace lowbit::quant::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// round_value() of policy.h, lane by lane.
template <class D, class V>
HWY_INLINE V RoundV(D d, V u, Rounding rounding) {
  using T = hn::TFromD<D>;
  if (rounding == Rounding::half_even) return hn::CopySign(hn::Round(u), u);
  if (rounding == Rounding::half_away) {
    // std::round: truncate, then step away from zero when the dropped fraction is >= 1/2.
    // u - trunc(u) is exact, and so is trunc(u) +- 1 (u has a fraction only below 2^23 / 2^52).
    const V t = hn::CopySign(hn::Trunc(u), u);
    const auto step = hn::Ge(hn::Abs(hn::Sub(u, t)), hn::Set(d, T(0.5)));
    return hn::IfThenElse(step, hn::Add(t, hn::CopySign(hn::Set(d, T(1)), u)), t);
  }
  const V w = hn::Add(u, hn::Set(d, T(0.5)));  // half_up: floor(u + 0.5), the sum rounded first
  return hn::CopySign(hn::Floor(w), w);
}

// a < lo ? lo : a > hi ? hi : a (NaN passes through), as clamp_keep_nan().
template <class V>
HWY_INLINE V ClampV(V a, V lo, V hi) {
  return hn::IfThenElse(hn::Lt(a, lo), lo, hn::IfThenElse(hn::Gt(a, hi), hi, a));
}

// One full vector of output: a plain store, or a non-temporal one (the address is aligned:
// the array is, and every chunk starts a multiple of 64 bytes in, see for_each_chunk).
template <class D>
HWY_INLINE void Put(D d, hn::Vec<D> v, hn::TFromD<D>* HWY_RESTRICT p, bool stream) {
  if (stream) {
    hn::Stream(v, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

template <class D>
struct ChannelV {
  hn::Vec<D> scale, inv_scale, zero_point, qmin, qmax;
};

// Constants for lanes [i, i + N): per lane from s[i..], z[i..], or broadcast from s[0], z[0].
template <class D, typename T>
HWY_INLINE ChannelV<D> LoadChannel(D d, const T* s, const T* z, bool per_lane, int64_t i, T qmin, T qmax) {
  ChannelV<D> k;
  if (per_lane) {
    k.scale = hn::LoadU(d, s + i);
    k.inv_scale = hn::Div(hn::Set(d, T(1)), k.scale);  // T(1) / s, the same IEEE division as fq_channel()
    k.zero_point = hn::LoadU(d, z + i);
  } else {
    k.scale = hn::Set(d, s[0]);
    k.inv_scale = hn::Set(d, T(1) / s[0]);
    k.zero_point = hn::Set(d, z[0]);
  }
  k.qmin = hn::Set(d, qmin);
  k.qmax = hn::Set(d, qmax);
  return k;
}

template <class D>
struct ElementV {
  hn::Vec<D> v, code;
  hn::Mask<D> below, above, inside;
};

// fq_element() of fake_quantize.h, lane by lane. kPytorch: the pytorch policy, fixed at
// compile time (multiply, half_even, z after rounding, clamp after rounding).
template <bool kPytorch, class D>
HWY_INLINE ElementV<D> Element(D d, hn::Vec<D> x, const ChannelV<D>& k, const NumericPolicy& p, bool test_unrounded) {
  using V = hn::Vec<D>;
  const bool z_before = !kPytorch && p.zero_point == ZeroPointOrder::before_rounding;
  const bool clamp_before = !kPytorch && p.clamp == ClampOrder::before_rounding;
  const Rounding rounding = kPytorch ? Rounding::half_even : p.rounding;
  ElementV<D> e;
  e.v = (kPytorch || p.scale == ScaleApply::multiply) ? hn::Mul(x, k.inv_scale) : hn::Div(x, k.scale);
  const V u = z_before ? hn::Add(e.v, k.zero_point) : e.v;
  const V lo = z_before ? k.qmin : hn::Sub(k.qmin, k.zero_point);
  const V hi = z_before ? k.qmax : hn::Sub(k.qmax, k.zero_point);
  V tested;
  if (!clamp_before) {
    const V r = RoundV(d, u, rounding);
    const V q = z_before ? r : hn::Add(r, k.zero_point);
    e.code = ClampV(q, k.qmin, k.qmax);
    tested = test_unrounded ? u : q;
  } else {
    const V r = RoundV(d, ClampV(u, lo, hi), rounding);
    e.code = z_before ? r : hn::Add(r, k.zero_point);
    tested = u;
    test_unrounded = true;
  }
  const V tlo = test_unrounded ? lo : k.qmin, thi = test_unrounded ? hi : k.qmax;
  e.below = hn::Lt(tested, tlo);
  e.above = hn::Gt(tested, thi);
  e.inside = hn::And(hn::Ge(tested, tlo), hn::Le(tested, thi));
  return e;
}

template <typename T>
FqChannel<T> ScalarChannel(const T* s, const T* z, bool per_lane, int64_t i, int64_t qmin, int64_t qmax) {
  return per_lane ? fq_channel(s[i], z[i], qmin, qmax) : fq_channel(s[0], z[0], qmin, qmax);
}

// y[i] = fake_quantize(x[i]) for i < n.
template <bool kPytorch, typename T>
HWY_INLINE void ForwardRow(const FakeQuantizeParams& p, T* HWY_RESTRICT y, const T* HWY_RESTRICT x, const T* s,
                           const T* z, RowMode mode, int64_t n) {
  using D = hn::ScalableTag<T>;
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const T qmin = static_cast<T>(p.qmin), qmax = static_cast<T>(p.qmax);
  ChannelV<D> k = LoadChannel(d, s, z, false, 0, qmin, qmax);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    if (mode.per_lane) k = LoadChannel(d, s, z, true, i, qmin, qmax);
    const ElementV<D> e = Element<kPytorch>(d, hn::LoadU(d, x + i), k, p.policy, false);
    Put(d, hn::Mul(hn::Sub(e.code, k.zero_point), k.scale), y + i, mode.stream);  // (code - z) * s
  }
  for (; i < n; ++i) y[i] = fq_forward_element(x[i], ScalarChannel(s, z, mode.per_lane, i, p.qmin, p.qmax), p.policy);
  if (mode.stream) hwy::FlushStream();  // order the non-temporal stores before the caller reads
}

// dx[i] = dy[i] * [inside].
template <bool kPytorch, typename T>
HWY_INLINE void BackwardRow(const FakeQuantizeParams& p, T* HWY_RESTRICT dx, const T* HWY_RESTRICT dy,
                            const T* HWY_RESTRICT x, const T* s, const T* z, RowMode mode, int64_t n) {
  using D = hn::ScalableTag<T>;
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const T qmin = static_cast<T>(p.qmin), qmax = static_cast<T>(p.qmax);
  const auto one = hn::Set(d, T(1));
  ChannelV<D> k = LoadChannel(d, s, z, false, 0, qmin, qmax);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    if (mode.per_lane) k = LoadChannel(d, s, z, true, i, qmin, qmax);
    const ElementV<D> e = Element<kPytorch>(d, hn::LoadU(d, x + i), k, p.policy, false);
    Put(d, hn::Mul(hn::LoadU(d, dy + i), hn::IfThenElseZero(e.inside, one)), dx + i, mode.stream);
  }
  for (; i < n; ++i)
    dx[i] = fq_backward_element(dy[i], x[i], ScalarChannel(s, z, mode.per_lane, i, p.qmin, p.qmax), p.policy);
  if (mode.stream) hwy::FlushStream();
}

// The learnable gradients of one row: dx, and per element the terms of dscale, dzero_point.
template <typename T>
HWY_INLINE void LearnableRow(const FakeQuantizeLearnableParams& lp, T* HWY_RESTRICT dx, T* HWY_RESTRICT ds,
                             T* HWY_RESTRICT dz, const T* HWY_RESTRICT dy, const T* HWY_RESTRICT x, const T* s,
                             const T* z, RowMode mode, int64_t n) {
  const FakeQuantizeParams& p = lp.fq;
  const bool pytorch = lp.formula == LearnableFormula::pytorch;
  const bool paper = lp.mask == LsqMask::paper;
  const T g = static_cast<T>(lp.grad_factor);
  int64_t i = 0;
#if HWY_NATIVE_FMA
  const bool simd = true;
#else
  const bool simd = !pytorch;  // the pytorch formula needs real FMAs: scalar std::fma below
#endif
  if (simd) {
    using D = hn::ScalableTag<T>;
    const D d;
    using V = hn::Vec<D>;
    const int64_t N = static_cast<int64_t>(hn::Lanes(d));
    const T qmin = static_cast<T>(p.qmin), qmax = static_cast<T>(p.qmax);
    const V one = hn::Set(d, T(1)), vg = hn::Set(d, g);
    ChannelV<D> k = LoadChannel(d, s, z, false, 0, qmin, qmax);
    for (; i + N <= n; i += N) {
      if (mode.per_lane) k = LoadChannel(d, s, z, true, i, qmin, qmax);
      const V vx = hn::LoadU(d, x + i), vdy = hn::LoadU(d, dy + i);
      hn::Mask<D> below, above, inside;
      V inside_term;  // what dy multiplies inside the range, before the grad factor
      if (pytorch) {
        // learnable_pytorch_element(): q = rne(fma(x, 1/s, z)); inside: fma(q - z, s, -x) * (1/s)
        const V t = hn::MulAdd(vx, k.inv_scale, k.zero_point);
        const V q = hn::CopySign(hn::Round(t), t);
        below = hn::Lt(q, k.qmin);
        above = hn::Gt(q, k.qmax);
        inside = hn::And(hn::Ge(q, k.qmin), hn::Le(q, k.qmax));
        inside_term = hn::MulSub(hn::Sub(q, k.zero_point), k.scale, vx);
      } else {
        // learnable_lsq_element(): (code - z) - v
        const ElementV<D> e = Element<false>(d, vx, k, p.policy, paper);
        below = e.below;
        above = e.above;
        inside = e.inside;
        inside_term = hn::Sub(hn::Sub(e.code, k.zero_point), e.v);
      }
      Put(d, hn::Mul(vdy, hn::IfThenElseZero(inside, one)), dx + i, mode.stream);
      const V bound = hn::Sub(hn::IfThenElse(below, k.qmin, k.qmax), k.zero_point);
      const auto outside = hn::Or(below, above);
      V dscale_in = hn::Mul(vdy, inside_term);
      if (pytorch) dscale_in = hn::Mul(dscale_in, k.inv_scale);
      const V dscale = hn::IfThenElse(outside, hn::Mul(vdy, bound), dscale_in);
      Put(d, hn::Mul(dscale, vg), ds + i, mode.stream);
      const V dzero = hn::Mul(hn::Mul(hn::Neg(vdy), k.scale), vg);  // dy * (-1) * s * g
      Put(d, hn::IfThenElseZero(outside, dzero), dz + i, mode.stream);
    }
  }
  for (; i < n; ++i) {
    const FqChannel<T> k = ScalarChannel(s, z, mode.per_lane, i, p.qmin, p.qmax);
    const LearnableGrads<T> r = pytorch ? learnable_pytorch_element(x[i], dy[i], k, g)
                                        : learnable_lsq_element(x[i], dy[i], k, p.policy, lp.mask, g);
    dx[i] = r.dx;
    ds[i] = r.dscale;
    dz[i] = r.dzero_point;
  }
  if (mode.stream) hwy::FlushStream();
}

template <typename T>
void ForwardImpl(const FakeQuantizeParams& p, T* y, const T* x, const T* s, const T* z, RowMode mode, int64_t n) {
  if (has_pytorch_arithmetic(p.policy)) return ForwardRow<true>(p, y, x, s, z, mode, n);
  ForwardRow<false>(p, y, x, s, z, mode, n);
}
template <typename T>
void BackwardImpl(const FakeQuantizeParams& p, T* dx, const T* dy, const T* x, const T* s, const T* z, RowMode mode,
                  int64_t n) {
  if (has_pytorch_arithmetic(p.policy)) return BackwardRow<true>(p, dx, dy, x, s, z, mode, n);
  BackwardRow<false>(p, dx, dy, x, s, z, mode, n);
}

void ForwardF32(const FakeQuantizeParams& p, float* y, const float* x, const float* s, const float* z, RowMode mode,
                int64_t n) {
  ForwardImpl(p, y, x, s, z, mode, n);
}
void ForwardF64(const FakeQuantizeParams& p, double* y, const double* x, const double* s, const double* z, RowMode mode,
                int64_t n) {
  ForwardImpl(p, y, x, s, z, mode, n);
}
void BackwardF32(const FakeQuantizeParams& p, float* dx, const float* dy, const float* x, const float* s,
                 const float* z, RowMode mode, int64_t n) {
  BackwardImpl(p, dx, dy, x, s, z, mode, n);
}
void BackwardF64(const FakeQuantizeParams& p, double* dx, const double* dy, const double* x, const double* s,
                 const double* z, RowMode mode, int64_t n) {
  BackwardImpl(p, dx, dy, x, s, z, mode, n);
}
void LearnableF32(const FakeQuantizeLearnableParams& lp, float* dx, float* ds, float* dz, const float* dy,
                  const float* x, const float* s, const float* z, RowMode mode, int64_t n) {
  LearnableRow(lp, dx, ds, dz, dy, x, s, z, mode, n);
}
void LearnableF64(const FakeQuantizeLearnableParams& lp, double* dx, double* ds, double* dz, const double* dy,
                  const double* x, const double* s, const double* z, RowMode mode, int64_t n) {
  LearnableRow(lp, dx, ds, dz, dy, x, s, z, mode, n);
}

}  // namespace lowbit::quant::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::quant::cpu {

HWY_EXPORT(ForwardF32);
HWY_EXPORT(ForwardF64);
HWY_EXPORT(BackwardF32);
HWY_EXPORT(BackwardF64);
HWY_EXPORT(LearnableF32);
HWY_EXPORT(LearnableF64);

namespace {

using lowbit::cpu::kChunk;
using lowbit::cpu::kParallelThreshold;

// Non-temporal stores pay off once the outputs no longer fit in the last-level cache.
constexpr int64_t kStreamBytes = 32 << 20;

bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// fn(offset, channel, mode, n): n elements from element `offset`, their constants at
// scale/zero_point index `channel` (the first lane's, when mode.per_lane). See the file
// comment. Streaming needs every chunk of every output to start on 64 bytes: outputs
// aligned, constants broadcast, and each row a multiple of 64 bytes long (or only one row).
template <typename T, typename Fn>
void for_each_chunk(const FakeQuantizeParams& p, bool outputs_aligned, Fn&& fn) {
  const int64_t numel = p.numel();
  if (numel == 0) return;
  RowMode mode;
  mode.per_lane = p.channels > 1 && p.inner == 1;
  const int64_t rows = p.channels == 1 ? 1 : mode.per_lane ? p.outer : p.outer * p.channels;
  const int64_t row_len = numel / rows;
  mode.stream = outputs_aligned && !mode.per_lane && numel * static_cast<int64_t>(sizeof(T)) >= kStreamBytes &&
                (rows == 1 || (row_len * static_cast<int64_t>(sizeof(T))) % 64 == 0);
  const int64_t chunks_per_row = (row_len + kChunk - 1) / kChunk;
  const int64_t items = rows * chunks_per_row;
#pragma omp parallel for schedule(static) if (numel >= kParallelThreshold)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t row = item / chunks_per_row;
    const int64_t start = (item % chunks_per_row) * kChunk;
    const int64_t channel = p.channels == 1 ? 0 : mode.per_lane ? start : row % p.channels;
    fn(row * row_len + start, channel, mode, std::min(kChunk, row_len - start));
  }
}

}  // namespace

void fake_quantize_forward(const FakeQuantizeParams& p, void* y, const void* x, const void* scale,
                           const void* zero_point) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* out = static_cast<T*>(y);
    const T* in = static_cast<const T*>(x);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    for_each_chunk<T>(p, aligned64(y), [&](int64_t off, int64_t c, RowMode mode, int64_t n) {
      if constexpr (std::is_same_v<T, float>) {
        HWY_DYNAMIC_DISPATCH(ForwardF32)(p, out + off, in + off, s + c, z + c, mode, n);
      } else {
        HWY_DYNAMIC_DISPATCH(ForwardF64)(p, out + off, in + off, s + c, z + c, mode, n);
      }
    });
  });
}

void fake_quantize_backward(const FakeQuantizeParams& p, void* dx, const void* dy, const void* x, const void* scale,
                            const void* zero_point) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* gx = static_cast<T*>(dx);
    const T* gy = static_cast<const T*>(dy);
    const T* in = static_cast<const T*>(x);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    for_each_chunk<T>(p, aligned64(dx), [&](int64_t off, int64_t c, RowMode mode, int64_t n) {
      if constexpr (std::is_same_v<T, float>) {
        HWY_DYNAMIC_DISPATCH(BackwardF32)(p, gx + off, gy + off, in + off, s + c, z + c, mode, n);
      } else {
        HWY_DYNAMIC_DISPATCH(BackwardF64)(p, gx + off, gy + off, in + off, s + c, z + c, mode, n);
      }
    });
  });
}

void fake_quantize_learnable_backward(const FakeQuantizeLearnableParams& p, void* dx, void* dscale, void* dzero_point,
                                      const void* dy, const void* x, const void* scale, const void* zero_point) {
  switch_float_dtype(p.fq.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* gx = static_cast<T*>(dx);
    T* gs = static_cast<T*>(dscale);
    T* gz = static_cast<T*>(dzero_point);
    const T* gy = static_cast<const T*>(dy);
    const T* in = static_cast<const T*>(x);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    for_each_chunk<T>(p.fq, aligned64(dx) && aligned64(dscale) && aligned64(dzero_point),
                      [&](int64_t off, int64_t c, RowMode mode, int64_t n) {
                        if constexpr (std::is_same_v<T, float>) {
                          HWY_DYNAMIC_DISPATCH(LearnableF32)
                          (p, gx + off, gs + off, gz + off, gy + off, in + off, s + c, z + c, mode, n);
                        } else {
                          HWY_DYNAMIC_DISPATCH(LearnableF64)
                          (p, gx + off, gs + off, gz + off, gy + off, in + off, s + c, z + c, mode, n);
                        }
                      });
  });
}

}  // namespace lowbit::quant::cpu
#endif  // HWY_ONCE
