// StochasticDepth: torchvision.ops.StochasticDepth(p, mode="row"), timm's DropPath, the
// "drop connect" of the TF EfficientNet release (Huang et al., "Deep Networks with
// Stochastic Depth", ECCV 2016). On a residual branch: in training each sample's whole
// branch output is kept with probability 1 - p and scaled by 1 / (1 - p), or zeroed, so
// that the block is skipped for that sample; in evaluation it is the identity. The mask
// ([N, 1, ..., 1], one draw per sample) comes from `gen` (nullptr: lowbit's default generator).
#pragma once

#include "nn/module.h"
#include "tensor/random.h"

namespace lowbit::nn {

class StochasticDepth : public Module {
 public:
  explicit StochasticDepth(double p, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const double p;

 private:
  Generator* gen_;
};

}  // namespace lowbit::nn
