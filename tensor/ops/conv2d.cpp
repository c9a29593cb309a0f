// Raw conv2d: argument checks, contiguous operands and the calls into tensor/kernels/conv2d.h.
//
// The three entry points share one validation (conv2d_params), so the forward and the
// backward passes accept exactly the same convolutions and word their errors alike:
//   conv2d: input has 3 channels but weight expects 64 (input [8,3,32,32] f32 cpu, weight [64,64,3,3], groups=1)
#include <string>

#include "tensor/kernels/conv2d.h"
#include "tensor/ops.h"

namespace lowbit::raw {

namespace {

std::string pair_str(std::array<int64_t, 2> v) { return str_cat("[", v[0], ",", v[1], "]"); }

// Checks a convolution of an input of shape `in` with a weight of shape `w` and returns
// its parameters. `input_desc` describes the input (or its shape) for the messages.
Conv2dParams conv2d_params(const char* op, const Shape& in, const Shape& w, const std::string& input_desc,
                           DType dtype, std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                           std::array<int64_t, 2> dilation, int64_t groups) {
  LOWBIT_CHECK(in.size() == 4, op, ": input must be 4-D [N, C_in, H, W], got ", input_desc);
  LOWBIT_CHECK(w.size() == 4, op, ": weight must be 4-D [C_out, C_in/groups, kH, kW], got ", shape_str(w),
               " (input ", input_desc, ")");
  const std::string both = str_cat("input ", input_desc, ", weight ", shape_str(w), ", groups=", groups);
  LOWBIT_CHECK(stride[0] >= 1 && stride[1] >= 1, op, ": stride must be positive, got ", pair_str(stride));
  LOWBIT_CHECK(dilation[0] >= 1 && dilation[1] >= 1, op, ": dilation must be positive, got ", pair_str(dilation));
  LOWBIT_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ", pair_str(padding));
  LOWBIT_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  LOWBIT_CHECK(in[1] % groups == 0, op, ": groups=", groups, " does not divide the ", in[1], " input channels (",
               both, ")");
  LOWBIT_CHECK(w[0] % groups == 0, op, ": groups=", groups, " does not divide the ", w[0],
               " output channels of the weight (", both, ")");
  LOWBIT_CHECK(in[1] == w[1] * groups, op, ": input has ", in[1], " channels but weight expects ", w[1] * groups, " (",
               both, ")");
  LOWBIT_CHECK(w[0] >= 1 && w[2] >= 1 && w[3] >= 1, op, ": weight has no output channels or an empty kernel (",
               both, ")");
  Conv2dParams p;
  p.dtype = dtype;
  p.batch = in[0];
  p.in_channels = in[1];
  p.in_h = in[2];
  p.in_w = in[3];
  p.out_channels = w[0];
  p.kernel_h = w[2];
  p.kernel_w = w[3];
  p.stride_h = stride[0];
  p.stride_w = stride[1];
  p.pad_h = padding[0];
  p.pad_w = padding[1];
  p.dilation_h = dilation[0];
  p.dilation_w = dilation[1];
  p.groups = groups;
  const int64_t span_h = dilation[0] * (w[2] - 1) + 1, span_w = dilation[1] * (w[3] - 1) + 1;
  LOWBIT_CHECK(span_h <= in[2] + 2 * padding[0] && span_w <= in[3] + 2 * padding[1], op, ": the kernel spans ",
               span_h, "x", span_w, " (", w[2], "x", w[3], " at dilation ", pair_str(dilation),
               ") but the padded input is only ", in[2] + 2 * padding[0], "x", in[3] + 2 * padding[1], " (", both,
               ", padding ", pair_str(padding), ")");
  return p;
}

Shape output_shape(const Conv2dParams& p) { return {p.batch, p.out_channels, p.out_h(), p.out_w()}; }

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<int64_t, 2> stride,
              std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, int64_t groups) {
  check_same("conv2d", input, weight);
  check_float("conv2d", input);
  const Conv2dParams p = conv2d_params("conv2d", input.sizes(), weight.sizes(), describe(input), input.dtype(), stride,
                                       padding, dilation, groups);
  if (bias.defined()) {
    check_same("conv2d", input, bias);
    LOWBIT_CHECK(bias.sizes() == Shape{p.out_channels}, "conv2d: bias must be [", p.out_channels,
                 "] (one value per output channel of weight ", shape_str(weight.sizes()), "), got ", describe(bias));
  }
  Tensor out = empty(output_shape(p), input.dtype(), input.device());
  if (out.numel() == 0) return out;
  const Tensor x = input.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : Tensor();
  conv2d_forward(input.device(), p, x.data_ptr(), w.data_ptr(), b.defined() ? b.data_ptr() : nullptr,
                 out.data_ptr());
  return out;
}

Tensor conv2d_backward_input(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                             std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                             std::array<int64_t, 2> dilation, int64_t groups) {
  const char* op = "conv2d_backward_input";
  check_same(op, grad_output, weight);
  check_float(op, grad_output);
  const Conv2dParams p = conv2d_params(op, input_shape, weight.sizes(), shape_str(input_shape), weight.dtype(),
                                       stride, padding, dilation, groups);
  LOWBIT_CHECK(grad_output.sizes() == output_shape(p), op, ": grad_output ", describe(grad_output),
               " does not match the output shape ", shape_str(output_shape(p)), " of the convolution (input ",
               shape_str(input_shape), ", weight ", shape_str(weight.sizes()), ")");
  Tensor grad_input = empty(input_shape, weight.dtype(), weight.device());
  if (grad_input.numel() == 0) return grad_input;
  const Tensor dy = grad_output.contiguous(), w = weight.contiguous();
  conv2d_backward_input(weight.device(), p, dy.data_ptr(), w.data_ptr(), grad_input.data_ptr());
  return grad_input;
}

std::pair<Tensor, Tensor> conv2d_backward_weight(const Tensor& input, const Tensor& grad_output,
                                                 const Shape& weight_shape, bool with_bias,
                                                 std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                                                 std::array<int64_t, 2> dilation, int64_t groups) {
  const char* op = "conv2d_backward_weight";
  check_same(op, input, grad_output);
  check_float(op, input);
  const Conv2dParams p = conv2d_params(op, input.sizes(), weight_shape, describe(input), input.dtype(), stride,
                                       padding, dilation, groups);
  LOWBIT_CHECK(grad_output.sizes() == output_shape(p), op, ": grad_output ", describe(grad_output),
               " does not match the output shape ", shape_str(output_shape(p)), " of the convolution (input ",
               describe(input), ", weight ", shape_str(weight_shape), ")");
  Tensor grad_weight = empty(weight_shape, input.dtype(), input.device());
  Tensor grad_bias = with_bias ? empty({p.out_channels}, input.dtype(), input.device()) : Tensor();
  const Tensor x = input.contiguous(), dy = grad_output.contiguous();
  conv2d_backward_weight(input.device(), p, x.data_ptr(), dy.data_ptr(), grad_weight.data_ptr(),
                         with_bias ? grad_bias.data_ptr() : nullptr);
  return {grad_weight, grad_bias};
}

}  // namespace lowbit::raw
