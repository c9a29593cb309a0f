#include "quant/quantizer_fixed.h"

#include "quant/fake_quantize.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

ObserverOptions observer_options(const QuantizerConfig& c) {
  ObserverOptions o;
  o.range = c.range();
  o.scheme = c.scheme;
  o.power_of_two = c.power_of_two;
  o.ch_axis = c.per_channel() ? c.ch_axis : kPerTensor;
  o.num_channels = c.per_channel() ? c.channels : 0;
  o.policy = c.policy;
  return o;
}

FixedQuantizer::FixedQuantizer(QuantizerConfig c, const std::string& name)
    : FixedQuantizer(c, make_observer(name, observer_options(c))) {}

FixedQuantizer::FixedQuantizer(QuantizerConfig c, std::shared_ptr<Observer> obs) : Quantizer("FixedQuantizer", c) {
  LOWBIT_CHECK(obs != nullptr, "FixedQuantizer: the observer is null");
  LOWBIT_CHECK(obs->channels() == c.channels && obs->per_channel() == c.per_channel(), "FixedQuantizer: observer ",
               obs->type(), " measures ", obs->channels(), " channel(s) but the quantizer is ", c.str());
  observer = register_module("observer", obs);
  scale = register_buffer("scale", full({c.channels}, 1.0));
  zero_point = register_buffer("zero_point", zeros({c.channels}, DType::i64));
}

void FixedQuantizer::pre_observe(const Tensor& x) {
  observer->observe(x);
  const PerChannelQParams q = observer->qparams();
  scale.copy_(from_vector<float>(q.scale));
  zero_point.copy_(from_vector<int64_t>(q.zero_point));
}

Tensor FixedQuantizer::quantize(const Tensor& x) {
  const QRange r = config.range();
  Tensor y = config.per_channel()
                 ? fake_quantize_per_channel_affine(x, scale, zero_point, config.ch_axis, r.qmin, r.qmax, config.policy)
                 : fake_quantize_per_tensor_affine(x, scale.item(), static_cast<int64_t>(zero_point.item()), r.qmin,
                                                   r.qmax, config.policy);
  record_clipping(x);
  return y;
}

PerChannelQParams FixedQuantizer::qparams() const {
  PerChannelQParams q;
  q.scale = scale.to_vector<float>();
  q.zero_point = zero_point.to_vector<int64_t>();
  return q;
}

std::string FixedQuantizer::extra_repr() const {
  return Quantizer::extra_repr() + ", observer=" + observer->type() + (observer->has_observed() ? "" : ", unobserved");
}

}  // namespace lowbit::quant
