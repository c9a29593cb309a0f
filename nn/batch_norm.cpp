#include "nn/batch_norm.h"

#include <typeinfo>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/activation.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/ops_nn.h"

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

namespace {
void check_input(const BatchNorm2d& bn, const Tensor& x) {
  LOWBIT_CHECK(x.dim() == 4 && x.size(1) == bn.num_features, "BatchNorm2d(", bn.num_features,
               "): expected input [N, ", bn.num_features, ", H, W], got ", shape_str(x.sizes()));
}
}  // namespace

Tensor BatchNorm2d::forward(const Tensor& x) {
  check_input(*this, x);
  Tensor y =
      batch_norm(x, weight, bias, running_mean, running_var, is_training(), batch_norm_momentum(*this), options.eps);
  if (is_training()) {  // counted after the call, so a call that throws is not counted
    NoGradGuard no_grad;
    Tensor count = num_batches_tracked;
    count.copy_(raw::add(count, 1.0));
    count.bump_version();
  }
  return y;
}

double batch_norm_momentum(const BatchNorm2d& bn) {
  if (!bn.options.cumulative_average) return bn.options.momentum;
  return 1.0 / static_cast<double>(bn.num_batches_tracked.item() + 1);
}

std::string BatchNorm2d::extra_repr() const {
  return str_cat(num_features, ", eps=", options.eps, ", momentum=", options.momentum,
                 ", affine=", options.affine ? "True" : "False");
}

Tensor batch_norm_act(Module& bn_module, Module& act, const Tensor& x) {
  const BatchNormAct kind = typeid(act) == typeid(ReLU)    ? BatchNormAct::relu
                            : typeid(act) == typeid(ReLU6) ? BatchNormAct::relu6
                                                           : BatchNormAct::none;
  if (typeid(bn_module) != typeid(BatchNorm2d) || kind == BatchNormAct::none || GradMode::is_enabled() ||
      bn_module.is_training() || ModuleTrace::active())
    return act(bn_module(x));
  const auto& bn = static_cast<const BatchNorm2d&>(bn_module);
  check_input(bn, x);
  return raw::batch_norm_eval(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.options.eps, kind);
}

}  // namespace lowbit::nn
