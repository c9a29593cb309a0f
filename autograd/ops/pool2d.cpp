// Pooling over the last two dims of an NCHW input: max, average and adaptive average.
// Forward and backward are the raw kernels of tensor/ops_nn.h; the autograd op saves
// only what the backward kernel needs (the argmax indices for max, shapes otherwise).
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops_nn.h"

namespace lowbit {

using Pair = std::array<int64_t, 2>;  // {height, width}

Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, Pair dilation) {
  auto [y, indices] = raw::max_pool2d(x, kernel, stride, padding, dilation);
  if (!any_requires_grad({x})) return y;
  // y[n,c,o] = x[n,c,argmax_o]: dy[o] goes to x at indices[o]; where overlapping windows
  // share a maximum, their gradients add up.
  return record("max_pool2d", y, {x},
                [x_sizes = x.sizes(), saved_indices = SavedTensor(indices, "max_pool2d")](const Tensor& gy) -> Grads {
                  return {raw::max_pool2d_backward(gy, saved_indices.get(), x_sizes)};
                });
}

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool count_include_pad) {
  Tensor y = raw::avg_pool2d(x, kernel, stride, padding, count_include_pad);
  if (!any_requires_grad({x})) return y;
  // y[o] = (1/count_o) sum over window o of x: each x in window o gets dy[o] / count_o.
  return record("avg_pool2d", y, {x},
                [x_sizes = x.sizes(), kernel, stride, padding, count_include_pad](const Tensor& gy) -> Grads {
                  return {raw::avg_pool2d_backward(gy, x_sizes, kernel, stride, padding, count_include_pad)};
                });
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  Tensor y = raw::adaptive_avg_pool2d(x, output_size);
  if (!any_requires_grad({x})) return y;
  // An average over bin o (rows and columns as in tensor/ops_nn.h): each x in the bin
  // gets dy[o] / bin size; uneven bins overlap, and there the gradients add up.
  return record("adaptive_avg_pool2d", y, {x}, [x_sizes = x.sizes()](const Tensor& gy) -> Grads {
    return {raw::adaptive_avg_pool2d_backward(gy, x_sizes)};
  });
}

}  // namespace lowbit
