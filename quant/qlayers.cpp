#include "quant/qlayers.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::quant {

void check_weight_quantizer(const std::string& who, const Quantizer* weight_quant, int64_t out_channels) {
  if (weight_quant == nullptr || !weight_quant->config.per_channel()) return;
  LOWBIT_CHECK(weight_quant->config.ch_axis == 0 && weight_quant->config.channels == out_channels, who,
               ": the weight quantizer is ", weight_quant->config.str(), " but the weight has ", out_channels,
               " output channels along axis 0");
}

namespace {
std::string weight_repr(const std::shared_ptr<Quantizer>& q) { return q ? "" : ", weight float"; }
}  // namespace

QConv2d::QConv2d(std::shared_ptr<nn::Conv2d> conv_, std::shared_ptr<Quantizer> weight_quant_)
    : Module("QConv2d"), conv(std::move(conv_)) {
  LOWBIT_CHECK(conv != nullptr, "QConv2d: no conv");
  check_weight_quantizer("QConv2d", weight_quant_.get(), conv->out_channels);
  weight = register_parameter("weight", conv->weight);
  if (conv->bias.defined()) bias = register_parameter("bias", conv->bias);
  if (weight_quant_) weight_quant = register_module("weight_quant", std::move(weight_quant_));
}

Tensor QConv2d::forward(const Tensor& x) {
  const Tensor w = weight_quant ? (*weight_quant)(weight) : weight;
  const auto& o = conv->options;
  return conv2d(input_quant(x), w, bias, o.stride, o.padding, o.dilation, o.groups);
}

std::string QConv2d::extra_repr() const {
  return conv->extra_repr() + weight_repr(weight_quant) + input_quant.repr("input_quant");
}

int64_t QConv2d::macs(const Tensor& input, const Tensor& output) const { return conv->macs(input, output); }

QLinear::QLinear(std::shared_ptr<nn::Linear> linear_, std::shared_ptr<Quantizer> weight_quant_)
    : Module("QLinear"), linear(std::move(linear_)) {
  LOWBIT_CHECK(linear != nullptr, "QLinear: no linear layer");
  check_weight_quantizer("QLinear", weight_quant_.get(), linear->out_features);
  weight = register_parameter("weight", linear->weight);
  if (linear->bias.defined()) bias = register_parameter("bias", linear->bias);
  if (weight_quant_) weight_quant = register_module("weight_quant", std::move(weight_quant_));
}

Tensor QLinear::forward(const Tensor& x) {
  const Tensor w = weight_quant ? (*weight_quant)(weight) : weight;
  return lowbit::linear(input_quant(x), w, bias);
}

std::string QLinear::extra_repr() const {
  return linear->extra_repr() + weight_repr(weight_quant) + input_quant.repr("input_quant");
}

int64_t QLinear::macs(const Tensor& input, const Tensor& output) const { return linear->macs(input, output); }

Tensor QAdd::forward(const Tensor& a, const Tensor& b) {
  return output_quant(nn::Add::forward(input0_quant(a), input1_quant(b)));
}

std::string QAdd::extra_repr() const {
  const std::string s =
      input0_quant.repr("input0_quant") + input1_quant.repr("input1_quant") + output_quant.repr("output_quant");
  return s.empty() ? s : s.substr(2);  // without the leading ", "
}

Tensor QConcat::forward(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> q;
  q.reserve(inputs.size());
  for (const Tensor& x : inputs) q.push_back(input_quant(x));
  return nn::Concat::forward(q);
}

std::string QConcat::extra_repr() const { return nn::Concat::extra_repr() + input_quant.repr("input_quant"); }

}  // namespace lowbit::quant
