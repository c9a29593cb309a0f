#include "nn/merge.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::nn {

Tensor Add::operator()(const Tensor& a, const Tensor& b) {
  CallScope scope;
  Tensor y = forward(a, b);
  const Tensor inputs[2] = {a, b};
  ModuleTrace::report(*this, inputs, y);
  return y;
}

Tensor Add::forward(const Tensor& a, const Tensor& b) {
  LOWBIT_CHECK(a.sizes() == b.sizes(), "Add: the inputs must have one shape, got ", shape_str(a.sizes()), " and ",
               shape_str(b.sizes()));
  return add(a, b);
}

Tensor Concat::operator()(const std::vector<Tensor>& inputs) {
  CallScope scope;
  Tensor y = forward(inputs);
  ModuleTrace::report(*this, inputs, y);
  return y;
}

Tensor Concat::forward(const std::vector<Tensor>& inputs) {
  LOWBIT_CHECK(!inputs.empty(), "Concat: no inputs");
  return cat(inputs, dim);
}

std::string Concat::extra_repr() const { return str_cat("dim=", dim); }

}  // namespace lowbit::nn
