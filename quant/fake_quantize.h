// Differentiable fake quantization (custom autograd functions, autograd/function.h).
//
//   fake_quantize_per_tensor_affine / _per_channel_affine      torch.fake_quantize_*
//     y = (clamp(R(x / s) + z, qmin, qmax) - z) * s             QUANT_NUMERICS §3.1, §3.3
//     dx = dy * mask, no gradient to s or z                     §3.2 (straight-through)
//   fake_quantize_learnable_per_tensor_affine / _per_channel_affine
//     the same forward with s and z tensors that receive gradients:
//     formula pytorch  torch._fake_quantize_learnable_per_{tensor,channel}_affine (1.13),
//                      bit for bit per element (the default)
//     formula lsq      QUANT_NUMERICS §5.2 (LSQ), with g = grad_factor and mask option
//
// R, the scale application, where z is added and where the clamp sits follow the policy
// (quant/policy.h; PyTorch's by default: the results are then torch's bit for bit, see
// kernels/fake_quantize.h for the one deliberate difference on inf/NaN/|x/s| >= 2^63).
//
// Arguments (each violation throws lowbit::Error naming the op, the argument, the shapes
// and dtypes):
//   x           f32 or f64, any shape and strides (non-contiguous input is copied first)
//   qmin, qmax  integers with -2^23 <= qmin < qmax <= 2^23 (every 16-bit and smaller range)
//   fixed ops   scale > 0 and finite, used as a float32 value for f32 and f64 x alike
//               (torch passes its scale to the kernel as a float); zero points integers
//               in [qmin, qmax]. Per channel: scale 1-D f32/f64 and zero_point 1-D i32/i64
//               with x.size(axis) values each.
//   learnable   scale and zero_point of x's dtype (f64 runs the whole computation in
//               double, for gradcheck), one value per tensor (shape [] or [1]) or 1-D with
//               x.size(axis) values per channel; scale > 0 and finite, zero_point finite.
//   axis        in [-x.dim(), x.dim()); negative counts from the end.
//
// Learnable zero points are rounded before use, as torch does:
//   forward                    z = clamp(rne(zp), qmin, qmax)          (both torch ops)
//   backward, pytorch, tensor  z = trunc(clamp(zp + 0.5, qmin, qmax))  (torch's
//                              _get_zero_point_from_tensor(is_forward=false): zp = -2.4
//                              gives -1 here but -2 in the forward; kept, it is torch's)
//   backward, pytorch, channel z = clamp(rne(zp), qmin, qmax)
//   backward, lsq              the forward's z
// The gradients of scale and zero point are the per-element terms of the kernel summed
// over everything but the channel axis by raw::sum (double accumulation, rounded once to
// the dtype; deterministic). torch sums the same terms in float32, so totals agree to a
// rounding error, not bit for bit; per element (one element per channel) they are equal.
// torch also requires qmin <= 0 <= qmax for the learnable ops; lowbit does not.
#pragma once

#include <cstdint>

#include "quant/kernels/fake_quantize.h"
#include "quant/policy.h"
#include "tensor/tensor.h"

namespace lowbit::quant {

Tensor fake_quantize_per_tensor_affine(const Tensor& x, double scale, int64_t zero_point, int64_t qmin, int64_t qmax,
                                       const NumericPolicy& policy = NumericPolicy::pytorch());

Tensor fake_quantize_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point, int64_t axis,
                                        int64_t qmin, int64_t qmax,
                                        const NumericPolicy& policy = NumericPolicy::pytorch());

struct LearnableOptions {
  LearnableFormula formula = LearnableFormula::pytorch;
  LsqMask mask = LsqMask::pytorch;                  // lsq only
  NumericPolicy policy = NumericPolicy::pytorch();  // formula pytorch needs this one
};

Tensor fake_quantize_learnable_per_tensor_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point,
                                                 int64_t qmin, int64_t qmax, double grad_factor = 1.0,
                                                 const LearnableOptions& options = {});

Tensor fake_quantize_learnable_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point,
                                                  int64_t axis, int64_t qmin, int64_t qmax, double grad_factor = 1.0,
                                                  const LearnableOptions& options = {});

}  // namespace lowbit::quant
