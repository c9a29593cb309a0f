// Raw pooling ops: argument checks (PyTorch's rules, our error messages), the
// Pool2dParams, and the call into tensor/kernels/pool2d.h.
#include <string>

#include "tensor/kernels/pool2d.h"
#include "tensor/ops.h"
#include "tensor/ops_nn.h"

namespace lowbit::raw {
namespace {

using Pair = std::array<int64_t, 2>;  // {height, width}

std::string pair_str(Pair a) { return str_cat("(", a[0], ", ", a[1], ")"); }

// x is a defined 4-D f32/f64 tensor.
void check_input(const char* op, const Tensor& x) {
  check_float(op, x);
  LOWBIT_CHECK(x.dim() == 4, op, ": expected a 4-D NCHW input, got ", describe(x));
}

void check_input_sizes(const char* op, const Shape& input_sizes) {
  bool ok = input_sizes.size() == 4;
  for (int64_t s : input_sizes) ok = ok && s >= 0;
  LOWBIT_CHECK(ok, op, ": expected 4-D NCHW input sizes, got ", shape_str(input_sizes));
}

// Checks kernel, stride, padding and dilation against an NCHW input of sizes `in` (what
// names it in messages: `input`), and fills the window part of the params.
// Max pooling passes its dilation; avg pooling passes {1, 1}.
Pool2dParams window_params(const char* op, const Shape& in, const std::string& input, Pair kernel, Pair stride,
                           Pair padding, Pair dilation) {
  LOWBIT_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel size must be positive, got ", pair_str(kernel), " (",
               input, ")");
  LOWBIT_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", pair_str(stride), " (", input,
               ")");
  LOWBIT_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ", pair_str(dilation), " (",
               input, ")");
  LOWBIT_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ", pair_str(padding),
               " (", input, ")");
  LOWBIT_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op, ": padding ", pair_str(padding),
               " must be at most half the kernel size ", pair_str(kernel), " (", input, ")");
  Pool2dParams p;
  p.batch = in[0];
  p.channels = in[1];
  p.in_h = in[2];
  p.in_w = in[3];
  p.kernel_h = kernel[0], p.kernel_w = kernel[1];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_h = padding[0], p.pad_w = padding[1];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.out_h = pool2d_out_size(p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  p.out_w = pool2d_out_size(p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  const bool dilated = dilation[0] != 1 || dilation[1] != 1;
  LOWBIT_CHECK(p.out_h > 0 && p.out_w > 0, op, ": the kernel ", pair_str(kernel),
               dilated ? str_cat(" with dilation ", pair_str(dilation)) : std::string(),
               " is larger than the padded input ", pair_str({p.in_h + 2 * p.pad_h, p.in_w + 2 * p.pad_w}), " (",
               input, ", padding ", pair_str(padding), ")");
  // Only a dilated window can skip over the whole input and see nothing but padding.
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t out = dim == 0 ? p.out_h : p.out_w, size = in[2 + dim];
    for (int64_t o = 0; o < out; ++o) {
      bool sees_input = false;
      for (int64_t k = 0; k < kernel[dim]; ++k) {
        const int64_t pos = o * stride[dim] - padding[dim] + k * dilation[dim];
        sees_input = sees_input || (pos >= 0 && pos < size);
      }
      LOWBIT_CHECK(sees_input, op, ": the window of output ", dim == 0 ? "row " : "column ", o,
                   " covers only padding (", input, ", kernel ", pair_str(kernel), ", stride ", pair_str(stride),
                   ", padding ", pair_str(padding), ", dilation ", pair_str(dilation), ")");
    }
  }
  return p;
}

// grad_out of a backward op: f32/f64, 4-D, [N, C, OH, OW] as the forward produced.
void check_grad_out(const char* op, const Tensor& grad_out, const Shape& expected, const std::string& forward) {
  check_input(op, grad_out);
  LOWBIT_CHECK(grad_out.sizes() == expected, op, ": grad_out ", describe(grad_out), " does not match the output ",
               shape_str(expected), " of ", forward);
}

}  // namespace

