// fake_quantize: fake quantization of a float tensor and its gradients.
//   forward            y = (clamp(R(x / s) + z, qmin, qmax) - z) * s      QUANT_NUMERICS §3.1, §3.3
//   backward           dx = dy * mask (straight-through estimator)         QUANT_NUMERICS §3.2
//   learnable_backward dx and the per-element terms of ds and dz for a learnable scale
//                      and zero point: PyTorch 1.13's _fake_quantize_learnable_*
//                      formulas, or LSQ's (Esser et al. 2020)             QUANT_NUMERICS §5.2
// R, the way 1/s is applied, where z is added and where the clamp sits come from the
// NumericPolicy (quant/policy.h).
//
// Layout: x, y, dy, dx, dscale, dzero_point are contiguous arrays of outer*channels*inner
// elements of `dtype`, viewed as [outer, channels, inner]; scale and zero_point are
// `channels` values of the same dtype (per tensor: channels = 1). Element (o, c, i) is at
// (o*channels + c)*inner + i and uses scale[c], zero_point[c]. Zero points passed here are
// integral (the op layer rounds learnable ones, quant/fake_quantize.h says how); scales > 0.
// Every f32 operation is done in float32 (1/s too), every f64 one in double.
//
// Non-finite inputs (where lowbit deliberately differs from PyTorch 1.13): PyTorch casts
// z + R(x/s) to int64, which is undefined for NaN and |x/s| >= 2^63; x86 returns INT64_MIN,
// so torch maps +inf, NaN and x = 1e30 all to qmin. Here the code stays a float and is
// clamped as a float: +inf -> qmax, -inf -> qmin, NaN -> y = NaN with mask 0. For every
// finite x with |x/s| < 2^63 the results are PyTorch's, bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/policy.h"
#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit::quant {

struct FakeQuantizeParams {
  DType dtype = DType::f32;  // f32 or f64: every array
  int64_t outer = 1, channels = 1, inner = 0;
  int64_t qmin = -128, qmax = 127;  // -2^23 <= qmin < qmax <= 2^23: codes and q - z exact in f32
  NumericPolicy policy = NumericPolicy::pytorch();
  int64_t numel() const { return outer * channels * inner; }
};

// Which gradient formulas learnable_backward evaluates.
//   pytorch  PyTorch 1.13's CPU kernels (_fake_quantize_grad_learnable_tensor_kernel /
//            _channel_kernel), operation for operation, including their two FMAs; needs
//            the pytorch policy (the kernel hard-codes its rounding and zero-point order).
//   lsq      QUANT_NUMERICS §5.2 under any policy.
enum class LearnableFormula : uint8_t { pytorch, lsq };
// The §5.2 mask option: pytorch tests the code after rounding (q = R(v) + z in range);
// paper tests v before rounding (qmin - z <= v <= qmax - z), so the half step beyond each
// end of the range counts as outside, which is also the mask a clamp-before policy gives.
enum class LsqMask : uint8_t { pytorch, paper };

// True when the fields fake quantization uses (rounding, scale, zero point, clamp) are
// PyTorch's; requantization does not matter here.
inline bool has_pytorch_arithmetic(const NumericPolicy& p) {
  return p.rounding == Rounding::half_even && p.scale == ScaleApply::multiply &&
         p.zero_point == ZeroPointOrder::after_rounding && p.clamp == ClampOrder::after_rounding;
}

struct FakeQuantizeLearnableParams {
  FakeQuantizeParams fq;
  LearnableFormula formula = LearnableFormula::pytorch;
  LsqMask mask = LsqMask::pytorch;  // lsq only
  double grad_factor = 1;           // g of §5.2 (PyTorch's grad_factor); rounded to dtype once
};

// ---- the per-element specification, shared by ref:: and the scalar tails of cpu:: ----

// Constants of one channel, in the kernel's float type.
template <typename T>
struct FqChannel {
  T scale, inv_scale, zero_point, qmin, qmax;  // inv_scale = T(1) / scale, one IEEE division
};

template <typename T>
FqChannel<T> fq_channel(T scale, T zero_point, int64_t qmin, int64_t qmax) {
  return {scale, T(1) / scale, zero_point, static_cast<T>(qmin), static_cast<T>(qmax)};
}

