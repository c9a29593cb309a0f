#include "nn/container.h"

#include <typeinfo>

#include "autograd/ops.h"
#include "nn/batch_norm.h"
#include "tensor/error.h"

namespace lowbit::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

// Children are called through their call operators, so a trace (nn/summary.h) sees them.
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < children().size(); ++i) y = call_child(children(), i, y);
  return y;
}

Tensor call_child(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children, size_t& i,
                  const Tensor& x) {
  Module& child = *children[i].second;
  if (i + 1 < children.size()) {
    if (typeid(child) == typeid(BatchNorm2d))  // exactly: a subclass may have its own forward
      return batch_norm_act(child, *children[++i].second, x);
  }
  return child(x);
}

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }

std::string Flatten::extra_repr() const { return str_cat("start_dim=", start_dim, ", end_dim=", end_dim); }

}  // namespace lowbit::nn
