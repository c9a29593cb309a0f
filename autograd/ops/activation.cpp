// Clipping activations: hardtanh(x, min_val, max_val) = clamp(x, min_val, max_val) and
// relu6 = hardtanh(x, 0, 6). Unlike clamp, the derivative follows PyTorch's hardtanh:
// the gradient passes strictly inside the bounds and is 0 at them (relu6'(0) = relu6'(6) = 0).
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

Tensor clip(const char* name, const Tensor& x, double lo, double hi) {
  LOWBIT_CHECK(lo <= hi, name, ": min_val ", lo, " is greater than max_val ", hi, " (input ", describe(x), ")");
  Tensor y = raw::clamp(x, lo, hi);
  if (!any_requires_grad({x})) return y;
  // d/dx clamp(x, lo, hi) = 1 for lo < x < hi, else 0 (bounds excluded; a NaN x gets 0),
  // in one pass: hardtanh_backward is where(lo < x && x < hi, gy, 0).
  return record(name, y, {x}, [lo, hi, saved_x = SavedTensor(x, name)](const Tensor& gy) -> Grads {
    return {raw::hardtanh_backward(gy, saved_x.get(), lo, hi)};
  });
}

}  // namespace

Tensor hardtanh(const Tensor& x, double min_val, double max_val) { return clip("hardtanh", x, min_val, max_val); }
Tensor relu6(const Tensor& x) { return clip("relu6", x, 0, 6); }

}  // namespace lowbit
