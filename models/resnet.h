// ResNets (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) with
// torchvision's module names, so their state dicts load into torchvision.models.resnet*
// and back (nn/safetensors.h):
//   conv1, bn1, relu, maxpool, layer1..layerN (blocks "0", "1", ...), avgpool, fc
//   BasicBlock  conv1 3x3, bn1, relu, conv2 3x3, bn2, [downsample.0 1x1 conv, .1 BN], add
//   Bottleneck  conv1 1x1, bn1, conv2 3x3, bn2, conv3 1x1 (4x channels), bn3, relu,
//               [downsample], add. The stride is on conv2, the 3x3 ("ResNet v1.5", as
//               torchvision; the paper put it on conv1).
// `add` (nn::Add, no parameters) is the residual addition, kept as a module for quant/.
//
// Stems: ImageNet (7x7/2 conv, 3x3/2 max pool) or CIFAR (3x3/1 conv, no pool: maxpool is
// an Identity so that the names do not change). ResNet-20 is the CIFAR network of the
// paper (3 stages of 3 blocks, 16/32/64 channels) with 1x1-conv shortcuts where the shape
// changes (the paper's option B), since a quantized model needs a real layer there.
//
// Initialisation as torchvision: convs kaiming_normal_(fan_out, ReLU), BN weight 1 and
// bias 0 (0 for each block's last BN with zero_init_residual), fc PyTorch's default.
#pragma once

#include <memory>
#include <vector>

#include "models/layers.h"
#include "nn/nn.h"
#include "tensor/random.h"

namespace lowbit::models {

class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t channels, int64_t stride, DType dtype, Generator* gen);
  Tensor forward(const Tensor& x) override;

  // nn::Child members: the forward calls whatever module is registered under the name
  // (quant/ swaps layers with replace_child).
  nn::Child<nn::Conv2d> conv1, conv2;
  nn::Child<nn::BatchNorm2d> bn1, bn2;
  nn::Child<nn::ReLU> relu;
  nn::Child<nn::Sequential> downsample;  // empty when the shape does not change
  nn::Child<nn::Add> add;
};

class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;  // output channels = 4 x `channels`
  Bottleneck(int64_t in_channels, int64_t channels, int64_t stride, DType dtype, Generator* gen);
  Tensor forward(const Tensor& x) override;

  nn::Child<nn::Conv2d> conv1, conv2, conv3;
  nn::Child<nn::BatchNorm2d> bn1, bn2, bn3;
  nn::Child<nn::ReLU> relu;
  nn::Child<nn::Sequential> downsample;  // empty when the shape does not change
  nn::Child<nn::Add> add;
};

enum class BlockType { basic, bottleneck };

struct ResNetConfig {
  BlockType block = BlockType::basic;
  std::vector<int64_t> blocks = {2, 2, 2, 2};         // per stage (ResNet-18)
  std::vector<int64_t> widths = {64, 128, 256, 512};  // channels per stage (x4 out of a bottleneck)
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

// ResNet-18, -34 and -50 (torchvision's layout), the CIFAR ResNet-20 and ResNet-56 (whose
// stem is always the 3x3 one: options.stem is ignored).
std::shared_ptr<ResNet> resnet18(const ModelOptions& options = {});
std::shared_ptr<ResNet> resnet34(const ModelOptions& options = {});
std::shared_ptr<ResNet> resnet50(const ModelOptions& options = {});
std::shared_ptr<ResNet> resnet20(const ModelOptions& options = {});
std::shared_ptr<ResNet> resnet56(const ModelOptions& options = {});

}  // namespace lowbit::models
