// Views and copies. A view's gradient is the incoming gradient put back in the input's
// layout: reshaped, permuted back, or written into a zero tensor at the viewed place.
#include <functional>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

// Records y, a view (or copy) of x with the same elements in another shape: dx = dy
// reshaped to x's shape. Serves reshape, view, flatten, squeeze, unsqueeze, clone.
Tensor record_reshape(const char* name, const Tensor& x, const Tensor& y) {
  if (!any_requires_grad({x})) return y;
  return record(name, y, {x}, [x_sizes = x.sizes()](const Tensor& gy) -> Grads { return {gy.reshape(x_sizes)}; });
}

// Records y = part of x (narrow, slice, select): dx is zero except at the part, where it
// is dy. `part` picks the same part out of a tensor shaped like x.
Tensor record_part(const char* name, const Tensor& x, const Tensor& y, std::function<Tensor(const Tensor&)> part) {
  if (!any_requires_grad({x})) return y;
  return record(name, y, {x}, [x_sizes = x.sizes(), part = std::move(part)](const Tensor& gy) -> Grads {
    Tensor gx = zeros(x_sizes, gy.dtype(), gy.device());
    part(gx).copy_(gy);
    return {gx};
  });
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& sizes) { return record_reshape("reshape", x, x.reshape(sizes)); }
Tensor view(const Tensor& x, const Shape& sizes) { return record_reshape("view", x, x.view(sizes)); }
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  return record_reshape("flatten", x, x.flatten(start_dim, end_dim));
}
Tensor squeeze(const Tensor& x) { return record_reshape("squeeze", x, x.squeeze()); }
Tensor squeeze(const Tensor& x, int64_t dim) { return record_reshape("squeeze", x, x.squeeze(dim)); }
Tensor unsqueeze(const Tensor& x, int64_t dim) { return record_reshape("unsqueeze", x, x.unsqueeze(dim)); }
Tensor clone(const Tensor& x) { return record_reshape("clone", x, x.clone()); }
Tensor contiguous(const Tensor& x) { return record_reshape("contiguous", x, x.contiguous()); }

Tensor permute(const Tensor& x, const Shape& dims) {
  Tensor y = x.permute(dims);
  if (!any_requires_grad({x})) return y;
  // y dim i is x dim dims[i]; the inverse permutation sends it back.
  Shape inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[wrap_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  return record("permute", y, {x}, [inverse](const Tensor& gy) -> Grads { return {gy.permute(inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  Tensor y = x.transpose(dim0, dim1);
  if (!any_requires_grad({x})) return y;
  // A transpose is its own inverse.
  return record("transpose", y, {x}, [dim0, dim1](const Tensor& gy) -> Grads { return {gy.transpose(dim0, dim1)}; });
}

Tensor expand(const Tensor& x, const Shape& sizes) {
  Tensor y = x.expand(sizes);
  if (!any_requires_grad({x})) return y;
  // Every element of x is read by each of its copies: sum the copies' gradients.
  return record("expand", y, {x}, [x_sizes = x.sizes()](const Tensor& gy) -> Grads { return {sum_to(gy, x_sizes)}; });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  return record_part("narrow", x, x.narrow(dim, start, length),
                     [=](const Tensor& t) { return t.narrow(dim, start, length); });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return record_part("slice", x, x.slice(dim, start, end, step),
                     [=](const Tensor& t) { return t.slice(dim, start, end, step); });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  return record_part("select", x, x.select(dim, index), [=](const Tensor& t) { return t.select(dim, index); });
}

}  // namespace lowbit
