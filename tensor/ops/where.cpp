// Raw where: broadcasting of cond, a and b, and the call into tensor/kernels/where.h.
#include "tensor/kernels/where.h"

#include "tensor/ops.h"

namespace lowbit::raw {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same("where", a, b);
  check_same("where", cond, a, /*same_dtype=*/false);
  LOWBIT_CHECK(cond.dtype() == DType::b8, "where: cond must be bool, got ", describe(cond),
               " (compare first, e.g. raw::gt(x, zero))");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor out = empty(shape, a.dtype(), a.device());
  const Tensor c = cond.expand(shape), x = a.expand(shape), y = b.expand(shape);
  WhereParams p;
  p.dtype = a.dtype();
  p.layout = make_layout(shape, {&out.strides(), &c.strides(), &x.strides(), &y.strides()});
  lowbit::where(a.device(), p, out.data_ptr(), c.data_ptr(), x.data_ptr(), y.data_ptr());
  return out;
}

}  // namespace lowbit::raw
