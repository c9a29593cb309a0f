// Activation layers: ReLU (max(x, 0)) and ReLU6 (min(max(x, 0), 6)), as torch.nn. Kept
// as modules, not just functions, so that quant/ can find them and place quantizers
// after them (PACT replaces ReLU by a learned clip).
#pragma once

#include "nn/module.h"

namespace lowbit::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

class ReLU6 : public Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& x) override;
};

}  // namespace lowbit::nn
