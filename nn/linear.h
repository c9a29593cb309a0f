// Linear: torch.nn.Linear, y = x W^T + b. weight [out, in], bias [out] (optional),
// initialised as PyTorch does: U(-1/sqrt(in), 1/sqrt(in)) for both.
#pragma once

#include "nn/module.h"
#include "tensor/random.h"

namespace lowbit::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::f32;
  Generator* gen = nullptr;  // for the initial values; nullptr: the default generator
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions options = {});

  Tensor forward(const Tensor& x) override;  // x [..., in] -> [..., out]
  std::string extra_repr() const override;
  int64_t macs(const Tensor& input, const Tensor& output) const override;

  const int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined without options.bias
};

}  // namespace lowbit::nn
