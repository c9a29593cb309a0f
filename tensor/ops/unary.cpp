// Raw unary ops: dtype checks and the call into tensor/kernels/unary.h.
#include "tensor/kernels/unary.h"

#include <cmath>

#include "tensor/ops.h"

namespace lowbit::raw {

static Tensor unary_op(UnaryOp op, const Tensor& x, double alpha = 0, double beta = 0) {
  const char* name = unary_op_name(op);
  LOWBIT_CHECK(x.defined(), name, ": undefined input");
  if (unary_needs_float(op)) check_float(name, x);
  LOWBIT_CHECK(x.dtype() != DType::b8, name, ": not defined for bool tensors (", describe(x), ")");
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  UnaryParams p;
  p.op = op;
  p.dtype = x.dtype();
  p.alpha = alpha;
  p.beta = beta;
  p.layout = make_layout(x.sizes(), {&out.strides(), &x.strides()});
  unary(x.device(), p, out.data_ptr(), x.data_ptr());
  return out;
}

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x); }
Tensor sign(const Tensor& x) { return unary_op(UnaryOp::sign, x); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary_op(UnaryOp::rsqrt, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x); }
Tensor floor(const Tensor& x) { return unary_op(UnaryOp::floor, x); }
Tensor ceil(const Tensor& x) { return unary_op(UnaryOp::ceil, x); }
Tensor round(const Tensor& x) { return unary_op(UnaryOp::round, x); }
Tensor pow(const Tensor& x, double exponent) { return unary_op(UnaryOp::pow, x, exponent); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  LOWBIT_CHECK(!(lo > hi), "clamp: lower bound ", lo, " is above upper bound ", hi, " (", describe(x), ")");
  if (is_integral(x.dtype())) {
    // Integer bounds are rounded inward, so clamp(x, -0.5, 2.5) keeps x in [0, 2].
    const double lo_in = lo, hi_in = hi;
    lo = std::ceil(lo);
    hi = std::floor(hi);
    LOWBIT_CHECK(lo <= hi, "clamp: no integer lies in [", lo_in, ", ", hi_in, "] for ", describe(x));
  }
  return unary_op(UnaryOp::clamp, x, lo, hi);
}

}  // namespace lowbit::raw
