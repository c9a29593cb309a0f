// where(cond, a, b): y = cond ? a : b, all three broadcast together. cond is bool and
// gets no gradient.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor y = raw::where(cond, a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  // dy/da = cond, dy/db = !cond (each summed back over its broadcast dims)
  return record("where", y, {a, b},
                [need_a, need_b, a_sizes = a.sizes(), b_sizes = b.sizes(),
                 saved_cond = SavedTensor(cond, "where")](const Tensor& gy) -> Grads {
                  const Tensor& c = saved_cond.get();
                  const Tensor zero = scalar_like(gy, 0);
                  return {need_a ? sum_to(raw::where(c, gy, zero), a_sizes) : Tensor(),
                          need_b ? sum_to(raw::where(c, zero, gy), b_sizes) : Tensor()};
                });
}

}  // namespace lowbit
