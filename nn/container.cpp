#include "nn/container.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

// Children are called through their call operators, so a trace (nn/summary.h) sees them.
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, child] : children()) y = (*child)(y);
  return y;
}

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }

std::string Flatten::extra_repr() const { return str_cat("start_dim=", start_dim, ", end_dim=", end_dim); }

}  // namespace lowbit::nn
