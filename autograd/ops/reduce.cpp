// Reductions over a list of dims (empty = all dims), with or without keepdim. Every
// backward first brings the gradient back to the keepdim shape (the reduced dims as
// size 1), from where it broadcasts against x.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

// x's shape with the reduced dims set to 1 (the keepdim result shape), and the number
// of elements each output reduces. A 0-d x reduces its single element.
struct Reduced {
  Shape keep_sizes;
  int64_t count = 1;
};

Reduced reduced_shape(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  Reduced r;
  r.keep_sizes = x.sizes();
  std::vector<bool> reduced(x.sizes().size(), dims.empty());
  for (int64_t d : dims)
    if (x.dim() > 0) reduced[wrap_dim(d, x.dim(), op)] = true;
  for (size_t d = 0; d < reduced.size(); ++d)
    if (reduced[d]) {
      r.count *= r.keep_sizes[d];
      r.keep_sizes[d] = 1;
    }
  return r;
}

// max and min: the gradient goes to the elements equal to the result, split evenly
// among ties (as PyTorch's amax/amin): dx = (x == y) * gy / count(x == y).
Tensor extremum(const char* name, const Tensor& x, const Tensor& y, const std::vector<int64_t>& dims) {
  if (!any_requires_grad({x})) return y;
  const Reduced r = reduced_shape(x, dims, name);
  return record(name, y, {x},
                [dims, keep = r.keep_sizes, saved_x = SavedTensor(x, name), saved_y = SavedTensor(y, name)](
                    const Tensor& gy) -> Grads {
                  const Tensor& x = saved_x.get();
                  const Tensor selected = raw::eq(x, saved_y.get().reshape(keep)).to(x.dtype());
                  const Tensor count = raw::sum(selected, dims, /*keepdim=*/true);
                  return {raw::mul(selected, raw::div(gy.reshape(keep), count))};
                });
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = raw::sum(x, dims, keepdim);
  if (!any_requires_grad({x})) return y;
  // d/dx_i sum_j x_j = 1: the gradient broadcasts back over the reduced dims.
  return record("sum", y, {x}, [keep = reduced_shape(x, dims, "sum").keep_sizes, x_sizes = x.sizes()](
                                   const Tensor& gy) -> Grads { return {gy.reshape(keep).expand(x_sizes)}; });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = raw::mean(x, dims, keepdim);
  if (!any_requires_grad({x})) return y;
  // d/dx_i (1/n) sum_j x_j = 1/n
  const Reduced r = reduced_shape(x, dims, "mean");
  return record("mean", y, {x}, [r, x_sizes = x.sizes()](const Tensor& gy) -> Grads {
    return {raw::div(gy.reshape(r.keep_sizes), static_cast<double>(r.count)).expand(x_sizes)};
  });
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  Tensor y = raw::var(x, dims, correction, keepdim);
  if (!any_requires_grad({x})) return y;
  // var = sum_j (x_j - m)^2 / (n - c). d/dx_i = 2 (x_i - m) / (n - c): the terms through
  // the mean m cancel because sum_j (x_j - m) = 0.
  const Reduced r = reduced_shape(x, dims, "var");
  return record("var", y, {x}, [r, dims, correction, saved_x = SavedTensor(x, "var")](const Tensor& gy) -> Grads {
    const Tensor& x = saved_x.get();
    const Tensor centered = raw::sub(x, raw::mean(x, dims, /*keepdim=*/true));
    const double scale = 2.0 / static_cast<double>(r.count - correction);
    return {raw::mul(centered, raw::mul(gy.reshape(r.keep_sizes), scale))};
  });
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extremum("max", x, raw::max(x, dims, keepdim), dims);
}

Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extremum("min", x, raw::min(x, dims, keepdim), dims);
}

// Two recorded reductions when a gradient is needed; one fused raw pass otherwise.
std::pair<Tensor, Tensor> aminmax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (!any_requires_grad({x})) return raw::aminmax(x, dims, keepdim);
  return {min(x, dims, keepdim), max(x, dims, keepdim)};
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return raw::argmax(x, dim, keepdim); }
Tensor argmax(const Tensor& x) { return raw::argmax(x); }

}  // namespace lowbit