// One element through QUANT_NUMERICS §1 and §3.1:
//   v = x * (1/s) or x / s           the scaled value        (policy.scale)
//   u = v, or v + z                  what is rounded         (policy.zero_point)
//   clamp after:  q = R(u) (+ z), code = clamp(q, qmin, qmax)
//   clamp before: code = R(clamp(u, lo, hi)) (+ z), lo/hi = qmin/qmax, minus z when z is added after
// The STE mask tests the value the clamp sees (§3.2): q for clamp-after, u for clamp-before
// or when `test_unrounded` (LSQ's mask=paper). below/above/inside are all false for NaN.
template <typename T>
struct FqElement {
  T v;     // the scaled value
  T code;  // the clamped integer code (a float holding an integer), NaN for NaN x
  bool below, above, inside;
};

template <typename T>
T clamp_keep_nan(T a, T lo, T hi) {
  return a < lo ? lo : a > hi ? hi : a;
}

template <typename T>
FqElement<T> fq_element(T x, const FqChannel<T>& k, const NumericPolicy& p, bool test_unrounded = false) {
  const bool z_before = p.zero_point == ZeroPointOrder::before_rounding;
  const T v = p.scale == ScaleApply::multiply ? x * k.inv_scale : x / k.scale;
  const T u = z_before ? v + k.zero_point : v;
  const T lo = z_before ? k.qmin : k.qmin - k.zero_point;  // the range of u
  const T hi = z_before ? k.qmax : k.qmax - k.zero_point;
  FqElement<T> e;
  e.v = v;
  T tested;
  if (p.clamp == ClampOrder::after_rounding) {
    const T r = round_value(u, p.rounding);
    const T q = z_before ? r : r + k.zero_point;
    e.code = clamp_keep_nan(q, k.qmin, k.qmax);
    tested = test_unrounded ? u : q;
  } else {
    const T r = round_value(clamp_keep_nan(u, lo, hi), p.rounding);
    e.code = z_before ? r : r + k.zero_point;
    tested = u;
    test_unrounded = true;
  }
  const T tlo = test_unrounded ? lo : k.qmin, thi = test_unrounded ? hi : k.qmax;
  e.below = tested < tlo;
  e.above = tested > thi;
  e.inside = tlo <= tested && tested <= thi;
  return e;
}

// §3.1: y = (code - z) * s.
template <typename T>
T fq_forward_element(T x, const FqChannel<T>& k, const NumericPolicy& p) {
  return (fq_element(x, k, p).code - k.zero_point) * k.scale;
}

// §3.2: dx = dy * [inside], a multiplication as in PyTorch (dy * mask), so a masked
// negative dy gives -0 and a masked inf/NaN dy gives NaN, as torch's.
template <typename T>
T fq_backward_element(T dy, T x, const FqChannel<T>& k, const NumericPolicy& p) {
  return dy * static_cast<T>(fq_element(x, k, p).inside);
}

template <typename T>
struct LearnableGrads {
  T dx, dscale, dzero_point;
};

// PyTorch 1.13, aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp
// (_fake_quantize_grad_learnable_tensor_kernel; the channel kernel is the same per element):
//   int64_t xqi = std::nearbyint(zero_point + x * inv_scale);
//   dx = dy * (xqi >= quant_min && xqi <= quant_max);
//   float xfqi = (clamp(xqi) - zero_point) * scale;
//   outside: dzero_point = dy * (-1) * scale * grad_factor;
//            dscale = dy * (quant_min|quant_max - zero_point) * grad_factor;
//   inside:  dzero_point = 0;  dscale = dy * (xfqi - x) * inv_scale * grad_factor;
// torch is built with GCC's default -ffp-contract=fast, and both `zero_point + x * inv_scale`
// and `xfqi - x` (xfqi's product is never rounded on its own) are contracted into FMAs:
// measured on torch 1.13 with inputs whose fused and unfused results differ
// (tests/golden/make_quant_golden.py keeps such cases). Products are evaluated left to right.
// The zero point here is the backward's own rounding of the learnable one (fake_quantize.cpp).
template <typename T>
LearnableGrads<T> learnable_pytorch_element(T x, T dy, const FqChannel<T>& k, T grad_factor) {
  const T q = std::nearbyint(std::fma(x, k.inv_scale, k.zero_point));
  const bool below = q<k.qmin, above = q> k.qmax;
  LearnableGrads<T> g;
  g.dx = dy * static_cast<T>(k.qmin <= q && q <= k.qmax);
  if (below || above) {
    g.dzero_point = dy * T(-1) * k.scale * grad_factor;
    g.dscale = dy * ((below ? k.qmin : k.qmax) - k.zero_point) * grad_factor;
  } else {  // inside, or NaN x (then dscale is NaN)
    g.dzero_point = T(0);
    g.dscale = dy * std::fma(q - k.zero_point, k.scale, -x) * k.inv_scale * grad_factor;
  }
  return g;
}

