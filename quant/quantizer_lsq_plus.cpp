#include "quant/quantizer_lsq_plus.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "quant/fake_quantize.h"
#include "quant/observer_stats.h"
#include "quant/quantizer_fixed.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

LsqPlusQuantizer::LsqPlusQuantizer(QuantizerConfig c, LsqPlusOptions o) : Quantizer("LsqPlusQuantizer", c), options(o) {
  LOWBIT_CHECK(!c.per_channel(), "LsqPlusQuantizer: per-tensor only; got ", c.str());
  LOWBIT_CHECK(o.dtype == DType::f32 || o.dtype == DType::f64, "LsqPlusQuantizer: dtype must be f32 or f64, got ",
               dtype_name(o.dtype));
  scale = register_parameter("scale", full({}, 1.0, o.dtype));
  offset = register_parameter("offset", zeros({}, o.dtype));
  zero_point_ = zeros({}, o.dtype);
  initialized_ = register_buffer("initialized", scalar_tensor(0, DType::i64));
  ObserverOptions oo = observer_options(c);
  if (o.init == LsqPlusInit::meanstd) {
    init_observer_ = std::make_shared<MeanStdObserver>(oo, MeanStdOptions{.k = 3});  // §4: k = 3 for LSQ+
  } else {
    init_observer_ = make_observer("mse", oo);
  }
}

void LsqPlusQuantizer::pre_observe(const Tensor& x) {
  if (initialized()) return;
  init_observer_->reset();
  init_observer_->observe(x);
  const ObserverRange r = init_observer_->range();
  const QRange q = config.range();
  const double lo = r.min[0], hi = r.max[0];
  const double s = std::max((hi - lo) / static_cast<double>(q.qmax - q.qmin), static_cast<double>(kScaleEps));
  scale.fill_(s);
  offset.fill_(lo - static_cast<double>(q.qmin) * s);
  scale.bump_version();
  offset.bump_version();
  initialized_.fill_(1);
}

Tensor LsqPlusQuantizer::quantize(const Tensor& x) {
  const QRange r = config.range();
  const Tensor xs = x.dtype() == options.dtype ? x : x.to(options.dtype);
  // g as LSQ's (§5.2): the elements one scale covers.
  const double qmax = static_cast<double>(r.qmax);
  double n = static_cast<double>(xs.numel());
  if (options.tensor == LsqTensorKind::activation && options.n_mode == LsqGradScaleN::paper && xs.dim() > 0 &&
      xs.size(0) > 0)
    n /= static_cast<double>(xs.size(0));
  grad_scale_ = 1.0 / std::sqrt(n * std::max(1.0, qmax));
  LearnableOptions lo;
  lo.formula = LearnableFormula::lsq;
  lo.mask = options.mask;
  lo.policy = config.policy;
  const Tensor shifted = sub(xs, offset);
  Tensor y = add(fake_quantize_learnable_per_tensor_affine(shifted, scale, zero_point_, r.qmin, r.qmax, grad_scale_, lo),
                 offset);
  record_clipping(detach(shifted));
  return y;
}

PerChannelQParams LsqPlusQuantizer::qparams() const {
  // The grid is (q s + beta): as an affine (s, z), z = -beta / s, which is not an integer
  // in general; reported rounded, with output_range giving the exact interval.
  const double s = scale.item(), beta = offset.item();
  return {{static_cast<float>(s)}, {static_cast<int64_t>(std::nearbyint(-beta / s))}};
}

void LsqPlusQuantizer::output_range(std::vector<float>& lo, std::vector<float>& hi) const {
  const QRange r = config.range();
  const double s = scale.item(), beta = offset.item();
  lo = {static_cast<float>(static_cast<double>(r.qmin) * s + beta)};
  hi = {static_cast<float>(static_cast<double>(r.qmax) * s + beta)};
}

void LsqPlusQuantizer::after_step() {
  NoGradGuard no_grad;
  scale.copy_(raw::maximum(raw::abs(scale), full(scale.sizes(), kScaleEps, scale.dtype())));
  scale.bump_version();
}

}  // namespace lowbit::quant
