// models/resnet: the CIFAR ResNet-20/56 structures, published ImageNet ResNet sizes, and
// initialisation. Logits against PyTorch's are in model_zoo_test.cpp.
#include "models/resnet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

TEST(ResNet, Resnet20Structure) {
  Generator gen{7, 0};
  auto model = models::resnet20({.num_classes = 10, .in_channels = 1, .gen = &gen});
  const int64_t params = nn::parameter_count(*model);
  // stem 144 + 32; stage 1: 3 x (2 x 2304 + 64); stage 2: 4608 + 9216 + 128 + 512 + 64
  // (1x1 shortcut) + 2 x 18560; stage 3: 18432 + 36864 + 256 + 2048 + 128 + 2 x 73984;
  // fc 650. About the paper's 0.27M.
  EXPECT_EQ(params, 272'186);
  const nn::Summary s = nn::summarize(*model, {1, 1, 28, 28});
  EXPECT_EQ(s.total_params, params);
  EXPECT_EQ(s.rows.back().type, "Linear");
  EXPECT_EQ(s.rows.back().output, (Shape{1, 10}));
  auto y = (*model)(zeros({2, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), (Shape{2, 10}));
  model->eval();
  EXPECT_FALSE(model->child("layer3")->is_training());
}

// torchvision's published parameter counts (torchvision.models docs: resnet18 11,689,512,
// resnet34 21,797,672) and MACs at 224 x 224 (its "GFLOPS" column, which counts
// multiply-adds: 1.81 and 3.66), from the model summary.
TEST(ResNet, ImagenetResnetsHaveTheirPublishedSize) {
  Generator gen{3, 0};
  auto r18 = models::resnet18({.gen = &gen});
  EXPECT_EQ(nn::parameter_count(*r18), 11'689'512);
  const nn::Summary s18 = nn::summarize(*r18, {1, 3, 224, 224});
  EXPECT_EQ(s18.total_params, 11'689'512);
  EXPECT_NEAR(static_cast<double>(s18.total_macs) / 1e9, 1.81, 0.005);
  auto r34 = models::resnet34({.gen = &gen});
  EXPECT_EQ(nn::parameter_count(*r34), 21'797'672);
  const nn::Summary s34 = nn::summarize(*r34, {1, 3, 224, 224});
  EXPECT_NEAR(static_cast<double>(s34.total_macs) / 1e9, 3.66, 0.005);
  EXPECT_EQ(r34->state_dict().size(), 218u);  // 36 convs + 36 BNs x 5 + fc x 2
}

// ResNet-56: 9 blocks per stage. The paper's network (parameter-free shortcuts, option A)
// has 853,018 parameters for 10 classes (the paper's 0.85M); here the two shape-changing
// shortcuts are 1x1 convs with BNs (option B): 16 x 32 + 64 and 32 x 64 + 128 more.
TEST(ResNet, Resnet56Structure) {
  Generator gen{5, 0};
  auto model = models::resnet56({.num_classes = 10, .gen = &gen});
  const int64_t params = nn::parameter_count(*model);
  const nn::Summary s = nn::summarize(*model, {1, 3, 32, 32});
  EXPECT_EQ(s.total_params, params);
  EXPECT_EQ(params, 853'018 + 16 * 32 + 64 + 32 * 64 + 128);
  EXPECT_EQ(model->child("layer3")->children().size(), 9u);
  EXPECT_EQ((*model)(zeros({2, 3, 32, 32})).sizes(), (Shape{2, 10}));
}

TEST(ResNet, ZeroInitResidualAndKaimingFanOut) {
  Generator gen{3, 0};
  models::ResNetConfig c;
  c.blocks = {1, 1};
  c.widths = {32, 64};
  c.stem = models::Stem::cifar;
  c.zero_init_residual = true;
  models::ResNet model(c, &gen);
  for (auto& [name, t] : model.named_parameters()) {
    if (name.ends_with("bn2.weight")) {
      EXPECT_EQ(raw::sum(raw::abs(t)).item(), 0.0) << name;
    }
  }
  // kaiming_normal_(fan_out, ReLU): std sqrt(2 / (C_out * 9)) for the 64-channel 3x3 conv.
  const Tensor w = model.named_parameters()[0].second;  // conv1: 32 x 3 x 3 x 3
  const double expected = std::sqrt(2.0 / (32 * 9));
  const double std = std::sqrt(raw::var(w.to(DType::f64)).item());
  EXPECT_NEAR(std, expected, 0.1 * expected);
}

// Bottlenecks: the stride on the 3x3 conv (v1.5), 4x output channels, zero_init_residual
// zeroes bn3, the block's last BN.
// A block's members are nn::Child handles: replace_child (how quant/ swaps a layer for its
// quantized form) reaches the forward, in inference (fused BN + ReLU path) and training.
class Doubler : public nn::Module {
 public:
  Doubler() : Module("Doubler") {}
  Tensor forward(const Tensor& x) override { return raw::mul(x, 2.0); }
};

TEST(ResNet, ReplacedChildrenReachTheForward) {
  Generator gen{5, 0};
  auto model = models::resnet20({.num_classes = 4, .in_channels = 1, .gen = &gen});
  auto layer = std::dynamic_pointer_cast<nn::Sequential>(model->child("layer1"));
  auto block = std::dynamic_pointer_cast<models::BasicBlock>(layer->child("0"));
  ASSERT_NE(block, nullptr);
  const Tensor x = test::random_tensor({2, 1, 12, 12}, DType::f32, 6);
  for (bool training : {false, true}) {
    model->train(training);
    NoGradGuard no_grad;
    const Tensor before = (*model)(x);
    auto identity = std::make_shared<nn::Identity>();
    auto original_bn = block->bn1.ptr();
    block->replace_child("bn1", identity);  // the block's forward now skips bn1
    const Tensor skipped = (*model)(x);
    EXPECT_FALSE(test::bit_equal(before, skipped, "output without bn1"));
    // Typed access to a replaced member is an error naming it; calling it is not.
    EXPECT_LOWBIT_ERROR(block->bn1->weight, "child 'bn1' is now a Identity");
    EXPECT_EQ(block->bn1.ptr(), nullptr);
    block->replace_child("bn1", original_bn);
    EXPECT_TRUE(test::bit_equal(before, (*model)(x), "bn1 restored"));
    block->replace_child("add", std::make_shared<nn::Add>());  // any Add works
    block->replace_child("relu", std::make_shared<Doubler>());
    EXPECT_FALSE(test::bit_equal(before, (*model)(x), "relu replaced"));
    block->replace_child("relu", std::make_shared<nn::ReLU>());
    EXPECT_TRUE(test::bit_equal(before, (*model)(x), "relu restored"));
  }
}

TEST(ResNet, BottleneckLayout) {
  Generator gen{4, 0};
  models::ResNet model(models::ResNetConfig{.block = models::BlockType::bottleneck,
                                            .blocks = {1, 2},
                                            .widths = {8, 16},
                                            .stem = models::Stem::cifar,
                                            .num_classes = 3,
                                            .zero_init_residual = true},
                       &gen);
  auto block = std::dynamic_pointer_cast<models::Bottleneck>(
      std::dynamic_pointer_cast<nn::Sequential>(model.child("layer2"))->child("0"));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->conv1->options.stride, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(block->conv2->options.stride, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(block->conv3->out_channels, 64);
  ASSERT_NE(block->downsample, nullptr);  // 32 -> 64 channels at stride 2
  EXPECT_EQ(raw::sum(raw::abs(block->bn3->weight)).item(), 0.0);
  EXPECT_EQ(raw::sum(block->bn2->weight).item(), 16.0);
  const Tensor y = model(zeros({2, 3, 16, 16}));
  EXPECT_EQ(y.sizes(), (Shape{2, 3}));
}

}  // namespace
}  // namespace lowbit
