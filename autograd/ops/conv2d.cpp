// conv2d: forward and both backward passes are the raw kernels of tensor/kernels/conv2d.h
// (im2col + GEMM on the CPU, the 7-loop reference in audit mode).
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<int64_t, 2> stride,
              std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, int64_t groups) {
  Tensor y = raw::conv2d(input, weight, bias, stride, padding, dilation, groups);
  std::vector<Tensor> inputs = {input, weight};  // then bias when defined
  if (bias.defined()) inputs.push_back(bias);
  if (!any_requires_grad(inputs)) return y;
  const char* name = "conv2d";
  // y[n,o,i,j] = b[o] + sum_{c,fy,fx} w[o,c,fy,fx] x[n, g(o)*Cg + c, i*s + fy*d - p, j*s + fx*d - p]
  //   dx = the transposed convolution of dy with w   (conv2d_backward_input)
  //   dw[o,c,fy,fx] = sum_{n,i,j} dy[n,o,i,j] x[...]  (conv2d_backward_weight)
  //   db[o] = sum_{n,i,j} dy[n,o,i,j]
  return record(name, y, inputs,
                [stride, padding, dilation, groups, has_bias = bias.defined(), x_sizes = input.sizes(),
                 w_sizes = weight.sizes(), saved_x = SavedTensor(input, name),
                 saved_w = SavedTensor(weight, name)](const Tensor& gy) -> Grads {
                  const Tensor& x = saved_x.get();
                  const Tensor& w = saved_w.get();
                  Grads grads = {raw::conv2d_backward_input(gy, w, x_sizes, stride, padding, dilation, groups)};
                  auto [gw, gb] = raw::conv2d_backward_weight(x, gy, w_sizes, has_bias, stride, padding, dilation, groups);
                  grads.push_back(gw);
                  if (has_bias) grads.push_back(gb);
                  return grads;
                });
}

}  // namespace lowbit
