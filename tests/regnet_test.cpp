// models/regnet: the stages generated from the design parameters, torchvision's
// state-dict names and shapes, the published sizes (parameters and multiply-adds), and
// forward passes at ImageNet and CIFAR stems.
#include "models/regnet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using models::RegNetStage;

std::vector<RegNetStage> stages_of(const models::RegNetConfig& c) {
  return models::regnet_stages(c.depth, c.w_0, c.w_a, c.w_m, c.group_width);
}

// torchvision's BlockParams.from_init_params for its configurations. The per-block widths
// before the group adjustment (also pycls's) are
//   400MF  24, 2 x 64, 7 x 152, 12 x 392
//   600MF  48, 3 x 104, 5 x 240, 7 x 536
//   800MF  56, 3 x 128, 7 x 288, 5 x 664
// and each stage width is then a multiple of its group width min(g, width). 400MF's last
// stage is 400 in torchvision (_make_divisible(392, 16)) but 384 in pycls, whose
// round(24.5) is 24: torchvision's count of 5,495,976 parameters needs the 400.
TEST(RegNet, StagesFromDesignParameters) {
  EXPECT_EQ(stages_of(models::regnet_x_400mf_config()),
            (std::vector<RegNetStage>{{1, 32, 16}, {2, 64, 16}, {7, 160, 16}, {12, 400, 16}}));
  EXPECT_EQ(stages_of(models::regnet_x_600mf_config()),
            (std::vector<RegNetStage>{{1, 48, 24}, {3, 96, 24}, {5, 240, 24}, {7, 528, 24}}));
  EXPECT_EQ(stages_of(models::regnet_x_800mf_config()),
            (std::vector<RegNetStage>{{1, 64, 16}, {3, 128, 16}, {7, 288, 16}, {5, 672, 16}}));
  // A group width wider than the first stage shrinks to it: RegNetX-200MF (d 13, w_0 24,
  // w_a 36.44, w_m 2.49, g 8) has stages 1x24, 1x56, 4x152, 7x368 with g 8; with g 32 the
  // 24-wide stage gets groups of 24.
  EXPECT_EQ(models::regnet_stages(13, 24, 36.44, 2.49, 8),
            (std::vector<RegNetStage>{{1, 24, 8}, {1, 56, 8}, {4, 152, 8}, {7, 368, 8}}));
  EXPECT_EQ(models::regnet_stages(13, 24, 36.44, 2.49, 32).front(), (RegNetStage{1, 24, 24}));
  EXPECT_THROW(models::regnet_stages(16, 50, 36.97, 2.24, 24), Error);  // w_0 not a multiple of 8
  EXPECT_THROW(models::regnet_stages(16, 48, 36.97, 1.0, 24), Error);   // w_m must exceed 1
}

// Parameter and MAC counts against the published ones: model_zoo_test.cpp.

TEST(RegNet, StateDictIsTorchvisions) {
  Generator gen{5, 0};
  auto model = models::regnet_x_400mf({.num_classes = 10, .gen = &gen});
  const nn::NamedTensors state = model->state_dict();
  auto shape_of = [&](const std::string& name) -> Shape {
    for (const auto& [n, t] : state)
      if (n == name) return t.sizes();
    ADD_FAILURE() << "no " << name;
    return {};
  };
  ASSERT_GE(state.size(), 8u);
  const std::vector<std::string> first = {"stem.0.weight",
                                          "stem.1.weight",
                                          "stem.1.bias",
                                          "stem.1.running_mean",
                                          "stem.1.running_var",
                                          "stem.1.num_batches_tracked",
                                          "trunk_output.block1.block1-0.proj.0.weight"};
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(state[i].first, first[i]) << "entry " << i;
  EXPECT_EQ(state[state.size() - 2].first, "fc.weight");
  EXPECT_EQ(state.back().first, "fc.bias");
  // 1 stem + 22 blocks x 3 + 4 projections = 71 convs (1 entry) with BNs (5), fc x 2.
  EXPECT_EQ(state.size(), 71u * 6 + 2);

  EXPECT_EQ(shape_of("stem.0.weight"), (Shape{32, 3, 3, 3}));
  EXPECT_EQ(shape_of("trunk_output.block1.block1-0.proj.0.weight"), (Shape{32, 32, 1, 1}));
  EXPECT_EQ(shape_of("trunk_output.block1.block1-0.f.a.0.weight"), (Shape{32, 32, 1, 1}));
  EXPECT_EQ(shape_of("trunk_output.block1.block1-0.f.b.0.weight"), (Shape{32, 16, 3, 3}));  // 2 groups of 16
  EXPECT_EQ(shape_of("trunk_output.block1.block1-0.f.c.1.running_var"), (Shape{32}));
  EXPECT_EQ(shape_of("trunk_output.block2.block2-1.f.b.0.weight"), (Shape{64, 16, 3, 3}));
  EXPECT_EQ(shape_of("trunk_output.block4.block4-0.proj.0.weight"), (Shape{400, 160, 1, 1}));
  EXPECT_EQ(shape_of("trunk_output.block4.block4-11.f.b.0.weight"), (Shape{400, 16, 3, 3}));  // 25 groups
  EXPECT_EQ(shape_of("fc.weight"), (Shape{10, 400}));
  // A projection only on each stage's first block (stride 2, new width).
  for (const auto& [n, t] : state) {
    if (n.find(".proj.") != std::string::npos) {
      EXPECT_NE(n.find("-0.proj."), std::string::npos) << n;
    }
  }
  // The residual addition is a module (for quant/), without state.
  auto stage = model->child("trunk_output")->child("block2");
  auto block = std::dynamic_pointer_cast<models::ResBottleneckBlock>(stage->child("block2-1"));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->proj, nullptr);
  EXPECT_EQ(block->add->type(), "Add");
  EXPECT_EQ(block->f->b->children().size(), 3u);  // conv, BN, ReLU
  EXPECT_EQ(block->f->c->children().size(), 2u);  // conv, BN: linear before the addition
}

