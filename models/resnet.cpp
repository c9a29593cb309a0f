#include "models/resnet.h"

#include <utility>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::models {

namespace {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad, DType dtype,
                                 Generator* gen) {
  return models::conv(in, out, kernel, stride, pad, 1, LayerOptions{.dtype = dtype, .gen = gen});
}

std::shared_ptr<nn::BatchNorm2d> bn(int64_t channels, DType dtype) {
  return batch_norm(channels, LayerOptions{.dtype = dtype});
}

// 1x1 conv + BN on the shortcut where the block changes the shape (the paper's option B).
std::shared_ptr<nn::Sequential> downsample(int64_t in, int64_t out, int64_t stride, DType dtype, Generator* gen) {
  auto d = std::make_shared<nn::Sequential>();
  d->push_back(conv(in, out, 1, stride, 0, dtype, gen));
  d->push_back(bn(out, dtype));
  return d;
}

}  // namespace

BasicBlock::BasicBlock(int64_t in_channels, int64_t channels, int64_t stride, DType dtype, Generator* gen)
    : Module("BasicBlock") {
  conv1 = register_child("conv1", conv(in_channels, channels, 3, stride, 1, dtype, gen));
  bn1 = register_child("bn1", bn(channels, dtype));
  relu = register_child("relu", std::make_shared<nn::ReLU>());
  conv2 = register_child("conv2", conv(channels, channels, 3, 1, 1, dtype, gen));
  bn2 = register_child("bn2", bn(channels, dtype));
  if (stride != 1 || in_channels != channels) {
    downsample = register_child("downsample", models::downsample(in_channels, channels, stride, dtype, gen));
  }
  add = register_child("add", std::make_shared<nn::Add>());
}

// nn::batch_norm_act(bn, relu, y) is relu(bn(y)), in one pass in inference.
Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = nn::batch_norm_act(bn1.module(), relu.module(), conv1(x));
  out = bn2(conv2(out));
  const Tensor identity = downsample ? downsample(x) : x;
  return relu(add(out, identity));
}

Bottleneck::Bottleneck(int64_t in_channels, int64_t channels, int64_t stride, DType dtype, Generator* gen)
    : Module("Bottleneck") {
  const int64_t out_channels = channels * expansion;
  conv1 = register_child("conv1", conv(in_channels, channels, 1, 1, 0, dtype, gen));
  bn1 = register_child("bn1", bn(channels, dtype));
  conv2 = register_child("conv2", conv(channels, channels, 3, stride, 1, dtype, gen));
  bn2 = register_child("bn2", bn(channels, dtype));
  conv3 = register_child("conv3", conv(channels, out_channels, 1, 1, 0, dtype, gen));
  bn3 = register_child("bn3", bn(out_channels, dtype));
  relu = register_child("relu", std::make_shared<nn::ReLU>());
  if (stride != 1 || in_channels != out_channels) {
    downsample = register_child("downsample", models::downsample(in_channels, out_channels, stride, dtype, gen));
  }
  add = register_child("add", std::make_shared<nn::Add>());
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = nn::batch_norm_act(bn1.module(), relu.module(), conv1(x));
  out = nn::batch_norm_act(bn2.module(), relu.module(), conv2(out));
  out = bn3(conv3(out));
  const Tensor identity = downsample ? downsample(x) : x;
  return relu(add(out, identity));
}

ResNet::ResNet(const ResNetConfig& c, Generator* gen) : Module("ResNet"), config(c) {
  LOWBIT_CHECK(!c.blocks.empty() && c.blocks.size() == c.widths.size(), "ResNet: ", c.blocks.size(),
               " stages of blocks but ", c.widths.size(), " widths");
  const int64_t stem_width = c.widths[0];
  if (c.stem == Stem::imagenet) {
    register_module("conv1", conv(c.in_channels, stem_width, 7, 2, 3, c.dtype, gen));
  } else {
    register_module("conv1", conv(c.in_channels, stem_width, 3, 1, 1, c.dtype, gen));
  }
  register_module("bn1", bn(stem_width, c.dtype));
  register_module("relu", std::make_shared<nn::ReLU>());
  if (c.stem == Stem::imagenet) {
    register_module("maxpool", std::make_shared<nn::MaxPool2d>(nn::Pair{3, 3}, nn::Pair{2, 2}, nn::Pair{1, 1}));
  } else {
    register_module("maxpool", std::make_shared<nn::Identity>());
  }
  int64_t in = stem_width;
  for (size_t stage = 0; stage < c.blocks.size(); ++stage) {
    auto layer = register_module("layer" + std::to_string(stage + 1), std::make_shared<nn::Sequential>());
    for (int64_t b = 0; b < c.blocks[stage]; ++b) {
      const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
      if (c.block == BlockType::basic) {
        auto block = layer->push_back(std::make_shared<BasicBlock>(in, c.widths[stage], stride, c.dtype, gen));
        if (c.zero_init_residual) nn::zeros_(block->bn2->weight);
        in = c.widths[stage];
      } else {
        auto block = layer->push_back(std::make_shared<Bottleneck>(in, c.widths[stage], stride, c.dtype, gen));
        if (c.zero_init_residual) nn::zeros_(block->bn3->weight);
        in = c.widths[stage] * Bottleneck::expansion;
      }
    }
  }
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1}));
  register_module("fc",
                  std::make_shared<nn::Linear>(in, c.num_classes, nn::LinearOptions{.dtype = c.dtype, .gen = gen}));
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = x;
  const auto& c = children();
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].first == "fc") y = flatten(y, 1);
    y = nn::call_child(c, i, y);  // bn1 + relu fused in inference
  }
  return y;
}

namespace {

std::shared_ptr<ResNet> imagenet_resnet(BlockType block, std::vector<int64_t> blocks, const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetConfig{.block = block,
                                               .blocks = std::move(blocks),
                                               .widths = {64, 128, 256, 512},
                                               .stem = o.stem,
                                               .in_channels = o.in_channels,
                                               .num_classes = o.num_classes,
                                               .dtype = o.dtype},
                                  o.gen);
}

// The paper's CIFAR networks: 6n + 2 layers, three stages of n blocks, 16/32/64 channels.
std::shared_ptr<ResNet> cifar_resnet(int64_t n, const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetConfig{.blocks = {n, n, n},
                                               .widths = {16, 32, 64},
                                               .stem = Stem::cifar,
                                               .in_channels = o.in_channels,
                                               .num_classes = o.num_classes,
                                               .dtype = o.dtype},
                                  o.gen);
}

}  // namespace

std::shared_ptr<ResNet> resnet18(const ModelOptions& o) { return imagenet_resnet(BlockType::basic, {2, 2, 2, 2}, o); }
std::shared_ptr<ResNet> resnet34(const ModelOptions& o) { return imagenet_resnet(BlockType::basic, {3, 4, 6, 3}, o); }
std::shared_ptr<ResNet> resnet50(const ModelOptions& o) {
  return imagenet_resnet(BlockType::bottleneck, {3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet20(const ModelOptions& o) { return cifar_resnet(3, o); }
std::shared_ptr<ResNet> resnet56(const ModelOptions& o) { return cifar_resnet(9, o); }

}  // namespace lowbit::models