// Forward ops: check, compute the output size, allocate, run. Backward ops also check
// that grad_out (and indices) have the shape the forward would have produced.
std::pair<Tensor, Tensor> max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, Pair dilation) {
  check_input("max_pool2d", x);
  Pool2dParams p = window_params("max_pool2d", x.sizes(), str_cat("input ", describe(x)), kernel, stride, padding,
                                 dilation);
  p.dtype = x.dtype();
  const Tensor input = x.contiguous();
  Tensor y = empty({p.batch, p.channels, p.out_h, p.out_w}, x.dtype(), x.device());
  Tensor indices = empty(y.sizes(), DType::i64, x.device());
  lowbit::max_pool2d(x.device(), p, input.data_ptr(), y.data_ptr(), indices.data<int64_t>());
  return {y, indices};
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& input_sizes) {
  const char* op = "max_pool2d_backward";
  check_input(op, grad_out);
  LOWBIT_CHECK(indices.defined(), op, ": undefined indices");
  LOWBIT_CHECK(indices.dtype() == DType::i64, op, ": indices must be i64 (from max_pool2d), got ", describe(indices));
  check_same(op, grad_out, indices, false);
  LOWBIT_CHECK(indices.sizes() == grad_out.sizes(), op, ": indices ", describe(indices), " do not match grad_out ",
               describe(grad_out));
  check_input_sizes(op, input_sizes);
  LOWBIT_CHECK(input_sizes[0] == grad_out.size(0) && input_sizes[1] == grad_out.size(1), op, ": grad_out ",
               describe(grad_out), " and the input sizes ", shape_str(input_sizes),
               " differ in batch or channels");
  // Indices are written through, so one outside its plane would write out of bounds:
  // check the range (one aminmax, cheap next to the scatter) instead of trusting them.
  const int64_t plane = input_sizes[2] * input_sizes[3];
  if (indices.numel() > 0) {
    const auto [lo, hi] = aminmax(indices);
    LOWBIT_CHECK(lo.item() >= 0 && hi.item() < static_cast<double>(plane), op, ": indices range over [",
                 static_cast<int64_t>(lo.item()), ", ", static_cast<int64_t>(hi.item()),
                 "] but an input plane of ", shape_str(input_sizes), " has indices [0, ", plane, ")");
  }
  Pool2dParams p;
  p.dtype = grad_out.dtype();
  p.batch = input_sizes[0], p.channels = input_sizes[1];
  p.in_h = input_sizes[2], p.in_w = input_sizes[3];
  p.out_h = grad_out.size(2), p.out_w = grad_out.size(3);
  const Tensor dy = grad_out.contiguous(), idx = indices.contiguous();
  Tensor dx = empty(input_sizes, grad_out.dtype(), grad_out.device());
  lowbit::max_pool2d_backward(grad_out.device(), p, dy.data_ptr(), idx.data<int64_t>(), dx.data_ptr());
  return dx;
}

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool count_include_pad) {
  check_input("avg_pool2d", x);
  Pool2dParams p = window_params("avg_pool2d", x.sizes(), str_cat("input ", describe(x)), kernel, stride, padding,
                                 {1, 1});
  p.dtype = x.dtype();
  p.count_include_pad = count_include_pad;
  const Tensor input = x.contiguous();
  Tensor y = empty({p.batch, p.channels, p.out_h, p.out_w}, x.dtype(), x.device());
  lowbit::avg_pool2d(x.device(), p, input.data_ptr(), y.data_ptr());
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_sizes, Pair kernel, Pair stride, Pair padding,
                           bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  check_input_sizes(op, input_sizes);
  Pool2dParams p = window_params(op, input_sizes, str_cat("input sizes ", shape_str(input_sizes)), kernel, stride,
                                 padding, {1, 1});
  check_grad_out(op, grad_out, {p.batch, p.channels, p.out_h, p.out_w},
                 str_cat("avg_pool2d on input sizes ", shape_str(input_sizes), " (kernel ", pair_str(kernel),
                         ", stride ", pair_str(stride), ", padding ", pair_str(padding), ")"));
  p.dtype = grad_out.dtype();
  p.count_include_pad = count_include_pad;
  const Tensor dy = grad_out.contiguous();
  Tensor dx = empty(input_sizes, grad_out.dtype(), grad_out.device());
  lowbit::avg_pool2d_backward(grad_out.device(), p, dy.data_ptr(), dx.data_ptr());
  return dx;
}

namespace {

// Params of adaptive pooling from NCHW input sizes and the output size.
Pool2dParams adaptive_params(const char* op, const Shape& in, Pair output_size, const std::string& input) {
  LOWBIT_CHECK(output_size[0] > 0 && output_size[1] > 0, op, ": output size must be positive, got ",
               pair_str(output_size), " (", input, ")");
  LOWBIT_CHECK(in[2] > 0 && in[3] > 0, op, ": the input planes are empty (", input, ")");
  Pool2dParams p;
  p.batch = in[0], p.channels = in[1];
  p.in_h = in[2], p.in_w = in[3];
  p.out_h = output_size[0], p.out_w = output_size[1];
  return p;
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  check_input("adaptive_avg_pool2d", x);
  Pool2dParams p = adaptive_params("adaptive_avg_pool2d", x.sizes(), output_size, str_cat("input ", describe(x)));
  p.dtype = x.dtype();
  const Tensor input = x.contiguous();
  Tensor y = empty({p.batch, p.channels, p.out_h, p.out_w}, x.dtype(), x.device());
  lowbit::adaptive_avg_pool2d(x.device(), p, input.data_ptr(), y.data_ptr());
  return y;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_sizes) {
  const char* op = "adaptive_avg_pool2d_backward";
  check_input(op, grad_out);
  check_input_sizes(op, input_sizes);
  Pool2dParams p = adaptive_params(op, input_sizes, {grad_out.size(2), grad_out.size(3)},
                                   str_cat("input sizes ", shape_str(input_sizes)));
  check_grad_out(op, grad_out, {p.batch, p.channels, p.out_h, p.out_w},
                 str_cat("adaptive_avg_pool2d on input sizes ", shape_str(input_sizes)));
  p.dtype = grad_out.dtype();
  const Tensor dy = grad_out.contiguous();
  Tensor dx = empty(input_sizes, grad_out.dtype(), grad_out.device());
  lowbit::adaptive_avg_pool2d_backward(grad_out.device(), p, dy.data_ptr(), dx.data_ptr());
  return dx;
}

}  // namespace lowbit::raw
