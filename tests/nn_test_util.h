// Small modules and helpers shared by the nn/ test suites (nn_module_test.cpp,
// nn_layers_test.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "tensor/ops.h"

namespace lowbit::test {

using Mods = std::vector<std::shared_ptr<nn::Module>>;

// A module whose registration functions are public, to build trees by hand.
class Probe : public nn::Module {
 public:
  explicit Probe(std::string type = "Probe") : Module(std::move(type)) {}
  using nn::Module::register_buffer;
  using nn::Module::register_module;
  using nn::Module::register_parameter;
};

// x -> x + c and x -> x * c: two maps that do not commute, to see the order of calls.
class AddConst : public nn::Module {
 public:
  explicit AddConst(double c) : Module("AddConst"), c(c) {}
  Tensor forward(const Tensor& x) override { return add(x, c); }
  const double c;
};
class MulConst : public nn::Module {
 public:
  explicit MulConst(double c) : Module("MulConst"), c(c) {}
  Tensor forward(const Tensor& x) override { return mul(x, c); }
  const double c;
};

// conv(x) + x through an Add module: a container whose leaves include a two-input layer.
class Residual : public nn::Module {
 public:
  explicit Residual(int64_t channels) : Module("Residual") {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(channels, channels, 3,
                                                                nn::Conv2dOptions{.padding = {1, 1}, .bias = false}));
    add = register_module("add", std::make_shared<nn::Add>());
  }
  Tensor forward(const Tensor& x) override { return (*add)((*conv)(x), x); }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::Add> add;
};

inline std::vector<std::string> names_of(const nn::NamedTensors& list) {
  std::vector<std::string> out;
  for (const auto& [name, t] : list) out.push_back(name);
  return out;
}

// The largest |element| of t, in f64.
inline double max_abs(const Tensor& t) { return raw::max(raw::abs(t.to(DType::f64))).item(); }

}  // namespace lowbit::test
