#include "nn/batch_norm.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::nn {

BatchNorm2d::BatchNorm2d(int64_t num_features_, BatchNormOptions options_)
    : Module("BatchNorm2d"), num_features(num_features_), options(options_) {
  LOWBIT_CHECK(num_features > 0, "BatchNorm2d: num_features must be positive, got ", num_features);
  LOWBIT_CHECK(options.eps > 0 && options.momentum >= 0 && options.momentum <= 1, "BatchNorm2d: eps ", options.eps,
               " must be > 0 and momentum ", options.momentum, " in [0, 1]");
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}, options.dtype));
    bias = register_parameter("bias", zeros({num_features}, options.dtype));
  }
  running_mean = register_buffer("running_mean", zeros({num_features}, options.dtype));
  running_var = register_buffer("running_var", ones({num_features}, options.dtype));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  LOWBIT_CHECK(x.dim() == 4 && x.size(1) == num_features, "BatchNorm2d(", num_features, "): expected input [N, ",
               num_features, ", H, W], got ", shape_str(x.sizes()));
  Tensor y = batch_norm(x, weight, bias, running_mean, running_var, is_training(), options.momentum, options.eps);
  if (is_training()) {  // counted after the call, so a call that throws is not counted
    NoGradGuard no_grad;
    Tensor count = num_batches_tracked;
    count.copy_(raw::add(count, 1.0));
    count.bump_version();
  }
  return y;
}

std::string BatchNorm2d::extra_repr() const {
  return str_cat(num_features, ", eps=", options.eps, ", momentum=", options.momentum,
                 ", affine=", options.affine ? "True" : "False");
}

}  // namespace lowbit::nn
