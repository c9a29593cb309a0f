// Unary elementwise ops: y = f(x), backward gx = gy * f'(x). Each op saves either its
// input or its result, whichever states the derivative more simply (tanh' = 1 - y^2).
#include <functional>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

enum class Keep { input, output };
using UnaryBackward = std::function<Tensor(const Tensor& kept, const Tensor& gy)>;

// Records y = name(x) with backward gx = dx(kept, gy), kept being x or y.
Tensor record_unary(const char* name, const Tensor& x, const Tensor& y, Keep keep, UnaryBackward dx) {
  if (!any_requires_grad({x})) return y;
  const SavedTensor kept(keep == Keep::input ? x : y, name);
  return record(name, y, {x}, [kept, dx = std::move(dx)](const Tensor& gy) -> Grads { return {dx(kept.get(), gy)}; });
}

// Records a piecewise-constant op: its derivative is 0 wherever it exists.
Tensor record_constant(const char* name, const Tensor& x, const Tensor& y) {
  if (!any_requires_grad({x})) return y;
  return record(name, y, {x}, [](const Tensor& gy) -> Grads { return {zeros(gy.sizes(), gy.dtype(), gy.device())}; });
}

}  // namespace

Tensor neg(const Tensor& x) {
  Tensor y = raw::neg(x);
  if (!any_requires_grad({x})) return y;
  // d/dx (-x) = -1
  return record("neg", y, {x}, [](const Tensor& gy) -> Grads { return {raw::neg(gy)}; });
}

Tensor abs(const Tensor& x) {
  // d/dx |x| = sign(x); at x = 0 the subgradient 0 (sign(0) = 0).
  return record_unary("abs", x, raw::abs(x), Keep::input,
                      [](const Tensor& x, const Tensor& gy) { return raw::mul(gy, raw::sign(x)); });
}

Tensor relu(const Tensor& x) {
  // d/dx max(x, 0) = 1 for x > 0, else 0 (subgradient 0 at x = 0). y > 0 exactly when x > 0.
  // relu_backward is where(y > 0, gy, 0) in one pass (a NaN y gets gradient 0).
  return record_unary("relu", x, raw::relu(x), Keep::output,
                      [](const Tensor& y, const Tensor& gy) { return raw::relu_backward(gy, y); });
}

Tensor exp(const Tensor& x) {
  // d/dx exp(x) = exp(x) = y
  return record_unary("exp", x, raw::exp(x), Keep::output,
                      [](const Tensor& y, const Tensor& gy) { return raw::mul(gy, y); });
}

Tensor log(const Tensor& x) {
  // d/dx log(x) = 1/x
  return record_unary("log", x, raw::log(x), Keep::input,
                      [](const Tensor& x, const Tensor& gy) { return raw::div(gy, x); });
}

Tensor sqrt(const Tensor& x) {
  // d/dx sqrt(x) = 1 / (2 sqrt(x)) = 1 / (2y)
  return record_unary("sqrt", x, raw::sqrt(x), Keep::output,
                      [](const Tensor& y, const Tensor& gy) { return raw::div(gy, raw::mul(y, 2.0)); });
}

Tensor rsqrt(const Tensor& x) {
  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -y^3 / 2
  return record_unary("rsqrt", x, raw::rsqrt(x), Keep::output, [](const Tensor& y, const Tensor& gy) {
    return raw::mul(gy, raw::mul(raw::mul(y, raw::mul(y, y)), -0.5));
  });
}

Tensor tanh(const Tensor& x) {
  // d/dx tanh(x) = 1 - y^2
  return record_unary("tanh", x, raw::tanh(x), Keep::output, [](const Tensor& y, const Tensor& gy) {
    return raw::mul(gy, raw::sub(scalar_like(y, 1), raw::mul(y, y)));
  });
}

Tensor sigmoid(const Tensor& x) {
  // d/dx sigmoid(x) = y (1 - y)
  return record_unary("sigmoid", x, raw::sigmoid(x), Keep::output, [](const Tensor& y, const Tensor& gy) {
    return raw::mul(gy, raw::mul(y, raw::sub(scalar_like(y, 1), y)));
  });
}

Tensor pow(const Tensor& x, double p) {
  // d/dx x^p = p x^(p-1); for p = 0 the result is constant and the gradient 0 (also at x = 0).
  return record_unary("pow", x, raw::pow(x, p), Keep::input, [p](const Tensor& x, const Tensor& gy) {
    if (p == 0) return zeros(gy.sizes(), gy.dtype(), gy.device());
    return raw::mul(gy, raw::mul(raw::pow(x, p - 1), p));
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  // d/dx clamp(x, lo, hi) = 1 for lo <= x <= hi (bounds included, as PyTorch), else 0.
  return record_unary("clamp", x, raw::clamp(x, lo, hi), Keep::input, [lo, hi](const Tensor& x, const Tensor& gy) {
    const Tensor zero = scalar_like(gy, 0);
    return raw::where(raw::ge(x, scalar_like(x, lo)), raw::where(raw::le(x, scalar_like(x, hi)), gy, zero), zero);
  });
}

// Piecewise constant: d/dx = 0 (undefined at the jumps; 0 is used there too).
Tensor sign(const Tensor& x) { return record_constant("sign", x, raw::sign(x)); }
Tensor floor(const Tensor& x) { return record_constant("floor", x, raw::floor(x)); }
Tensor ceil(const Tensor& x) { return record_constant("ceil", x, raw::ceil(x)); }
Tensor round(const Tensor& x) { return record_constant("round", x, raw::round(x)); }

}  // namespace lowbit
