#include "nn/dropout.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::nn {

Dropout::Dropout(double p_, Generator* gen) : Module("Dropout"), p(p_), gen_(gen) {
  LOWBIT_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

std::string Dropout::extra_repr() const { return str_cat("p=", p); }

}  // namespace lowbit::nn
