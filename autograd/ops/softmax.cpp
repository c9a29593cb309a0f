// softmax and log_softmax over one dim, numerically stable: with m = max over the dim,
//   z = x - m,   s = sum exp(z),   softmax = exp(z) / s,   log_softmax = z - log s,
// so exp never sees a positive argument (no overflow) and s >= 1 (no log of 0).
#include <utility>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

// x - max(x) over dim (the max is a constant shift: softmax does not depend on it), and
// the dim wrapped into [0, dim()). A 0-d x is a single entry along dim 0 or -1.
std::pair<Tensor, int64_t> shifted(const char* name, const Tensor& x, int64_t dim) {
  raw::check_float(name, x);
  const int64_t d = wrap_dim(dim, x.dim(), name);
  return {raw::sub(x, raw::max(x, {d}, /*keepdim=*/true)), d};
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  const auto [z, d] = shifted("softmax", x, dim);
  const Tensor e = raw::exp(z);
  Tensor y = raw::div(e, raw::sum(e, {d}, /*keepdim=*/true));
  if (!any_requires_grad({x})) return y;
  // dy_i/dx_j = y_i (delta_ij - y_j)  =>  dx = y * (dy - sum_i dy_i y_i)
  return record("softmax", y, {x}, [d, saved_y = SavedTensor(y, "softmax")](const Tensor& gy) -> Grads {
    const Tensor& y = saved_y.get();
    return {raw::mul(y, raw::sub(gy, raw::sum(raw::mul(gy, y), {d}, /*keepdim=*/true)))};
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  const auto [z, d] = shifted("log_softmax", x, dim);
  Tensor y = raw::sub(z, raw::log(raw::sum(raw::exp(z), {d}, /*keepdim=*/true)));
  if (!any_requires_grad({x})) return y;
  // dy_i/dx_j = delta_ij - softmax_j  =>  dx = dy - exp(y) * sum_i dy_i
  return record("log_softmax", y, {x}, [d, saved_y = SavedTensor(y, "log_softmax")](const Tensor& gy) -> Grads {
    return {raw::sub(gy, raw::mul(raw::exp(saved_y.get()), raw::sum(gy, {d}, /*keepdim=*/true)))};
  });
}

}  // namespace lowbit
