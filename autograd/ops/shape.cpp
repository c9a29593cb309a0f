// Concatenation and padding: the result is allocated once and each input is copied into
// its narrow() view of it; backward hands each input the same view of the gradient.
#include <string>
#include <vector>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

// The tensors are defined, share dtype and device, and agree in every dim (stack) or in
// every dim but `dim` (cat). Returns dim wrapped: into [0, dim()] for stack's new dim.
// Messages name the first tensor that differs from tensor 0.
int64_t check_list(const char* name, const std::vector<Tensor>& tensors, int64_t dim, bool stacking) {
  LOWBIT_CHECK(!tensors.empty(), name, ": expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i)
    LOWBIT_CHECK(tensors[i].defined(), name, ": tensor ", i, " is undefined");
  const Tensor& first = tensors[0];
  LOWBIT_CHECK(stacking || first.dim() > 0, name, ": tensor 0 is 0-d (", describe(first),
               ") and has no dim to concatenate along; use stack");
  const int64_t d = wrap_dim(dim, first.dim() + (stacking ? 1 : 0), name);
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    LOWBIT_CHECK(t.dtype() == first.dtype(), name, ": tensor ", i, " is ", dtype_name(t.dtype()), " but tensor 0 is ",
                 dtype_name(first.dtype()), " (", describe(t), " and ", describe(first), "); cast with .to(dtype)");
    LOWBIT_CHECK(t.device() == first.device(), name, ": tensor ", i, " and tensor 0 are on different devices (",
                 describe(t), " and ", describe(first), "); move one with .to(device)");
    bool match = t.dim() == first.dim();
    for (int64_t k = 0; match && k < t.dim(); ++k) match = t.size(k) == first.size(k) || (!stacking && k == d);
    LOWBIT_CHECK(match, name, ": tensor ", i, " ", shape_str(t.sizes()), " does not match tensor 0 ",
                 shape_str(first.sizes()),
                 stacking ? std::string("; stack needs tensors of one shape")
                          : str_cat("; cat needs equal sizes in every dim except dim ", d));
  }
  return d;
}

// The parts side by side along `dim` (stack passes its tensors unsqueezed at the new dim).
// `inputs` are the caller's tensors: the node's inputs, in their own shapes.
Tensor concat(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& parts, int64_t dim) {
  Shape sizes = parts[0].sizes();
  sizes[dim] = 0;
  for (const Tensor& t : parts) sizes[dim] += t.size(dim);
  Tensor y = empty(sizes, parts[0].dtype(), parts[0].device());
  std::vector<int64_t> starts, lengths;  // each part's slice of y along dim
  for (const Tensor& t : parts) {
    starts.push_back(lengths.empty() ? 0 : starts.back() + lengths.back());
    lengths.push_back(t.size(dim));
    y.narrow(dim, starts.back(), lengths.back()).copy_(t);
  }
  if (!any_requires_grad(inputs)) return y;
  std::vector<bool> needed;
  std::vector<Shape> input_sizes;
  for (const Tensor& t : inputs) {
    needed.push_back(requires_grad(t));
    input_sizes.push_back(t.sizes());
  }
  // d y / d part_i is the identity on part i's slice: dpart_i = dy narrowed to that slice.
  return record(name, y, inputs, [dim, starts, lengths, needed, input_sizes](const Tensor& gy) -> Grads {
    Grads grads(needed.size());
    for (size_t i = 0; i < needed.size(); ++i)
      if (needed[i]) grads[i] = gy.narrow(dim, starts[i], lengths[i]).reshape(input_sizes[i]);
    return grads;
  });
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  const int64_t d = check_list("cat", tensors, dim, /*stacking=*/false);
  return concat("cat", tensors, tensors, d);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  const int64_t d = check_list("stack", tensors, dim, /*stacking=*/true);
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return concat("stack", tensors, parts, d);
}

Tensor pad(const Tensor& x, std::array<int64_t, 4> padding) {
  const auto [left, right, top, bottom] = padding;
  LOWBIT_CHECK(x.defined(), "pad: undefined input");
  LOWBIT_CHECK(left >= 0 && right >= 0 && top >= 0 && bottom >= 0,
               "pad: padding amounts must be non-negative, got {left ", left, ", right ", right, ", top ", top,
               ", bottom ", bottom, "} for input ", describe(x));
  LOWBIT_CHECK(x.dim() >= 2, "pad: expected an input with at least 2 dims (pads the last two, H and W), got ",
               describe(x));
  const int64_t h = x.size(-2), w = x.size(-1);
  Shape sizes = x.sizes();
  sizes[sizes.size() - 2] += top + bottom;
  sizes[sizes.size() - 1] += left + right;
  Tensor y = zeros(sizes, x.dtype(), x.device());
  y.narrow(-2, top, h).narrow(-1, left, w).copy_(x);
  if (!any_requires_grad({x})) return y;
  // y is x surrounded by constants: dx = dy without the border.
  return record("pad", y, {x}, [top = top, left = left, h, w](const Tensor& gy) -> Grads {
    return {gy.narrow(-2, top, h).narrow(-1, left, w)};
  });
}

}  // namespace lowbit
