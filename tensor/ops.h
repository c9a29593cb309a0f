// Raw tensor ops: non-differentiable, the layer autograd builds on.
//
// Each function checks its arguments (shapes, dtypes, devices; errors name the op and
// describe the tensors), allocates the result and calls the kernel family of the same
// name in tensor/kernels/ through its device switch.
//
// Rules shared by all ops:
//  - Elementwise ops broadcast like NumPy. Both inputs must have the same dtype and
//    device: no silent promotion (cast explicitly with Tensor::to).
//  - Scalar overloads (add(x, 2.0)) use a 0-d tensor of x's dtype.
//  - Reductions take a list of dims (empty = all dims) and keepdim.
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::raw {

// ---- binary (tensor/kernels/binary.h) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);      // f32/f64 only
Tensor minimum(const Tensor& a, const Tensor& b);  // NaN-propagating
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);  // comparisons return bool (b8)
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Gradient masks, the backward of relu and hardtanh in one pass (binary.h):
//   relu_backward(grad, y)                      grad where y > 0, else +0
//   hardtanh_backward(grad, x, min_val, max_val) grad where min_val < x < max_val, else +0
// A NaN y or x gives +0 (as where(gt(y, 0), grad, 0) would); grad passes unchanged.
// The bounds take the tensors' dtype as a scalar operand would (copy.h rules).
Tensor relu_backward(const Tensor& grad, const Tensor& y);
Tensor hardtanh_backward(const Tensor& grad, const Tensor& x, double min_val, double max_val);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
// In place: a = a op b (b broadcast to a's shape). Bumps a's version counter.
void add_(Tensor& a, const Tensor& b);
void sub_(Tensor& a, const Tensor& b);
void mul_(Tensor& a, const Tensor& b);
void div_(Tensor& a, const Tensor& b);

// ---- unary (tensor/kernels/unary.h) ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // -1, 0, +1 (NaN stays NaN)
Tensor relu(const Tensor& x);
Tensor exp(const Tensor& x);   // the rest are f32/f64 only
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x), two correctly rounded steps
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);  // half to even, like std::nearbyint and torch.round
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double lo, double hi);  // min(max(x, lo), hi); NaN stays NaN

// ---- where (tensor/kernels/where.h) ----
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond is bool

// ---- reductions (tensor/kernels/reduce.h) ----
// sum of integer tensors is i64; mean and var need f32/f64.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1, as torch.var).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);  // NaN-propagating
Tensor min(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
std::pair<Tensor, Tensor> aminmax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Index (i64) of the first maximum along `dim`; over the flattened tensor when dim is
// not given. NaN counts as the maximum (as in PyTorch).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);

// ---- matmul (tensor/kernels/matmul.h) ----
// NumPy matmul semantics: 1-D x 1-D dot, 2-D x 2-D, batched with broadcast batch dims.
// f32 through OpenBLAS sgemm / cuBLAS, f64 through dgemm.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- copy / cast (tensor/kernels/copy.h) ----
// Tensor::contiguous/clone/to/copy_/fill_ are the entry points; these are spelled out
// for symmetry with the kernel family.
inline Tensor cast(const Tensor& x, DType dtype) { return x.to(dtype); }

// ---- helpers shared by the op implementations ----
// Throws unless a and b are defined, on the same device and (if same_dtype) of one dtype.
void check_same(const char* op, const Tensor& a, const Tensor& b, bool same_dtype = true);
void check_float(const char* op, const Tensor& x);

// ---- conv2d (tensor/kernels/conv2d.h) ----
// 2-D convolution (cross-correlation) of input [N, C_in, H, W] with weight
// [C_out, C_in/groups, kH, kW] plus bias [C_out] (pass an undefined Tensor for none):
// output [N, C_out, H_out, W_out], H_out = (H + 2*padding[0] - dilation[0]*(kH - 1) - 1) / stride[0] + 1.
// stride and dilation >= 1, padding >= 0 (zeros), groups divides C_in and C_out. f32/f64;
// non-contiguous arguments are copied to contiguous first.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<int64_t, 2> stride = {1, 1},
              std::array<int64_t, 2> padding = {0, 0}, std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);
// The two backward passes (the autograd op wraps them). input_shape / weight_shape are the
// sizes of the forward's input / weight (they cannot be recovered from grad_output alone).
//   conv2d_backward_input   dL/dinput  [N, C_in, H, W]  from dL/doutput and weight
//   conv2d_backward_weight  {dL/dweight, dL/dbias [C_out] or undefined unless with_bias}
Tensor conv2d_backward_input(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                             std::array<int64_t, 2> stride = {1, 1}, std::array<int64_t, 2> padding = {0, 0},
                             std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);
std::pair<Tensor, Tensor> conv2d_backward_weight(const Tensor& input, const Tensor& grad_output,
                                                 const Shape& weight_shape, bool with_bias,
                                                 std::array<int64_t, 2> stride = {1, 1},
                                                 std::array<int64_t, 2> padding = {0, 0},
                                                 std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);

}  // namespace lowbit::raw
