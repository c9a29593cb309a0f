// Building blocks shared by the model files, each one layer of torchvision's code:
//   conv        nn.Conv2d without bias, initialised kaiming_normal_(fan_out, ReLU) as
//               every torchvision classification model does
//   batch_norm  nn.BatchNorm2d (eps and momentum as the model's paper/release)
//   conv_bn_act torchvision.ops.Conv2dNormActivation: a Sequential "0" conv (padding
//               (k - 1) / 2), "1" BatchNorm, "2" activation (absent for Act::none), so that
//               state-dict names are torchvision's (features.0.0.weight, ...)
//   classifier_linear  nn.Linear initialised N(0, 0.01) with zero bias (MobileNetV2, RegNet)
// Each conv has its own BatchNorm module (never pre-fused): quant/ chooses how to fold.
#pragma once

#include <memory>

#include "nn/nn.h"
#include "tensor/random.h"

namespace lowbit::models {

// How a model's first layer treats its input. imagenet: the published stem (stride 2
// conv, and ResNet's 3x3/2 max pool). cifar: the same first conv at stride 1 and no pool,
// for 28x28 / 32x32 inputs (module names do not change, so state dicts still load).
enum class Stem { imagenet, cifar };

enum class Act { none, relu, relu6 };

// What every model constructor takes (models::create too).
struct ModelOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  Stem stem = Stem::imagenet;  // the CIFAR ResNet-20/56 always have their 3x3 stride-1 stem
  DType dtype = DType::f32;    // of every parameter and buffer (f64 for gradchecks and golden tests)
  Generator* gen = nullptr;    // for the initial weights; nullptr: lowbit's default generator
};

struct LayerOptions {
  DType dtype = DType::f32;
  Generator* gen = nullptr;  // nullptr: lowbit's default generator
  double bn_eps = 1e-5;      // PyTorch's defaults
  double bn_momentum = 0.1;
};

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                 int64_t groups, const LayerOptions& o);
std::shared_ptr<nn::BatchNorm2d> batch_norm(int64_t channels, const LayerOptions& o);
std::shared_ptr<nn::Module> activation(Act act);  // nullptr for Act::none
std::shared_ptr<nn::Sequential> conv_bn_act(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                            Act act, const LayerOptions& o);
std::shared_ptr<nn::Linear> classifier_linear(int64_t in, int64_t out, const LayerOptions& o);

}  // namespace lowbit::models
