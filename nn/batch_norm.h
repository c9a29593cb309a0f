// BatchNorm2d: torch.nn.BatchNorm2d over [N, C, H, W]. Parameters weight (gamma, 1) and
// bias (beta, 0); buffers running_mean (0), running_var (1) and num_batches_tracked
// (i64 scalar, counted in training as torch does, so state dicts match torchvision's).
// Training normalises with the batch statistics and updates the running ones with
// `momentum`; evaluation uses the running statistics (autograd/ops.h batch_norm).
#pragma once

#include "nn/module.h"

namespace lowbit::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  DType dtype = DType::f32;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});

  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  const int64_t num_features;
  const BatchNormOptions options;
  Tensor weight, bias;               // undefined without options.affine
  Tensor running_mean, running_var;  // [C]
  Tensor num_batches_tracked;        // i64 []
};

// act(bn(x)) for `act` a ReLU or ReLU6 module (exactly those types). In inference (grad
// mode off, bn in eval mode, no ModuleTrace recording) it is one fused pass,
// raw::batch_norm_eval with the activation: the bits of the two calls, with one pass over
// memory and one activation-sized allocation fewer. Otherwise, or for any other `act`
// (a quantizer wrapped around the activation, say), the two modules are called in turn.
Tensor batch_norm_act(BatchNorm2d& bn, Module& act, const Tensor& x);

}  // namespace lowbit::nn
