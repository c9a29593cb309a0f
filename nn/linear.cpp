#include "nn/linear.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/error.h"

namespace lowbit::nn {

Linear::Linear(int64_t in_features_, int64_t out_features_, LinearOptions options)
    : Module("Linear"), in_features(in_features_), out_features(out_features_) {
  LOWBIT_CHECK(in_features > 0 && out_features > 0, "Linear: in_features ", in_features, " and out_features ",
               out_features, " must be positive");
  weight = register_parameter("weight", empty({out_features, in_features}, options.dtype));
  kaiming_uniform_(weight, FanMode::fan_in, std::sqrt(5.0), options.gen);  // bound 1 / sqrt(in)
  if (options.bias) {
    bias = register_parameter("bias", empty({out_features}, options.dtype));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    uniform_(bias, -bound, bound, options.gen);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return str_cat("in_features=", in_features, ", out_features=", out_features,
                 ", bias=", bias.defined() ? "True" : "False");
}

int64_t Linear::macs(const Tensor&, const Tensor& output) const { return output.numel() * in_features; }

}  // namespace lowbit::nn
