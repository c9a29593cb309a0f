// MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
// CVPR 2018) in torchvision's layout, width multiplier 1.0, so state dicts load into
// torchvision.models.mobilenet_v2 and back:
//   features.0        conv 3x3/2 32, BN, ReLU6 (Conv2dNormActivation: .0 conv, .1 BN, .2 act)
//   features.1..17    InvertedResidual: conv (a Sequential)
//                       [.0 expand 1x1 conv-BN-ReLU6, when the expansion t != 1]
//                       .k   depthwise 3x3 conv-BN-ReLU6 (stride s on the stage's first block)
//                       .k+1 projection 1x1 conv (linear: no activation), .k+2 its BN
//                     and `add` (x + conv(x), when stride 1 and channels in == out)
//   features.18       conv 1x1 320 -> 1280, BN, ReLU6
//   avgpool, classifier (.0 Dropout 0.2, .1 Linear 1280 -> classes)
// Stages (t, c, n, s), paper table 2: (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2)
// (6,96,3,1) (6,160,3,2) (6,320,1,1). 3,504,872 parameters and 0.30 GMACs at 224.
// Initialisation as torchvision: convs kaiming_normal_(fan_out), BN 1/0, Linear N(0, 0.01)
// with zero bias. Stem::cifar puts the first conv at stride 1 (32x32 -> 2x2 at the head).
#pragma once

#include <memory>

#include "models/layers.h"

namespace lowbit::models {

class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t in_channels, int64_t out_channels, int64_t stride, int64_t expand_ratio,
                   const LayerOptions& o);
  Tensor forward(const Tensor& x) override;

  nn::Child<nn::Sequential> conv;  // nn::Child: the module registered now (quant/ swaps layers)
  nn::Child<nn::Add> add;          // empty without the residual connection
};

class MobileNetV2 : public nn::Module {
 public:
  // dropout: the classifier's (torchvision's 0.2).
  explicit MobileNetV2(const ModelOptions& options = {}, double dropout = 0.2);
  Tensor forward(const Tensor& x) override;
};

std::shared_ptr<MobileNetV2> mobilenet_v2(const ModelOptions& options = {});

}  // namespace lowbit::models
