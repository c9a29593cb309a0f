#include "models/efficientnet_lite.h"

#include <array>
#include <cmath>

#include "autograd/ops.h"

namespace lowbit::models {

namespace {

// TF's conv_kernel_initializer: N(0, 2 / fan_out), fan_out = kH * kW * C_out / groups (a TF
// depthwise kernel is [k, k, C, 1]: its fan_out is k * k, not k * k * C as torch's).
std::shared_ptr<nn::Conv2d> tf_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                    const LayerOptions& o) {
  auto c = conv(in, out, kernel, stride, (kernel - 1) / 2, groups, o);
  const double fan_out = static_cast<double>(kernel * kernel * out / groups);
  nn::normal_(c->weight, 0, std::sqrt(2.0 / fan_out), o.gen);
  return c;
}

}  // namespace

MBConv::MBConv(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t expand_ratio,
               double drop_path, const LayerOptions& o)
    : Module(expand_ratio == 1 ? "DepthwiseSeparableConv" : "InvertedResidual"),
      has_expansion(expand_ratio != 1),
      has_residual(stride == 1 && in_channels == out_channels) {
  const int64_t mid = in_channels * expand_ratio;
  if (has_expansion) {
    register_module("conv_pw", tf_conv(in_channels, mid, 1, 1, 1, o));
    register_module("bn1", batch_norm(mid, o));
    register_module("act1", std::make_shared<nn::ReLU6>());
  }
  register_module("conv_dw", tf_conv(mid, mid, kernel, stride, mid, o));
  register_module(has_expansion ? "bn2" : "bn1", batch_norm(mid, o));
  register_module(has_expansion ? "act2" : "act1", std::make_shared<nn::ReLU6>());
  register_module(has_expansion ? "conv_pwl" : "conv_pw", tf_conv(mid, out_channels, 1, 1, 1, o));
  register_module(has_expansion ? "bn3" : "bn2", batch_norm(out_channels, o));
  if (has_residual) {
    register_module("drop_path", std::make_shared<nn::StochasticDepth>(drop_path));
    register_module("add", std::make_shared<nn::Add>());
  }
}

Tensor MBConv::forward(const Tensor& x) {
  Tensor y = x;
  const auto& c = children();
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].first == "add") return (*std::static_pointer_cast<nn::Add>(c[i].second))(x, y);
    y = nn::call_child(c, i, y);  // bn + act fused in inference
  }
  return y;
}

EfficientNetLite::EfficientNetLite(const ModelOptions& c, const EfficientNetLiteRegularization& reg)
    : Module("EfficientNetLite") {
  const LayerOptions o{.dtype = c.dtype, .gen = c.gen, .bn_eps = 1e-3, .bn_momentum = 0.01};
  struct Stage {
    int64_t expand, kernel, stride, channels, repeats;
  };
  constexpr std::array<Stage, 7> stages = {{{1, 3, 1, 16, 1},
                                            {6, 3, 2, 24, 2},
                                            {6, 5, 2, 40, 2},
                                            {6, 3, 2, 80, 3},
                                            {6, 5, 1, 112, 3},
                                            {6, 5, 2, 192, 4},
                                            {6, 3, 1, 320, 1}}};
  constexpr int64_t stem_width = 32, head_width = 1280;
  int64_t total_blocks = 0;
  for (const Stage& s : stages) total_blocks += s.repeats;

  register_module("conv_stem", tf_conv(c.in_channels, stem_width, 3, c.stem == Stem::imagenet ? 2 : 1, 1, o));
  register_module("bn1", batch_norm(stem_width, o));
  register_module("act1", std::make_shared<nn::ReLU6>());
  auto blocks = register_module("blocks", std::make_shared<nn::Sequential>());
  int64_t in = stem_width, index = 0;
  for (const Stage& s : stages) {
    auto stage = blocks->push_back(std::make_shared<nn::Sequential>());
    for (int64_t i = 0; i < s.repeats; ++i, ++index) {
      // The TF release's drop connect: rate x block index / number of blocks.
      const double drop = reg.drop_connect_rate * static_cast<double>(index) / static_cast<double>(total_blocks);
      stage->push_back(std::make_shared<MBConv>(in, s.channels, s.kernel, i == 0 ? s.stride : 1, s.expand, drop, o));
      in = s.channels;
    }
  }
  register_module("conv_head", tf_conv(in, head_width, 1, 1, 1, o));
  register_module("bn2", batch_norm(head_width, o));
  register_module("act2", std::make_shared<nn::ReLU6>());
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1}));
  register_module("dropout", std::make_shared<nn::Dropout>(reg.dropout));
  auto fc = register_module("classifier", std::make_shared<nn::Linear>(head_width, c.num_classes,
                                                                       nn::LinearOptions{.dtype = c.dtype, .gen = c.gen}));
  const double range = 1 / std::sqrt(static_cast<double>(c.num_classes));  // TF's dense_kernel_initializer
  nn::uniform_(fc->weight, -range, range, c.gen);
  nn::zeros_(fc->bias);
}

Tensor EfficientNetLite::forward(const Tensor& x) {
  Tensor y = x;
  const auto& c = children();
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].first == "dropout") y = flatten(y, 1);
    y = nn::call_child(c, i, y);  // bn + act fused in inference
  }
  return y;
}

std::shared_ptr<EfficientNetLite> efficientnet_lite0(const ModelOptions& o) {
  return std::make_shared<EfficientNetLite>(o);
}

}  // namespace lowbit::models
