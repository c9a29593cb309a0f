// Quantized layers: what quant/prepare.h puts in a float model's place. Each takes the
// float layer's parameter tensors themselves (shared, not copied: the float weights are
// trained on and saved under the float names), a weight quantizer, and the activation
// quantizers the graph policy gives it (quant/act_quant.h, QUANT_NUMERICS §8).
//
//   QConv2d    conv2d(input_quant(x), weight_quant(w), b)            names: weight, bias,
//   QLinear    linear(input_quant(x), weight_quant(w), b)            weight_quant.*, input_quant.*
//   QAdd       output_quant(input0_quant(a) + input1_quant(b))       input0_quant.*, input1_quant.*,
//                                                                    output_quant.*
//   QConcat    cat(input_quant(x_i) for every input): one (s, z) for all inputs, so the
//              result is on that grid too (a deployed concat is a plain copy, §9)
//
// A conv followed by its BatchNorm, when the backend folds BN, becomes a ConvBn2d
// (quant/conv_bn.h) instead, with the same input quantizer slot.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/merge.h"
#include "quant/act_quant.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

class QConv2d : public nn::Module {
 public:
  // weight_quant: per tensor, or per channel along axis 0 with conv->out_channels
  // channels; null keeps the weight float.
  QConv2d(std::shared_ptr<nn::Conv2d> conv, std::shared_ptr<Quantizer> weight_quant);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t macs(const Tensor& input, const Tensor& output) const override;

  const std::shared_ptr<nn::Conv2d> conv;  // the float layer (its geometry); not a child
  Tensor weight, bias;                     // conv's own tensors, registered here
  std::shared_ptr<Quantizer> weight_quant;  // child "weight_quant"
  ActQuant input_quant;                     // child "input_quant" when owned
};

class QLinear : public nn::Module {
 public:
  QLinear(std::shared_ptr<nn::Linear> linear, std::shared_ptr<Quantizer> weight_quant);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t macs(const Tensor& input, const Tensor& output) const override;

  const std::shared_ptr<nn::Linear> linear;
  Tensor weight, bias;
  std::shared_ptr<Quantizer> weight_quant;
  ActQuant input_quant;
};

class QAdd : public nn::Add {
 public:
  QAdd() : nn::Add("QAdd") {}
  Tensor forward(const Tensor& a, const Tensor& b) override;
  std::string extra_repr() const override;

  ActQuant input0_quant, input1_quant, output_quant;
};

class QConcat : public nn::Concat {
 public:
  explicit QConcat(int64_t dim) : nn::Concat("QConcat", dim) {}
  Tensor forward(const std::vector<Tensor>& inputs) override;
  std::string extra_repr() const override;

  ActQuant input_quant;
};

// Throws lowbit::Error naming `who` when a weight quantizer does not fit a weight with
// `out_channels` output channels (per channel: axis 0 and that many channels).
void check_weight_quantizer(const std::string& who, const Quantizer* weight_quant, int64_t out_channels);

}  // namespace lowbit::quant
