#include "models/mobilenet_v2.h"

#include <array>

#include "autograd/ops.h"

namespace lowbit::models {

InvertedResidual::InvertedResidual(int64_t in_channels, int64_t out_channels, int64_t stride, int64_t expand_ratio,
                                   const LayerOptions& o)
    : Module("InvertedResidual") {
  const int64_t hidden = in_channels * expand_ratio;
  conv = register_child("conv", std::make_shared<nn::Sequential>());
  if (expand_ratio != 1) conv->push_back(conv_bn_act(in_channels, hidden, 1, 1, 1, Act::relu6, o));
  conv->push_back(conv_bn_act(hidden, hidden, 3, stride, hidden, Act::relu6, o));  // depthwise
  conv->push_back(models::conv(hidden, out_channels, 1, 1, 0, 1, o));             // linear bottleneck
  conv->push_back(batch_norm(out_channels, o));
  if (stride == 1 && in_channels == out_channels) add = register_child("add", std::make_shared<nn::Add>());
}

Tensor InvertedResidual::forward(const Tensor& x) {
  Tensor y = conv(x);
  return add ? add(x, y) : y;
}

MobileNetV2::MobileNetV2(const ModelOptions& c, double dropout) : Module("MobileNetV2") {
  const LayerOptions o{.dtype = c.dtype, .gen = c.gen};
  struct Stage {
    int64_t t, c, n, s;
  };
  constexpr std::array<Stage, 7> stages = {{{1, 16, 1, 1},
                                            {6, 24, 2, 2},
                                            {6, 32, 3, 2},
                                            {6, 64, 4, 2},
                                            {6, 96, 3, 1},
                                            {6, 160, 3, 2},
                                            {6, 320, 1, 1}}};
  constexpr int64_t stem_width = 32, last_width = 1280;
  auto features = register_module("features", std::make_shared<nn::Sequential>());
  features->push_back(
      conv_bn_act(c.in_channels, stem_width, 3, c.stem == Stem::imagenet ? 2 : 1, 1, Act::relu6, o));
  int64_t in = stem_width;
  for (const Stage& st : stages) {
    for (int64_t i = 0; i < st.n; ++i) {
      features->push_back(std::make_shared<InvertedResidual>(in, st.c, i == 0 ? st.s : 1, st.t, o));
      in = st.c;
    }
  }
  features->push_back(conv_bn_act(in, last_width, 1, 1, 1, Act::relu6, o));
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1}));
  auto classifier = register_module("classifier", std::make_shared<nn::Sequential>());
  classifier->push_back(std::make_shared<nn::Dropout>(dropout));
  classifier->push_back(classifier_linear(last_width, c.num_classes, o));
}

Tensor MobileNetV2::forward(const Tensor& x) {
  Tensor y = (*child("features"))(x);
  y = flatten((*child("avgpool"))(y), 1);
  return (*child("classifier"))(y);
}

std::shared_ptr<MobileNetV2> mobilenet_v2(const ModelOptions& o) { return std::make_shared<MobileNetV2>(o); }

}  // namespace lowbit::models
