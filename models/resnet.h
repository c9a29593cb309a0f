// ResNets with basic blocks (He et al., "Deep Residual Learning for Image Recognition",
// CVPR 2016), with torchvision's module names, so their state dicts load into
// torchvision.models.resnet18 and back (nn/safetensors.h):
//   conv1, bn1, relu, maxpool, layer1..layerN (blocks "0", "1", ...: conv1, bn1, relu,
//   conv2, bn2, [downsample.0 (1x1 conv), downsample.1 (BN)], add), avgpool, fc.
// `add` (nn::Add, no parameters) is the residual addition, kept as a module for quant/.
//
// Stems: ImageNet (7x7/2 conv, 3x3/2 max pool) or CIFAR (3x3/1 conv, no pool: maxpool is
// an Identity so that the names do not change). ResNet-20 is the CIFAR network of the
// paper (3 stages of 3 blocks, 16/32/64 channels) with 1x1-conv shortcuts where the shape
// changes (the paper's option B), since a quantized model needs a real layer there.
//
// Initialisation as torchvision: convs kaiming_normal_(fan_out, ReLU), BN weight 1 and
// bias 0 (0 for each block's bn2 with zero_init_residual), fc PyTorch's default.
#pragma once

#include <memory>
#include <vector>

#include "nn/nn.h"
#include "tensor/random.h"

namespace lowbit::models {

class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t channels, int64_t stride, DType dtype, Generator* gen);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Sequential> downsample;  // null when the shape does not change
  std::shared_ptr<nn::Add> add;
};

enum class Stem { imagenet, cifar };

struct ResNetConfig {
  std::vector<int64_t> blocks = {2, 2, 2, 2};         // per stage (ResNet-18)
  std::vector<int64_t> widths = {64, 128, 256, 512};  // channels per stage
  Stem stem = Stem::imagenet;
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  bool zero_init_residual = false;
  DType dtype = DType::f32;  // of every parameter and buffer (f64 for gradchecks and golden tests)
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetConfig& config, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  const ResNetConfig config;
};

// ResNet-18 and ResNet-34 (torchvision's layout), the CIFAR ResNet-20 and ResNet-56.
std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000, int64_t in_channels = 3, Stem stem = Stem::imagenet,
                                 Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000, int64_t in_channels = 3, Stem stem = Stem::imagenet,
                                 Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet20(int64_t num_classes = 10, int64_t in_channels = 3, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet56(int64_t num_classes = 10, int64_t in_channels = 3, Generator* gen = nullptr);

}  // namespace lowbit::models
