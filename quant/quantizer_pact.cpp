#include "quant/quantizer_pact.h"

#include <algorithm>
#include <cmath>

#include "autograd/function.h"
#include "quant/fake_quantize.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

namespace {

// (s, z) for the clip level alpha: s = alpha / qmax unsigned, §2's symmetric rule signed.
QParams pact_qparams(double alpha, QRange range) {
  const auto a = static_cast<float>(alpha);
  return range.qmin >= 0 ? choose_qparams(0.0f, a, range, QScheme::symmetric)
                         : choose_qparams(-a, a, range, QScheme::symmetric);
}

}  // namespace

Tensor pact_passes(const Tensor& x, double alpha, bool is_signed) {
  const Tensor lo = full({}, is_signed ? -alpha : 0.0, x.dtype()), hi = full({}, alpha, x.dtype());
  const Tensor above_lo = is_signed ? raw::gt(x, lo) : raw::ge(x, lo);
  return raw::where(above_lo, raw::lt(x, hi), above_lo);  // above_lo && x < alpha
}

Tensor pact(const Tensor& x, const Tensor& alpha, QRange range, const NumericPolicy& policy) {
  const char* op = "pact";
  LOWBIT_CHECK(x.defined() && (x.dtype() == DType::f32 || x.dtype() == DType::f64), op,
               ": x must be f32 or f64, got ", describe(x));
  LOWBIT_CHECK(alpha.defined() && alpha.numel() == 1 && alpha.dtype() == x.dtype(), op,
               ": alpha must be one value of x's dtype, got alpha ", describe(alpha), " for x ", describe(x));
  const double a = alpha.item();
  LOWBIT_CHECK(a > 0 && std::isfinite(a), op, ": alpha must be positive and finite, got ", a);
  const bool is_signed = range.qmin < 0;
  const double lo = is_signed ? -a : 0.0;
  const QParams q = pact_qparams(a, range);
  return apply_function(
      op, {x, alpha},
      [=](FunctionCtx& ctx, const std::vector<Tensor>& in) {
        ctx.save_for_backward({in[0]});
        return fake_quantize_per_tensor_affine(raw::clamp(in[0], lo, a), q.scale, q.zero_point, range.qmin,
                                               range.qmax, policy);
      },
      [=](FunctionCtx& ctx, const Tensor& gy) -> Grads {
        const Tensor x0 = ctx.saved_tensors()[0];
        const Tensor zero = zeros({}, gy.dtype());
        const Tensor dx = raw::where(pact_passes(x0, a, is_signed), gy, zero);
        // dalpha: the elements clipped at the top, minus (signed) those clipped at the bottom.
        Tensor dalpha = raw::sum(raw::where(raw::ge(x0, full({}, a, x0.dtype())), gy, zero));
        if (is_signed) dalpha = raw::sub(dalpha, raw::sum(raw::where(raw::le(x0, full({}, -a, x0.dtype())), gy, zero)));
        return {dx, dalpha.reshape(alpha.sizes())};
      });
}

PactQuantizer::PactQuantizer(QuantizerConfig c, PactOptions o) : Quantizer("PactQuantizer", c), options(o) {
  LOWBIT_CHECK(!c.per_channel(), "PactQuantizer: PACT clips activations per tensor; got ", c.str());
  LOWBIT_CHECK(o.init_alpha > 0 && std::isfinite(o.init_alpha), "PactQuantizer: init_alpha must be positive, got ",
               o.init_alpha);
  alpha = register_parameter("alpha", full({}, o.init_alpha, o.dtype));
}

Tensor PactQuantizer::quantize(const Tensor& x) {
  const Tensor xs = x.dtype() == options.dtype ? x : x.to(options.dtype);
  Tensor y = pact(xs, alpha, config.range(), config.policy);
  if (collect_stats()) {  // PACT's own STE mask: the elements the clip changed
    const Tensor passes = pact_passes(xs, alpha.item(), config.range().qmin < 0);
    set_clip_fraction(1.0 - raw::sum(passes.to(DType::f64)).item() / static_cast<double>(std::max<int64_t>(1, xs.numel())));
  }
  return y;
}

PerChannelQParams PactQuantizer::qparams() const {
  const QParams q = pact_qparams(alpha.item(), config.range());
  return {{q.scale}, {q.zero_point}};
}

}  // namespace lowbit::quant
