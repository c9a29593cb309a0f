#include "quant/quantizer_dsq.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "autograd/variable.h"
#include "quant/observer_stats.h"
#include "quant/quantizer_fixed.h"
#include "quant/ste.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

Tensor dsq(const Tensor& x, double scale, int64_t zero_point, QRange range, double alpha, const NumericPolicy& policy) {
  const char* op = "dsq";
  LOWBIT_CHECK(x.defined() && (x.dtype() == DType::f32 || x.dtype() == DType::f64), op,
               ": x must be f32 or f64, got ", describe(x));
  LOWBIT_CHECK(scale > 0 && std::isfinite(scale), op, ": scale must be positive and finite, got ", scale);
  LOWBIT_CHECK(alpha > 0 && alpha < 1, op, ": alpha must be in (0, 1), got ", alpha);
  LOWBIT_CHECK(range.qmin < range.qmax && zero_point >= range.qmin && zero_point <= range.qmax, op, ": zero_point ",
               zero_point, " must lie in [qmin, qmax] = [", range.qmin, ", ", range.qmax, "]");
  const double ks = 1 / (1 - alpha), k = std::log((ks + 1) / (ks - 1));
  const auto z = static_cast<double>(zero_point);
  const Tensor v = policy.scale == ScaleApply::divide ? div(x, scale) : mul(x, 1 / scale);
  const Tensor u = clamp(add(v, z), static_cast<double>(range.qmin), static_cast<double>(range.qmax));
  const Tensor fl = raw::floor(detach(u));  // a constant of the staircase's step
  const Tensor phi = add(add(mul(tanh(mul(sub(sub(u, fl), 0.5), k)), 0.5 * ks), fl), 0.5);
  return mul(sub(round_ste(phi, policy.rounding), z), scale);
}

DsqQuantizer::DsqQuantizer(QuantizerConfig c, DsqOptions o) : Quantizer("DsqQuantizer", c), options(o) {
  LOWBIT_CHECK(!c.per_channel(), "DsqQuantizer: per-tensor only; got ", c.str());
  LOWBIT_CHECK(o.alpha > 0 && o.alpha < 1, "DsqQuantizer: alpha must be in (0, 1), got ", o.alpha);
  // MeanStd (k = 2.6, §5.6) with averaging constant 1: each batch replaces the range.
  ObserverOptions oo = observer_options(c);
  oo.averaging_constant = 1.0;
  observer = register_module("observer", std::make_shared<MeanStdObserver>(oo, MeanStdOptions{.k = o.meanstd_k}));
  scale = register_buffer("scale", full({1}, 1.0));
  zero_point = register_buffer("zero_point", zeros({1}, DType::i64));
}

void DsqQuantizer::pre_observe(const Tensor& x) {
  observer->observe(x);
  const PerChannelQParams q = observer->qparams();
  scale.copy_(from_vector<float>(q.scale));
  zero_point.copy_(from_vector<int64_t>(q.zero_point));
}

Tensor DsqQuantizer::quantize(const Tensor& x) {
  const QRange r = config.range();
  const auto z = static_cast<int64_t>(zero_point.item());
  const double s = scale.item();
  Tensor y = dsq(x, s, z, r, options.alpha, config.policy);
  if (collect_stats()) {  // DSQ's mask: x / s + z outside [qmin, qmax] (clamped before rounding)
    const Tensor u = raw::add(config.policy.scale == ScaleApply::divide ? raw::div(x, s) : raw::mul(x, 1 / s),
                              static_cast<double>(z));
    const Tensor inside = raw::where(raw::ge(u, full({}, static_cast<double>(r.qmin), u.dtype())),
                                     raw::le(u, full({}, static_cast<double>(r.qmax), u.dtype())),
                                     raw::ge(u, full({}, static_cast<double>(r.qmin), u.dtype())));
    set_clip_fraction(1.0 - raw::sum(inside.to(DType::f64)).item() / static_cast<double>(std::max<int64_t>(1, x.numel())));
  }
  return y;
}

PerChannelQParams DsqQuantizer::qparams() const {
  return {scale.to_vector<float>(), zero_point.to_vector<int64_t>()};
}

}  // namespace lowbit::quant
