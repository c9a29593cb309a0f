// Structural layers: Sequential (children "0", "1", ... called in order, as
// torch.nn.Sequential), Identity, and Flatten (dims start_dim..end_dim into one).
#pragma once

#include <memory>
#include <vector>

#include "nn/module.h"

namespace lowbit::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  // Appends a module under the next index; returns it.
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(children().size()), std::move(module));
  }
  int64_t size() const { return static_cast<int64_t>(children().size()); }
  Tensor forward(const Tensor& x) override;
};

// Calls children[i] on x and returns its output, except where children[i] is a BatchNorm2d
// and children[i + 1] a ReLU or ReLU6: then both go through batch_norm_act (one fused pass
// in inference, nn/batch_norm.h) and i is stepped onto the activation. Sequential and
// models that walk their children in order use it; the caller's loop does ++i as usual.
Tensor call_child(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children, size_t& i,
                  const Tensor& x);

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const int64_t start_dim, end_dim;
};

}  // namespace lowbit::nn
