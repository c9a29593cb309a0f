// Dropout: torch.nn.Dropout. In training each element is kept with probability 1 - p and
// scaled by 1 / (1 - p); in evaluation it is the identity. The mask comes from `gen`
// (nullptr: lowbit's default generator, whose (seed, offset) a checkpoint saves).
#pragma once

#include "nn/module.h"
#include "tensor/random.h"

namespace lowbit::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const double p;

 private:
  Generator* gen_;
};

}  // namespace lowbit::nn
