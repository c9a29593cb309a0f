#include "models/layers.h"

namespace lowbit::models {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                 int64_t groups, const LayerOptions& o) {
  auto c = std::make_shared<nn::Conv2d>(in, out, kernel,
                                        nn::Conv2dOptions{.stride = {stride, stride},
                                                          .padding = {padding, padding},
                                                          .groups = groups,
                                                          .bias = false,
                                                          .dtype = o.dtype,
                                                          .gen = o.gen});
  nn::kaiming_normal_(c->weight, nn::FanMode::fan_out, 0, o.gen);
  return c;
}

std::shared_ptr<nn::BatchNorm2d> batch_norm(int64_t channels, const LayerOptions& o) {
  return std::make_shared<nn::BatchNorm2d>(
      channels, nn::BatchNormOptions{.eps = o.bn_eps, .momentum = o.bn_momentum, .dtype = o.dtype});
}

std::shared_ptr<nn::Module> activation(Act act) {
  switch (act) {
    case Act::none:
      return nullptr;
    case Act::relu:
      return std::make_shared<nn::ReLU>();
    case Act::relu6:
      return std::make_shared<nn::ReLU6>();
  }
  return nullptr;
}

std::shared_ptr<nn::Sequential> conv_bn_act(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                            Act act, const LayerOptions& o) {
  auto s = std::make_shared<nn::Sequential>();
  s->push_back(conv(in, out, kernel, stride, (kernel - 1) / 2, groups, o));
  s->push_back(batch_norm(out, o));
  if (auto a = activation(act)) s->push_back(a);
  return s;
}

std::shared_ptr<nn::Linear> classifier_linear(int64_t in, int64_t out, const LayerOptions& o) {
  auto fc = std::make_shared<nn::Linear>(in, out, nn::LinearOptions{.dtype = o.dtype, .gen = o.gen});
  nn::normal_(fc->weight, 0, 0.01, o.gen);
  nn::zeros_(fc->bias);
  return fc;
}

}  // namespace lowbit::models