TEST(RegNet, ForwardShapes) {
  Generator gen{7, 0};
  auto model = models::regnet_x_600mf({.num_classes = 10, .gen = &gen});
  EXPECT_EQ((*model)(zeros({2, 3, 64, 64})).sizes(), (Shape{2, 10}));
  // CIFAR stem: stride 1, so 32 x 32 reaches the head at 2 x 2.
  auto cifar = models::regnet_x_400mf({.num_classes = 10, .stem = models::Stem::cifar, .gen = &gen});
  const nn::Summary s = nn::summarize(*cifar, {1, 3, 32, 32});
  EXPECT_EQ(s.rows.front().output, (Shape{1, 32, 32, 32}));
  bool seen_last_stage = false;
  for (const auto& r : s.rows) {
    if (r.name == "trunk_output.block4.block4-11.activation") {
      EXPECT_EQ(r.output, (Shape{1, 400, 2, 2}));
      seen_last_stage = true;
    }
  }
  EXPECT_TRUE(seen_last_stage);
  cifar->train();
  EXPECT_EQ((*cifar)(zeros({2, 3, 32, 32})).sizes(), (Shape{2, 10}));
  // One input channel (Fashion-MNIST) and an f64 model from a config.
  models::RegNetConfig c = models::regnet_x_800mf_config();
  c.num_classes = 10;
  c.in_channels = 1;
  c.stem = models::Stem::cifar;
  c.dtype = DType::f64;
  models::RegNet m64(c, &gen);
  const Tensor y = m64(zeros({2, 1, 28, 28}, DType::f64));
  EXPECT_EQ(y.sizes(), (Shape{2, 10}));
  EXPECT_EQ(y.dtype(), DType::f64);
}

// torchvision's initialisation: convs normal(0, sqrt(2 / (k * k * C_out))), BN 1 / 0, fc
// N(0, 0.01) and zero bias.
TEST(RegNet, Initialisation) {
  Generator gen{3, 0};
  auto model = models::regnet_x_400mf({.gen = &gen});
  for (const auto& [name, t] : model->named_parameters()) {
    const Tensor v = t.to(DType::f64);
    if (name == "trunk_output.block4.block4-3.f.b.0.weight") {  // 400 x 16 x 3 x 3
      const double expected = std::sqrt(2.0 / (9 * 400));
      EXPECT_NEAR(std::sqrt(raw::var(v).item()), expected, 0.05 * expected);
    } else if (name == "fc.weight") {
      EXPECT_NEAR(std::sqrt(raw::var(v).item()), 0.01, 0.0005);
    } else if (name.ends_with(".1.weight")) {
      EXPECT_EQ(raw::sum(v).item(), static_cast<double>(v.numel())) << name;
    } else if (name.ends_with(".1.bias") || name == "fc.bias") {
      EXPECT_EQ(raw::sum(raw::abs(v)).item(), 0.0) << name;
    }
  }
}

}  // namespace
}  // namespace lowbit
