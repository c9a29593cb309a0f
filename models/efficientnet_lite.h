// EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML
// 2019; the Lite variants of the TF release, tensorflow/tpu models/official/efficientnet/
// lite/README.md): EfficientNet-B0's MBConv stages with the changes that make it
// integer-friendly: no squeeze-and-excitation, ReLU6 instead of swish, and stem (32) and
// head (1280) channels fixed rather than scaled. Lite0 has width and depth 1.0 at 224.
//
// Module names are timm's `efficientnet_lite0` (the PyTorch port people load weights from):
//   conv_stem 3x3/2 32, bn1, act1 (ReLU6)
//   blocks.<stage>.<i>:
//     stage 0 (expansion 1, DepthwiseSeparable): conv_dw 3x3, bn1, act1, conv_pw, bn2
//     stages 1-6 (MBConv, InvertedResidual):     conv_pw 1x1 (x6), bn1, act1, conv_dw kxk/s,
//                                                bn2, act2, conv_pwl 1x1, bn3
//     and, when stride 1 and channels in == out, drop_path (StochasticDepth) and add
//   conv_head 1x1 1280, bn2, act2, avgpool, dropout (0.2), classifier
// Stages (expansion, kernel, stride, channels, repeats), B0's table 1:
//   (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1)
// 4,652,008 parameters (timm's efficientnet_lite0 table: 4.65M; the TF release: 4.7M) and
// 0.39 GMACs at 224 (TF release: 407M "MAdds", which also counts BN, activations and the
// residual adds).
//
// Training hyper-parameters of the TF release: BN eps 1e-3 and momentum 0.01 (TF's decay
// 0.99), dropout 0.2, drop connect 0.2 scaled by block index / number of blocks. Padding
// is PyTorch's symmetric (k - 1) / 2; TF's "SAME" pads stride-2 convs by 0 before and 1
// after, so weights ported from TF (timm's tf_efficientnet_lite0) need that padding to
// give the same logits; weights trained here or in timm's efficientnet_lite0 do not.
// Initialisation as the TF release: convs N(0, 2 / fan_out) with fan_out = k * k *
// C_out / groups, the classifier U(-1/sqrt(classes), 1/sqrt(classes)) with zero bias.
#pragma once

#include <memory>

#include "models/layers.h"

namespace lowbit::models {

class MBConv : public nn::Module {
 public:
  // expand_ratio 1: timm's DepthwiseSeparableConv (no conv_pw expansion), else InvertedResidual.
  MBConv(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t expand_ratio,
         double drop_path, const LayerOptions& o);
  Tensor forward(const Tensor& x) override;
  const bool has_expansion, has_residual;
};

// The TF release's regularisation (drop_connect_rate 0 turns stochastic depth off; the
// modules stay, so names and state dicts do not change).
struct EfficientNetLiteRegularization {
  double dropout = 0.2;
  double drop_connect_rate = 0.2;
};

class EfficientNetLite : public nn::Module {
 public:
  explicit EfficientNetLite(const ModelOptions& options = {}, const EfficientNetLiteRegularization& reg = {});
  Tensor forward(const Tensor& x) override;
};

std::shared_ptr<EfficientNetLite> efficientnet_lite0(const ModelOptions& options = {});

}  // namespace lowbit::models
