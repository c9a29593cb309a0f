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
  // torch's momentum=None: the running statistics are the plain average of every batch
  // seen since they were reset (momentum 1 / num_batches_tracked after the increment).
  // BN re-calibration (quant/calibrate.h) switches it on for a re-estimate.
  bool cumulative_average = false;
  bool affine = true;
  DType dtype = DType::f32;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});

  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  const int64_t num_features;
  BatchNormOptions options;  // momentum and cumulative_average may change between calls
  Tensor weight, bias;               // undefined without options.affine
  Tensor running_mean, running_var;  // [C]
  Tensor num_batches_tracked;        // i64 []
};

// The momentum of bn's next training call: options.momentum, or 1 / (batches + 1) for a
// cumulative average.
double batch_norm_momentum(const BatchNorm2d& bn);

// act(bn(x)) for `act` a ReLU or ReLU6 module (exactly those types). In inference (grad
// mode off, bn in eval mode, no ModuleTrace recording) it is one fused pass,
// raw::batch_norm_eval with the activation: the bits of the two calls, with one pass over
// memory and one activation-sized allocation fewer. Otherwise, or for any other `act`
// (a quantizer wrapped around the activation, say), the two modules are called in turn.
// `bn` may also be any other module (a quantized replacement): then the two are called.
Tensor batch_norm_act(Module& bn, Module& act, const Tensor& x);

}  // namespace lowbit::nn