// QUANT_NUMERICS §5.2 (LSQ), with the code of fq_element under the policy:
//   dx = dy * [inside]
//   ds = dy * ((code - z) - v) * g inside (= R(v) - v for z added after rounding),
//        dy * (qmin - z) * g below, dy * (qmax - z) * g above
//   dz = dy * (-1) * s * g outside, 0 inside (y = (qmin - z) s there; inside y does not
//        depend on z). NaN x: ds = NaN, dz = 0, dx = dy * 0.
template <typename T>
LearnableGrads<T> learnable_lsq_element(T x, T dy, const FqChannel<T>& k, const NumericPolicy& p, LsqMask mask,
                                        T grad_factor) {
  const FqElement<T> e = fq_element(x, k, p, mask == LsqMask::paper);
  LearnableGrads<T> g;
  g.dx = dy * static_cast<T>(e.inside);
  if (e.below || e.above) {
    g.dzero_point = dy * T(-1) * k.scale * grad_factor;
    g.dscale = dy * ((e.below ? k.qmin : k.qmax) - k.zero_point) * grad_factor;
  } else {
    g.dzero_point = T(0);
    g.dscale = dy * ((e.code - k.zero_point) - e.v) * grad_factor;
  }
  return g;
}

// ---- kernels: ref (plain loops), cpu (Highway + OpenMP), dispatch ----
//   forward             y  <- x
//   backward            dx <- dy, x
//   learnable_backward  dx, dscale, dzero_point (per element, to be summed per channel) <- dy, x
namespace ref {
void fake_quantize_forward(const FakeQuantizeParams& p, void* y, const void* x, const void* scale,
                           const void* zero_point);
void fake_quantize_backward(const FakeQuantizeParams& p, void* dx, const void* dy, const void* x, const void* scale,
                            const void* zero_point);
void fake_quantize_learnable_backward(const FakeQuantizeLearnableParams& p, void* dx, void* dscale, void* dzero_point,
                                      const void* dy, const void* x, const void* scale, const void* zero_point);
}  // namespace ref
namespace cpu {
void fake_quantize_forward(const FakeQuantizeParams& p, void* y, const void* x, const void* scale,
                           const void* zero_point);
void fake_quantize_backward(const FakeQuantizeParams& p, void* dx, const void* dy, const void* x, const void* scale,
                            const void* zero_point);
void fake_quantize_learnable_backward(const FakeQuantizeLearnableParams& p, void* dx, void* dscale, void* dzero_point,
                                      const void* dy, const void* x, const void* scale, const void* zero_point);
}  // namespace cpu

// No CUDA kernels yet: CUDA tensors get a clear error (throw_no_cuda_kernel).
inline void fake_quantize_forward(Device device, const FakeQuantizeParams& p, void* y, const void* x, const void* scale,
                                  const void* zero_point) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::fake_quantize_forward(p, y, x, scale, zero_point);
    case Backend::cpu:
      return cpu::fake_quantize_forward(p, y, x, scale, zero_point);
    case Backend::cuda:
      throw_no_cuda_kernel("fake_quantize");
  }
}

inline void fake_quantize_backward(Device device, const FakeQuantizeParams& p, void* dx, const void* dy, const void* x,
                                   const void* scale, const void* zero_point) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::fake_quantize_backward(p, dx, dy, x, scale, zero_point);
    case Backend::cpu:
      return cpu::fake_quantize_backward(p, dx, dy, x, scale, zero_point);
    case Backend::cuda:
      throw_no_cuda_kernel("fake_quantize backward");
  }
}

inline void fake_quantize_learnable_backward(Device device, const FakeQuantizeLearnableParams& p, void* dx,
                                             void* dscale, void* dzero_point, const void* dy, const void* x,
                                             const void* scale, const void* zero_point) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::fake_quantize_learnable_backward(p, dx, dscale, dzero_point, dy, x, scale, zero_point);
    case Backend::cpu:
      return cpu::fake_quantize_learnable_backward(p, dx, dscale, dzero_point, dy, x, scale, zero_point);
    case Backend::cuda:
      throw_no_cuda_kernel("fake_quantize_learnable backward");
  }
}

}  // namespace lowbit::quant
