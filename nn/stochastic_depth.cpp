#include "nn/stochastic_depth.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::nn {

StochasticDepth::StochasticDepth(double p_, Generator* gen) : Module("StochasticDepth"), p(p_), gen_(gen) {
  LOWBIT_CHECK(p >= 0 && p < 1, "StochasticDepth: p must be in [0, 1), got ", p);
}

Tensor StochasticDepth::forward(const Tensor& x) {
  if (!is_training() || p == 0) return x;
  LOWBIT_CHECK(x.dim() >= 1, "StochasticDepth: input must have a batch dimension, got shape ", shape_str(x.sizes()));
  Shape mask_shape(static_cast<size_t>(x.dim()), 1);
  mask_shape[0] = x.size(0);
  const double keep = 1 - p;
  // The mask is a constant of the graph: the gradient is mask / keep, zero for dropped samples.
  const Tensor mask = bernoulli(mask_shape, keep, x.dtype(), x.device(), gen_);
  return x * (mask * (1 / keep));
}

std::string StochasticDepth::extra_repr() const { return str_cat("p=", p, ", mode=row"); }

}  // namespace lowbit::nn
