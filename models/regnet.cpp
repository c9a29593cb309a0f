#include "models/regnet.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::models {

Tensor NamedSequential::forward(const Tensor& x) {
  Tensor y = x;
  // Through the call operators (traced); bn + act fused in inference.
  for (size_t i = 0; i < children().size(); ++i) y = nn::call_child(children(), i, y);
  return y;
}

BottleneckTransform::BottleneckTransform(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width,
                                         const LayerOptions& o)
    : Module("BottleneckTransform") {
  // Bottleneck multiplier 1 (RegNetX): the bottleneck width w_b is the output width.
  const int64_t w_b = width_out;
  LOWBIT_CHECK(group_width > 0 && w_b % group_width == 0, "RegNet: width ", w_b, " is no multiple of group width ",
               group_width);
  a = register_child("a", conv_bn_act(width_in, w_b, 1, 1, 1, Act::relu, o));
  b = register_child("b", conv_bn_act(w_b, w_b, 3, stride, w_b / group_width, Act::relu, o));
  c = register_child("c", conv_bn_act(w_b, width_out, 1, 1, 1, Act::none, o));
}

Tensor BottleneckTransform::forward(const Tensor& x) { return c(b(a(x))); }

ResBottleneckBlock::ResBottleneckBlock(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width,
                                       const LayerOptions& o)
    : Module("ResBottleneckBlock") {
  if (width_in != width_out || stride != 1) {
    proj = register_child("proj", conv_bn_act(width_in, width_out, 1, stride, 1, Act::none, o));
  }
  f = register_child("f", std::make_shared<BottleneckTransform>(width_in, width_out, stride, group_width, o));
  activation = register_child("activation", std::make_shared<nn::ReLU>());
  add = register_child("add", std::make_shared<nn::Add>());
}

// torchvision: relu(proj(x) + f(x)) or relu(x + f(x)), shortcut first.
Tensor ResBottleneckBlock::forward(const Tensor& x) {
  const Tensor shortcut = proj ? proj(x) : x;
  return activation(add(shortcut, f(x)));
}

AnyStage::AnyStage(int64_t width_in, int64_t width_out, int64_t stride, int64_t depth, int64_t group_width,
                   int64_t stage_index, const LayerOptions& o)
    : NamedSequential("AnyStage") {
  for (int64_t i = 0; i < depth; ++i) {
    append("block" + std::to_string(stage_index) + "-" + std::to_string(i),
           std::make_shared<ResBottleneckBlock>(i == 0 ? width_in : width_out, width_out, i == 0 ? stride : 1,
                                                group_width, o));
  }
}

namespace {

// torchvision's _make_divisible (from the MobileNets): v rounded to the nearest multiple
// of `divisor`, at least `divisor`, and never more than 10% below v.
int64_t make_divisible(int64_t v, int64_t divisor) {
  int64_t rounded = std::max(divisor, static_cast<int64_t>(static_cast<double>(v) + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(rounded) < 0.9 * static_cast<double>(v)) rounded += divisor;
  return rounded;
}

}  // namespace

std::vector<RegNetStage> regnet_stages(int64_t depth, double w_0, double w_a, double w_m, int64_t group_width) {
  constexpr int64_t quantum = 8;
  LOWBIT_CHECK(depth > 0 && w_a >= 0 && w_0 > 0 && w_m > 1 && std::fmod(w_0, quantum) == 0 && group_width > 0,
               "RegNet: invalid design parameters d=", depth, " w_0=", w_0, " w_a=", w_a, " w_m=", w_m,
               " g=", group_width);
  // Block j's width on the linear ramp u_j = w_0 + w_a * j, snapped to the nearest power of
  // w_m times w_0 (in log space) and then to a multiple of 8. std::nearbyint rounds half to
  // even, as torch.round and np.round do. (torchvision computes in float32, pycls in
  // float64: for the three models here no rounded value is within 0.003 of a half, far
  // beyond float32's error, so both give the same widths.)
  std::vector<RegNetStage> stages;
  for (int64_t j = 0; j < depth; ++j) {
    const double u = static_cast<double>(j) * w_a + w_0;
    const double capacity = std::nearbyint(std::log(u / w_0) / std::log(w_m));
    const auto width = static_cast<int64_t>(std::nearbyint(w_0 * std::pow(w_m, capacity) / quantum)) * quantum;
    if (stages.empty() || stages.back().width != width) stages.push_back({0, width, 0});
    ++stages.back().depth;  // a stage: a run of equal widths (they never decrease)
  }
  // Group widths compatible with the widths (_adjust_widths_groups_compatibilty with
  // bottleneck multiplier 1): a group never wider than its stage, and a whole number of
  // groups per stage.
  for (RegNetStage& s : stages) {
    s.group_width = std::min(group_width, s.width);
    s.width = make_divisible(s.width, s.group_width);
  }
  return stages;
}

RegNet::RegNet(const RegNetConfig& c, Generator* gen)
    : Module("RegNet"), config(c), stages(regnet_stages(c.depth, c.w_0, c.w_a, c.w_m, c.group_width)) {
  const LayerOptions o{.dtype = c.dtype, .gen = gen, .bn_eps = 1e-5, .bn_momentum = 0.1};
  register_module("stem",
                  conv_bn_act(c.in_channels, c.stem_width, 3, c.stem == Stem::imagenet ? 2 : 1, 1, Act::relu, o));
  auto trunk = register_module("trunk_output", std::make_shared<NamedSequential>());
  int64_t width = c.stem_width;
  for (size_t i = 0; i < stages.size(); ++i) {
    const RegNetStage& s = stages[i];
    const auto index = static_cast<int64_t>(i) + 1;
    trunk->append("block" + std::to_string(index),
                  std::make_shared<AnyStage>(width, s.width, 2, s.depth, s.group_width, index, o));
    width = s.width;
  }
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1}));
  register_module("fc", classifier_linear(width, c.num_classes, o));
}

Tensor RegNet::forward(const Tensor& x) {
  Tensor y = (*child("stem"))(x);
  y = (*child("trunk_output"))(y);
  y = flatten((*child("avgpool"))(y), 1);
  return (*child("fc"))(y);
}

RegNetConfig regnet_x_400mf_config() {
  return RegNetConfig{.depth = 22, .w_0 = 24, .w_a = 24.48, .w_m = 2.54, .group_width = 16};
}

// pycls configs/dds_baselines/regnetx/RegNetX-600MF_dds_8gpu.yaml.
RegNetConfig regnet_x_600mf_config() {
  return RegNetConfig{.depth = 16, .w_0 = 48, .w_a = 36.97, .w_m = 2.24, .group_width = 24};
}

RegNetConfig regnet_x_800mf_config() {
  return RegNetConfig{.depth = 16, .w_0 = 56, .w_a = 35.73, .w_m = 2.28, .group_width = 16};
}

namespace {

std::shared_ptr<RegNet> make(RegNetConfig c, const ModelOptions& o) {
  c.num_classes = o.num_classes;
  c.in_channels = o.in_channels;
  c.stem = o.stem;
  c.dtype = o.dtype;
  return std::make_shared<RegNet>(c, o.gen);
}

}  // namespace

std::shared_ptr<RegNet> regnet_x_400mf(const ModelOptions& o) {
  return make(regnet_x_400mf_config(), o);
}

std::shared_ptr<RegNet> regnet_x_600mf(const ModelOptions& o) {
  return make(regnet_x_600mf_config(), o);
}

std::shared_ptr<RegNet> regnet_x_800mf(const ModelOptions& o) {
  return make(regnet_x_800mf_config(), o);
}

}  // namespace lowbit::models
