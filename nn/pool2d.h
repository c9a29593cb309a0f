// Pooling layers, as torch.nn: MaxPool2d, AvgPool2d (count_include_pad = true) and
// AdaptiveAvgPool2d. Pairs are {height, width}; a stride of {0, 0} means "= kernel".
#pragma once

#include <array>

#include "nn/module.h"

namespace lowbit::nn {

using Pair = std::array<int64_t, 2>;

class MaxPool2d : public Module {
 public:
  MaxPool2d(Pair kernel_size, Pair stride = {0, 0}, Pair padding = {0, 0}, Pair dilation = {1, 1});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const Pair kernel_size, stride, padding, dilation;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(Pair kernel_size, Pair stride = {0, 0}, Pair padding = {0, 0}, bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const Pair kernel_size, stride, padding;
  const bool count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const Pair output_size;
};

}  // namespace lowbit::nn
