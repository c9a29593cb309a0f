// RegNetX (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020) in
// torchvision's layout, so state dicts load into torchvision.models.regnet_x_400mf /
// regnet_x_800mf and back:
//   stem                 SimpleStemIN: conv 3x3/2 32, BN, ReLU (Conv2dNormActivation .0 .1 .2)
//   trunk_output.blockS  AnyStage S = 1..4, its blocks named "blockS-i" (i = 0, 1, ...)
//     ResBottleneckBlock [proj  1x1 conv/s + BN, no activation: where the shape changes]
//                        f     BottleneckTransform: a 1x1 conv-BN-ReLU, b 3x3/s grouped
//                              conv-BN-ReLU (groups = width / group width), c 1x1 conv-BN
//                        activation ReLU after the residual addition, and `add` (nn::Add,
//                        no parameters, kept as a module for quant/)
//   avgpool, flatten, fc
// RegNetX is the design space without squeeze-excitation and with bottleneck multiplier 1
// (the 3x3 runs at the block's output width). A model is four numbers and a group width
// (paper section 3.3): per-block widths u_j = w_0 + w_a * j on a linear ramp, quantized
// to w_0 * w_m^round(log(u_j / w_0) / log(w_m)) and to multiples of 8; runs of equal
// width make the stages, each starting with a stride-2 block (regnet_stages() below).
//
//   model           d   w_0  w_a    w_m   g   stages (depth x width)         params     MACs at 224
//   RegNetX-400MF   22  24   24.48  2.54  16  1x32  2x64  7x160 12x400      5,495,976  0.41 G
//   RegNetX-600MF   16  48   36.97  2.24  24  1x48  3x96  5x240  7x528      6,196,040  0.60 G (pycls)
//   RegNetX-800MF   16  56   35.73  2.28  16  1x64  3x128 7x288  5x672      7,259,656  0.80 G
// 400MF and 800MF are torchvision's (regnet_x_400mf, regnet_x_800mf); torchvision has no
// 600MF, which is pycls's RegNetX-600MF (configs/dds_baselines/regnetx), built here with
// torchvision's module names all the same. torchvision's 400MF is not quite pycls's: the
// last stage's quantized width 392 becomes a multiple of the group width 16 by
// _make_divisible (392 + 8 -> 400) where pycls rounds half to even (24.5 x 16 -> 384), so
// torchvision's has 5.5M parameters and pycls's 5.2M. For 600MF and 800MF the two agree.
//
// Initialisation as torchvision: convs normal(0, sqrt(2 / (k * k * C_out))) (kaiming
// fan_out), BN weight 1 and bias 0 (eps 1e-5, momentum 0.1), fc N(0, 0.01) with zero bias.
// Stem::cifar puts the stem conv at stride 1 (32x32 -> 2x2 at the head).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/layers.h"

namespace lowbit::models {

// A container whose children are called in registration order, as nn::Sequential, but
// under names of one's choosing (torch's Sequential(OrderedDict(...))): torchvision's
// trunk_output ("block1", ...) and its stages ("block1-0", ...).
class NamedSequential : public nn::Module {
 public:
  explicit NamedSequential(std::string type = "Sequential") : Module(std::move(type)) {}
  template <typename M>
  std::shared_ptr<M> append(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
  Tensor forward(const Tensor& x) override;
};

// The residual branch: a (1x1), b (3x3 grouped, stride s), c (1x1, linear).
class BottleneckTransform : public nn::Module {
 public:
  BottleneckTransform(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width, const LayerOptions& o);
  Tensor forward(const Tensor& x) override;

  nn::Child<nn::Sequential> a, b, c;  // nn::Child: the module registered now (quant/ swaps layers)
};

class ResBottleneckBlock : public nn::Module {
 public:
  ResBottleneckBlock(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width, const LayerOptions& o);
  Tensor forward(const Tensor& x) override;

  nn::Child<nn::Sequential> proj;  // empty when the shape does not change
  nn::Child<BottleneckTransform> f;
  nn::Child<nn::ReLU> activation;
  nn::Child<nn::Add> add;
};

// One stage: `depth` blocks "block{index}-0", ...; the first has the stride and the
// change of width.
class AnyStage : public NamedSequential {
 public:
  AnyStage(int64_t width_in, int64_t width_out, int64_t stride, int64_t depth, int64_t group_width, int64_t stage_index,
           const LayerOptions& o);
};

struct RegNetStage {
  int64_t depth = 0, width = 0, group_width = 0;
  bool operator==(const RegNetStage&) const = default;
};

// The stages of the RegNet with `depth` blocks, initial width w_0 (a multiple of 8),
// slope w_a >= 0, width multiplier w_m > 1 and group width g, as torchvision's
// BlockParams.from_init_params (= pycls's generate_regnet + adjust_ws_gs_comp) with
// bottleneck multiplier 1: each stage's group width is min(g, width) and its width is
// rounded to a multiple of that.
std::vector<RegNetStage> regnet_stages(int64_t depth, double w_0, double w_a, double w_m, int64_t group_width);

struct RegNetConfig {
  // The design parameters (paper section 3.3); the defaults are RegNetX-400MF's.
  int64_t depth = 22;
  double w_0 = 24, w_a = 24.48, w_m = 2.54;
  int64_t group_width = 16;
  int64_t stem_width = 32;  // torchvision's and pycls's
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  Stem stem = Stem::imagenet;
  DType dtype = DType::f32;  // of every parameter and buffer (f64 for golden tests)
};

class RegNet : public nn::Module {
 public:
  explicit RegNet(const RegNetConfig& config, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  const RegNetConfig config;
  const std::vector<RegNetStage> stages;
};

// The configurations of the table above (num_classes 1000, 3 input channels, ImageNet stem,
// f32), to adjust before building: e.g. an f64 model for golden tests.
RegNetConfig regnet_x_400mf_config();
RegNetConfig regnet_x_600mf_config();
RegNetConfig regnet_x_800mf_config();

std::shared_ptr<RegNet> regnet_x_400mf(const ModelOptions& options = {});
std::shared_ptr<RegNet> regnet_x_600mf(const ModelOptions& options = {});
std::shared_ptr<RegNet> regnet_x_800mf(const ModelOptions& options = {});

}  // namespace lowbit::models
