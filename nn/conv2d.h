// Conv2d: torch.nn.Conv2d. weight [C_out, C_in/groups, kH, kW], bias [C_out] (optional);
// initialised as PyTorch does by default: kaiming_uniform_(a = sqrt(5)) for the weight,
// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias. Model
// constructors re-initialise (torchvision's ResNets: kaiming_normal_, fan_out, ReLU).
#pragma once

#include <array>

#include "nn/module.h"
#include "tensor/random.h"

namespace lowbit::nn {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
  Generator* gen = nullptr;  // for the initial values; nullptr: the default generator (not kept)
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size, Conv2dOptions options = {});
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv2dOptions options = {})
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, options) {}

  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t macs(const Tensor& input, const Tensor& output) const override;

  const int64_t in_channels, out_channels;
  const std::array<int64_t, 2> kernel_size;
  const Conv2dOptions options;
  Tensor weight, bias;  // bias undefined without options.bias
};

}  // namespace lowbit::nn
