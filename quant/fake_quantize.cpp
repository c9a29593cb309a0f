// Fake quantization as custom autograd functions: argument checks, the [outer, channels,
// inner] view of x, the zero-point rounding of the learnable ops, and the sums of the
// per-element scale / zero-point gradient terms. The arithmetic is in kernels/fake_quantize.h.
#include "quant/fake_quantize.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/function.h"
#include "tensor/ops.h"

namespace lowbit::quant {
namespace {

constexpr int64_t kMaxCode = int64_t{1} << 23;  // |qmin|, |qmax| <= 2^23: codes and q - z exact in f32

struct Layout {
  int64_t outer = 1, channels = 1, inner = 1;
};

void check_x(const char* op, const Tensor& x) {
  LOWBIT_CHECK(x.defined(), op, ": x is an undefined tensor");
  LOWBIT_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op, ": x must be f32 or f64, got ", describe(x));
}

void check_qrange(const char* op, int64_t qmin, int64_t qmax) {
  LOWBIT_CHECK(qmin < qmax, op, ": qmin must be less than qmax, got qmin ", qmin, " qmax ", qmax);
  LOWBIT_CHECK(qmin >= -kMaxCode && qmax <= kMaxCode, op, ": qmin and qmax must lie in [-2^23, 2^23] (codes exact in ",
               "float32), got qmin ", qmin, " qmax ", qmax);
}

void check_scale_value(const char* op, double s, int64_t index) {
  LOWBIT_CHECK(std::isfinite(s) && s > 0, op, ": scale must be positive and finite, got ", s,
               index >= 0 ? str_cat(" at channel ", index) : std::string());
}

Layout channel_layout(const char* op, const Tensor& x, int64_t axis) {
  const int64_t nd = x.dim();
  LOWBIT_CHECK(nd >= 1, op, ": x must have at least one dim for per-channel quantization, got ", describe(x));
  LOWBIT_CHECK(axis >= -nd && axis < nd, op, ": axis ", axis, " is out of range for x ", describe(x), " (expected ",
               -nd, "..", nd - 1, ")");
  if (axis < 0) axis += nd;
  Layout L;
  for (int64_t d = 0; d < axis; ++d) L.outer *= x.size(d);
  L.channels = x.size(axis);
  for (int64_t d = axis + 1; d < nd; ++d) L.inner *= x.size(d);
  return L;
}

FakeQuantizeParams make_params(DType dtype, const Layout& L, int64_t qmin, int64_t qmax, const NumericPolicy& policy) {
  FakeQuantizeParams p;
  p.dtype = dtype;
  p.outer = L.outer;
  p.channels = L.channels;
  p.inner = L.inner;
  p.qmin = qmin;
  p.qmax = qmax;
  p.policy = policy;
  return p;
}

// Host values as a kernel array of `dtype` on `device` (float32 values are exact in f64).
Tensor kernel_array(const std::vector<double>& values, DType dtype, Device device) {
  return from_vector(values).to(dtype).to(device);
}

// Float32 rounding of the fixed ops' scales (torch hands its kernels a float scale).
double as_float32(double s) { return static_cast<double>(static_cast<float>(s)); }

Tensor run_forward(const FakeQuantizeParams& p, const Tensor& xc, const Tensor& s, const Tensor& z) {
  Tensor y = empty(xc.sizes(), xc.dtype(), xc.device());
  fake_quantize_forward(xc.device(), p, y.data_ptr(), xc.data_ptr(), s.data_ptr(), z.data_ptr());
  return y;
}

// The fixed (non-learnable) op: forward y, backward dx = dy * mask (§3.2), recomputed from x.
Tensor apply_fixed(const char* op, const Tensor& x, const FakeQuantizeParams& p, const Tensor& s, const Tensor& z) {
  return apply_function(
      op, {x},
      [p, s, z](FunctionCtx& ctx, const std::vector<Tensor>& in) {
        const Tensor xc = in[0].contiguous();
        ctx.save_for_backward({xc});
        return run_forward(p, xc, s, z);
      },
      [p, s, z](FunctionCtx& ctx, const Tensor& gy) -> Grads {
        const Tensor xc = ctx.saved_tensors()[0];
        const Tensor gyc = gy.contiguous();
        Tensor dx = empty(xc.sizes(), xc.dtype(), xc.device());
        fake_quantize_backward(xc.device(), p, dx.data_ptr(), gyc.data_ptr(), xc.data_ptr(), s.data_ptr(),
                               z.data_ptr());
        return {dx};
      });
}

// ---- learnable ----

// Reads a learnable scale / zero point tensor: dtype of x, `count` values, 0-d or 1-D.
std::vector<double> learnable_values(const char* op, const char* name, const Tensor& t, const Tensor& x,
                                     int64_t count) {
  LOWBIT_CHECK(t.defined(), op, ": ", name, " is an undefined tensor");
  LOWBIT_CHECK(t.dtype() == x.dtype(), op, ": ", name, " must have x's dtype, got ", name, " ", describe(t), " and x ",
               describe(x));
  const bool shape_ok = count == 1 ? t.numel() == 1 && t.dim() <= 1 : t.dim() == 1 && t.numel() == count;
  LOWBIT_CHECK(shape_ok, op, ": ", name, " must have ",
               count == 1 ? "one value (shape [] or [1])" : str_cat(count, " values (1-D, one per channel)"), ", got ",
               describe(t), " for x ", describe(x));
  return t.to_vector<double>();
}

// The zero-point roundings, computed in the kernel's float type T (torch: float).
template <typename T>
T rne_clamped(T zp, int64_t qmin, int64_t qmax) {
  return std::clamp(std::nearbyint(zp), static_cast<T>(qmin), static_cast<T>(qmax));
}
template <typename T>
T plus_half_clamped_truncated(T zp, int64_t qmin, int64_t qmax) {
  return std::trunc(std::clamp(zp + T(0.5), static_cast<T>(qmin), static_cast<T>(qmax)));
}

// Forward (and lsq / per-channel pytorch backward) zero point: clamp(rne(zp), qmin, qmax).
double forward_zero_point(double zp, DType dtype, int64_t qmin, int64_t qmax) {
  if (dtype == DType::f32) return rne_clamped(static_cast<float>(zp), qmin, qmax);
  return rne_clamped(zp, qmin, qmax);
}

// torch's per-tensor backward zero point, _get_zero_point_from_tensor(..., is_forward=false):
// zero_point + 0.5f, clamped to [qmin, qmax] as a float, then static_cast<int64_t> (truncation).
double pytorch_tensor_backward_zero_point(double zp, DType dtype, int64_t qmin, int64_t qmax) {
  if (dtype == DType::f32) return plus_half_clamped_truncated(static_cast<float>(zp), qmin, qmax);
  return plus_half_clamped_truncated(zp, qmin, qmax);
}

Tensor apply_learnable(const char* op, const Tensor& x, const Tensor& scale, const Tensor& zero_point, const Layout& L,
                       int64_t qmin, int64_t qmax, double grad_factor, const LearnableOptions& options,
                       bool per_channel) {
  check_x(op, x);
  check_qrange(op, qmin, qmax);
  LOWBIT_CHECK(std::isfinite(grad_factor), op, ": grad_factor must be finite, got ", grad_factor);
  LOWBIT_CHECK(options.formula == LearnableFormula::lsq || has_pytorch_arithmetic(options.policy), op,
               ": formula pytorch reproduces torch's kernel and needs the pytorch policy's rounding, scale, ",
               "zero point and clamp; got ", to_string(options.policy), " (use formula lsq for other policies)");
  const int64_t count = per_channel ? L.channels : 1;
  const std::vector<double> s = learnable_values(op, "scale", scale, x, count);
  const std::vector<double> zp = learnable_values(op, "zero_point", zero_point, x, count);
  std::vector<double> z_fwd(count), z_bwd(count);
  for (int64_t c = 0; c < count; ++c) {
    check_scale_value(op, s[c], per_channel ? c : -1);
    LOWBIT_CHECK(std::isfinite(zp[c]), op, ": zero_point must be finite, got ", zp[c],
                 per_channel ? str_cat(" at channel ", c) : std::string());
    z_fwd[c] = forward_zero_point(zp[c], x.dtype(), qmin, qmax);
    const bool torch_tensor_rule = options.formula == LearnableFormula::pytorch && !per_channel;
    z_bwd[c] = torch_tensor_rule ? pytorch_tensor_backward_zero_point(zp[c], x.dtype(), qmin, qmax) : z_fwd[c];
  }
  const Device dev = x.device();
  const Tensor s_k = kernel_array(s, x.dtype(), dev);
  const Tensor z_fwd_k = kernel_array(z_fwd, x.dtype(), dev), z_bwd_k = kernel_array(z_bwd, x.dtype(), dev);
  FakeQuantizeLearnableParams lp;
  lp.fq = make_params(x.dtype(), L, qmin, qmax, options.policy);
  lp.formula = options.formula;
  lp.mask = options.mask;
  lp.grad_factor = grad_factor;
  const Shape scale_shape = scale.sizes(), zp_shape = zero_point.sizes();
  return apply_function(
      op, {x, scale, zero_point},
      [lp, s_k, z_fwd_k](FunctionCtx& ctx, const std::vector<Tensor>& in) {
        const Tensor xc = in[0].contiguous();
        ctx.save_for_backward({xc});
        return run_forward(lp.fq, xc, s_k, z_fwd_k);
      },
      [lp, s_k, z_bwd_k, scale_shape, zp_shape](FunctionCtx& ctx, const Tensor& gy) -> Grads {
        const Tensor xc = ctx.saved_tensors()[0];
        const Tensor gyc = gy.contiguous();
        Tensor dx = empty(xc.sizes(), xc.dtype(), xc.device());
        Tensor ds = empty(xc.sizes(), xc.dtype(), xc.device());
        Tensor dz = empty(xc.sizes(), xc.dtype(), xc.device());
        fake_quantize_learnable_backward(xc.device(), lp, dx.data_ptr(), ds.data_ptr(), dz.data_ptr(), gyc.data_ptr(),
                                         xc.data_ptr(), s_k.data_ptr(), z_bwd_k.data_ptr());
        // Sum the per-element terms over everything but the channel axis.
        const Shape v = {lp.fq.outer, lp.fq.channels, lp.fq.inner};
        const Tensor ds_sum = raw::sum(ds.view(v), {0, 2}).reshape(scale_shape);
        const Tensor dz_sum = raw::sum(dz.view(v), {0, 2}).reshape(zp_shape);
        return {dx, ds_sum, dz_sum};
      });
}

}  // namespace

