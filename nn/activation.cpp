#include "nn/activation.h"

#include "autograd/ops.h"

namespace lowbit::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }

}  // namespace lowbit::nn
