#include "nn/conv2d.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/error.h"

namespace lowbit::nn {

Conv2d::Conv2d(int64_t in_channels_, int64_t out_channels_, std::array<int64_t, 2> kernel_size_, Conv2dOptions options_)
    : Module("Conv2d"),
      in_channels(in_channels_),
      out_channels(out_channels_),
      kernel_size(kernel_size_),
      options([&] {  // the generator is used here only: do not keep a pointer that may dangle
        Conv2dOptions kept = options_;
        kept.gen = nullptr;
        return kept;
      }()) {
  LOWBIT_CHECK(in_channels > 0 && out_channels > 0 && kernel_size[0] > 0 && kernel_size[1] > 0 && options.groups > 0,
               "Conv2d: channels, kernel size and groups must be positive (in ", in_channels, ", out ", out_channels,
               ", kernel ", kernel_size[0], "x", kernel_size[1], ", groups ", options.groups, ")");
  LOWBIT_CHECK(in_channels % options.groups == 0 && out_channels % options.groups == 0, "Conv2d: groups ",
               options.groups, " must divide in_channels ", in_channels, " and out_channels ", out_channels);
  weight = register_parameter(
      "weight", empty({out_channels, in_channels / options.groups, kernel_size[0], kernel_size[1]}, options.dtype));
  // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / 6), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  kaiming_uniform_(weight, FanMode::fan_in, std::sqrt(5.0), options_.gen);
  if (options.bias) {
    bias = register_parameter("bias", empty({out_channels}, options.dtype));
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight)));
    uniform_(bias, -bound, bound, options_.gen);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = str_cat(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size[0], ", ", kernel_size[1],
                          "), stride=(", options.stride[0], ", ", options.stride[1], ")");
  if (options.padding != std::array<int64_t, 2>{0, 0})
    s += str_cat(", padding=(", options.padding[0], ", ", options.padding[1], ")");
  if (options.dilation != std::array<int64_t, 2>{1, 1})
    s += str_cat(", dilation=(", options.dilation[0], ", ", options.dilation[1], ")");
  if (options.groups != 1) s += str_cat(", groups=", options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

// Each output element sums C_in/groups * kH * kW products.
int64_t Conv2d::macs(const Tensor&, const Tensor& output) const {
  return output.numel() * (in_channels / options.groups) * kernel_size[0] * kernel_size[1];
}

}  // namespace lowbit::nn