Tensor fake_quantize_per_tensor_affine(const Tensor& x, double scale, int64_t zero_point, int64_t qmin, int64_t qmax,
                                       const NumericPolicy& policy) {
  const char* op = "fake_quantize_per_tensor_affine";
  check_x(op, x);
  check_qrange(op, qmin, qmax);
  check_scale_value(op, scale, -1);
  LOWBIT_CHECK(zero_point >= qmin && zero_point <= qmax, op, ": zero_point ", zero_point,
               " is outside [qmin, qmax] = [", qmin, ", ", qmax, "]");
  const double s32 = as_float32(scale);
  LOWBIT_CHECK(s32 > 0 && std::isfinite(s32), op, ": scale ", scale, " is not a positive finite float32 (it rounds to ",
               s32, ")");
  const Layout L{1, 1, x.numel()};
  const Tensor s = kernel_array({s32}, x.dtype(), x.device());
  const Tensor z = kernel_array({static_cast<double>(zero_point)}, x.dtype(), x.device());
  return apply_fixed(op, x, make_params(x.dtype(), L, qmin, qmax, policy), s, z);
}

Tensor fake_quantize_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point, int64_t axis,
                                        int64_t qmin, int64_t qmax, const NumericPolicy& policy) {
  const char* op = "fake_quantize_per_channel_affine";
  check_x(op, x);
  check_qrange(op, qmin, qmax);
  const Layout L = channel_layout(op, x, axis);
  LOWBIT_CHECK(scale.defined() && zero_point.defined(), op, ": scale and zero_point must be defined tensors");
  LOWBIT_CHECK(scale.dtype() == DType::f32 || scale.dtype() == DType::f64, op, ": scale must be f32 or f64, got ",
               describe(scale));
  LOWBIT_CHECK(zero_point.dtype() == DType::i32 || zero_point.dtype() == DType::i64, op,
               ": zero_point must be i32 or i64 (round a float zero point first), got ", describe(zero_point));
  LOWBIT_CHECK(scale.dim() == 1 && scale.numel() == L.channels, op,
               ": scale must be 1-D with one value per channel: x ", describe(x), " has ", L.channels,
               " channels along axis ", axis, ", scale is ", describe(scale));
  LOWBIT_CHECK(zero_point.dim() == 1 && zero_point.numel() == L.channels, op,
               ": zero_point must be 1-D with one value per channel: x ", describe(x), " has ", L.channels,
               " channels along axis ", axis, ", zero_point is ", describe(zero_point));
  std::vector<double> s = scale.to_vector<double>();
  const std::vector<double> z = zero_point.to_vector<double>();
  for (int64_t c = 0; c < L.channels; ++c) {
    check_scale_value(op, s[c], c);
    s[c] = as_float32(s[c]);
    LOWBIT_CHECK(s[c] > 0 && std::isfinite(s[c]), op, ": scale at channel ", c, " is not a positive finite float32");
    LOWBIT_CHECK(z[c] >= qmin && z[c] <= qmax, op, ": zero_point ", z[c], " at channel ", c,
                 " is outside [qmin, qmax] = [", qmin, ", ", qmax, "]");
  }
  return apply_fixed(op, x, make_params(x.dtype(), L, qmin, qmax, policy), kernel_array(s, x.dtype(), x.device()),
                     kernel_array(z, x.dtype(), x.device()));
}

Tensor fake_quantize_learnable_per_tensor_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point,
                                                 int64_t qmin, int64_t qmax, double grad_factor,
                                                 const LearnableOptions& options) {
  const char* op = "fake_quantize_learnable_per_tensor_affine";
  check_x(op, x);
  return apply_learnable(op, x, scale, zero_point, Layout{1, 1, x.numel()}, qmin, qmax, grad_factor, options, false);
}

Tensor fake_quantize_learnable_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point,
                                                  int64_t axis, int64_t qmin, int64_t qmax, double grad_factor,
                                                  const LearnableOptions& options) {
  const char* op = "fake_quantize_learnable_per_channel_affine";
  check_x(op, x);
  return apply_learnable(op, x, scale, zero_point, channel_layout(op, x, axis), qmin, qmax, grad_factor, options, true);
}

}  // namespace lowbit::quant
