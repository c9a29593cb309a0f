// Raw binary ops: checks, broadcasting and the call into tensor/kernels/binary.h.
#include "tensor/kernels/binary.h"

#include "tensor/ops.h"

namespace lowbit::raw {

void check_same(const char* op, const Tensor& a, const Tensor& b, bool same_dtype) {
  LOWBIT_CHECK(a.defined() && b.defined(), op, ": undefined input");
  LOWBIT_CHECK(a.device() == b.device(), op, ": inputs are on different devices (", describe(a), " and ",
               describe(b), "); move one with .to(device)");
  LOWBIT_CHECK(!same_dtype || a.dtype() == b.dtype(), op, ": dtype mismatch (", describe(a), " and ", describe(b),
               "); cast one with .to(dtype)");
}

void check_float(const char* op, const Tensor& x) {
  LOWBIT_CHECK(x.defined(), op, ": undefined input");
  LOWBIT_CHECK(is_floating(x.dtype()), op, ": expected an f32 or f64 tensor, got ", describe(x));
}

// out = a op b, out allocated unless given (in-place: out is a, with a's shape).
// min_val, max_val: the bounds of hardtanh_backward (BinaryParams), unused otherwise.
static Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b, Tensor out = Tensor(), double min_val = 0,
                        double max_val = 0) {
  const char* name = binary_op_name(op);
  check_same(name, a, b);
  if (op == BinaryOp::div) check_float(name, a);
  if (!is_comparison(op))
    LOWBIT_CHECK(a.dtype() != DType::b8, name, ": arithmetic on bool tensors is not supported (", describe(a),
                 "); cast to an integer or float dtype first");
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  if (!out.defined()) {
    out = empty(shape, is_comparison(op) ? DType::b8 : a.dtype(), a.device());
  } else {
    LOWBIT_CHECK(shape == out.sizes(), name, "_: the result shape ", shape_str(shape),
                 " does not match the in-place target ", describe(out));
  }
  const Tensor ab = a.expand(shape), bb = b.expand(shape);
  BinaryParams p;
  p.op = op;
  p.dtype = a.dtype();
  p.min_val = min_val;
  p.max_val = max_val;
  p.layout = make_layout(shape, {&out.strides(), &ab.strides(), &bb.strides()});
  binary(a.device(), p, out.data_ptr(), ab.data_ptr(), bb.data_ptr());
  return out;
}

static Tensor scalar_like(const Tensor& a, double v) { return scalar_tensor(v, a.dtype(), a.device()); }

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::div, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::minimum, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::maximum, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::ge, a, b); }
Tensor relu_backward(const Tensor& grad, const Tensor& y) { return binary_op(BinaryOp::relu_backward, grad, y); }
Tensor hardtanh_backward(const Tensor& grad, const Tensor& x, double min_val, double max_val) {
  return binary_op(BinaryOp::hardtanh_backward, grad, x, Tensor(), min_val, max_val);
}
Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }

// In place: aliasing is safe because every element is read before it is written and
// each output element depends only on the inputs at the same position.
static void binary_inplace(BinaryOp op, Tensor& a, const Tensor& b) {
  check_same(binary_op_name(op), a, b);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), binary_op_name(op));
  if (shape == a.sizes()) check_inplace(binary_op_name(op), a, b.expand(shape));  // else binary_op explains
  binary_op(op, a, b, a);
  a.bump_version();
}
void add_(Tensor& a, const Tensor& b) { binary_inplace(BinaryOp::add, a, b); }
void sub_(Tensor& a, const Tensor& b) { binary_inplace(BinaryOp::sub, a, b); }
void mul_(Tensor& a, const Tensor& b) { binary_inplace(BinaryOp::mul, a, b); }
void div_(Tensor& a, const Tensor& b) { binary_inplace(BinaryOp::div, a, b); }

}  // namespace lowbit::raw
