#include "quant/quantizer_lsq.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

namespace {

Shape param_shape(const QuantizerConfig& c) { return c.per_channel() ? Shape{c.channels} : Shape{}; }

// The dimensions of x other than the channel axis (for per-channel statistics).
std::vector<int64_t> reduce_dims(const Tensor& x, int64_t axis) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis) dims.push_back(d);
  return dims;
}

}  // namespace

LsqQuantizer::LsqQuantizer(QuantizerConfig c, LsqOptions o) : Quantizer("LsqQuantizer", c), options(o) {
  LOWBIT_CHECK(c.scheme == QScheme::symmetric, "LsqQuantizer: LSQ is symmetric (zero point 0); got ", c.str(),
               " (LsqPlusQuantizer learns an offset)");
  LOWBIT_CHECK(o.dtype == DType::f32 || o.dtype == DType::f64, "LsqQuantizer: dtype must be f32 or f64, got ",
               dtype_name(o.dtype));
  scale = register_parameter("scale", full(param_shape(c), 1.0, o.dtype));
  zero_point = register_buffer("zero_point", zeros(param_shape(c), o.dtype));
  initialized_ = register_buffer("initialized", scalar_tensor(0, DType::i64));
}

double LsqQuantizer::grad_scale_for(const Tensor& x) const {
  const auto qmax = static_cast<double>(config.range().qmax);
  double n = static_cast<double>(x.numel());
  if (config.per_channel())
    n /= static_cast<double>(config.channels);
  else if (options.tensor == LsqTensorKind::activation && options.n_mode == LsqGradScaleN::paper && x.dim() > 0 &&
           x.size(0) > 0)
    n /= static_cast<double>(x.size(0));  // the features of one sample
  return 1.0 / std::sqrt(n * qmax);
}

void LsqQuantizer::pre_observe(const Tensor& x) {
  if (initialized()) return;
  // QUANT_NUMERICS §4 Norm: s = 2 mean(|x|) / sqrt(qmax), per channel where configured.
  LOWBIT_CHECK(x.numel() > 0, "LsqQuantizer: cannot initialise the scale from an empty tensor ", describe(x));
  const Tensor a = raw::abs(x.to(DType::f64));
  const Tensor m = config.per_channel() ? raw::mean(a, reduce_dims(x, config.ch_axis)) : raw::mean(a);
  const double qmax = static_cast<double>(config.range().qmax);
  std::vector<double> s = m.to_vector<double>();
  for (size_t c = 0; c < s.size(); ++c) {
    LOWBIT_CHECK(std::isfinite(s[c]), "LsqQuantizer: the input has non-finite values (", describe(x),
                 "): cannot initialise the scale");
    s[c] = std::max(2.0 * s[c] / std::sqrt(qmax), static_cast<double>(kScaleEps));
  }
  scale.copy_(from_vector<double>(s, param_shape(config)));
  scale.bump_version();
  initialized_.fill_(1);
}

Tensor LsqQuantizer::quantize(const Tensor& x) {
  const QRange r = config.range();
  grad_scale_ = grad_scale_for(x);
  Tensor s = scale;
  if (config.power_of_two) {
    // s + (2^rne(log2 s) - s) with the difference detached: the forward sees the power of
    // two, the gradient reaches s unchanged (QUANT_NUMERICS §2).
    std::vector<double> p = scale.to_vector<double>();
    for (double& v : p) v = power_of_two_scale(static_cast<float>(v));
    s = add(scale, raw::sub(from_vector<double>(p, param_shape(config)).to(options.dtype), detach(scale)));
  }
  LearnableOptions lo;
  lo.formula = LearnableFormula::lsq;
  lo.mask = options.mask;
  lo.policy = config.policy;
  const Tensor xs = x.dtype() == options.dtype ? x : x.to(options.dtype);
  Tensor y = config.per_channel()
                 ? fake_quantize_learnable_per_channel_affine(xs, s, zero_point, config.ch_axis, r.qmin, r.qmax,
                                                              grad_scale_, lo)
                 : fake_quantize_learnable_per_tensor_affine(xs, s, zero_point, r.qmin, r.qmax, grad_scale_, lo);
  record_clipping(xs);
  return y;
}

PerChannelQParams LsqQuantizer::qparams() const {
  PerChannelQParams q;
  for (double v : scale.to_vector<double>())
    q.scale.push_back(config.power_of_two ? power_of_two_scale(static_cast<float>(v)) : static_cast<float>(v));
  q.zero_point.assign(q.scale.size(), 0);
  return q;
}

void LsqQuantizer::after_step() {
  // QUANT_NUMERICS §5.2: s <- max(|s|, eps), in place (the optimizer holds this tensor).
  NoGradGuard no_grad;
  scale.copy_(raw::maximum(raw::abs(scale), full(scale.sizes(), kScaleEps, scale.dtype())));
  scale.bump_version();
}

std::string LsqQuantizer::extra_repr() const {
  return Quantizer::extra_repr() + (initialized() ? "" : ", uninitialised");
}

}  // namespace lowbit::quant
