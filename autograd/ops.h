// Differentiable ops: the lowbit::raw ops of tensor/ops.h (same names, same argument
// rules, same results), plus a graph node when grad mode is on and an input requires
// grad. Forward and backward of each family live together in autograd/ops/<stem>.cpp,
// with the derivative written next to each backward.
//
// Broadcasting: the gradient of a broadcast operand is summed over the broadcast dims.
// Subgradients at the non-differentiable points (stated again at each op):
//   relu'(0) = 0, abs'(0) = 0, sign/floor/ceil/round' = 0,
//   clamp passes the gradient for lo <= x <= hi (bounds included, as PyTorch),
//   hardtanh/relu6 pass it for min_val < x < max_val only (bounds excluded, as PyTorch),
//   minimum/maximum split it evenly between a and b where a == b,
//   max/min over dims split it evenly among all elements equal to the extremum (as
//   PyTorch's amax/amin).
// Comparisons and argmax return bool/i64 tensors and are never recorded.
//
// These names (abs, exp, max, pow, ...) hide the C library's inside namespace lowbit:
// call std::abs, std::exp ... for scalars there.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit {

struct Generator;  // tensor/random.h

// ---- binary (autograd/ops/binary.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);  // comparisons: bool results, no gradient
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& x);

// ---- unary (autograd/ops/unary.cpp) ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor sign(const Tensor& x);  // piecewise constant: zero gradient
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);  // zero gradient; the STE version is a custom function in quant/

// ---- where (autograd/ops/where.cpp) ----
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // gradients to a and b

// ---- reductions (autograd/ops/reduce.cpp) ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
std::pair<Tensor, Tensor> aminmax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // no gradient
Tensor argmax(const Tensor& x);

// ---- matmul (autograd/ops/matmul.cpp) ----
Tensor matmul(const Tensor& a, const Tensor& b);  // NumPy semantics, as raw::matmul
// y = x @ weight^T + bias: x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- views and copies (autograd/ops/view.cpp) ----
// The Tensor member functions of the same names, recorded: the gradient flows back
// through the view to the viewed tensor.
Tensor reshape(const Tensor& x, const Shape& sizes);
Tensor view(const Tensor& x, const Shape& sizes);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& sizes);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor clone(const Tensor& x);
Tensor contiguous(const Tensor& x);

// ---- conv2d (autograd/ops/conv2d.cpp; rules of raw::conv2d in tensor/ops.h) ----
// input [N, C_in, H, W], weight [C_out, C_in/groups, kH, kW], bias [C_out] or undefined.
// Gradients flow to input, weight and bias.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              std::array<int64_t, 2> stride = {1, 1}, std::array<int64_t, 2> padding = {0, 0},
              std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);

// ---- pooling (autograd/ops/pool2d.cpp; rules of raw:: in tensor/ops_nn.h) ----
// NCHW, pairs are {height, width}. max_pool2d returns the values; the indices of the
// maxima are kept for backward (each gradient goes to its window's maximum, summed where
// overlapping windows share one).
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding = {0, 0}, std::array<int64_t, 2> dilation = {1, 1});
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding = {0, 0}, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);

// ---- batch norm (autograd/ops/batch_norm.cpp) ----
// x [N, C, ...]; gamma, beta [C] or undefined (no affine). Training: normalises with the
// batch statistics and, when running_mean/running_var are given, updates them IN PLACE
// (running = (1 - momentum) running + momentum statistic, unbiased variance), as
// torch.nn.functional.batch_norm. Eval: normalises with the running statistics (required).
// Gradients go to x, gamma and beta; the running statistics are constants (buffers).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- activations (autograd/ops/activation.cpp) ----
// hardtanh = clamp(x, min_val, max_val) with PyTorch's derivative: 1 strictly inside
// (min_val, max_val), 0 outside and at the bounds. relu6(x) = hardtanh(x, 0, 6).
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);
Tensor relu6(const Tensor& x);

// ---- softmax (autograd/ops/softmax.cpp) ----
// Over one dim, computed with the maximum subtracted (no overflow for large inputs).
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- losses (autograd/ops/loss.cpp) ----
enum class Reduction { none, mean, sum };  // none: one loss per sample
// logits [N, C] (f32/f64), target [N] i64 class indices in [0, C). As
// torch.nn.functional.cross_entropy (no class weights, no ignore_index):
//   loss_n = (1 - label_smoothing) * (-log_softmax(logits)[n, target_n])
//            + label_smoothing * mean_c(-log_softmax(logits)[n, c]),
// averaged over n (mean), summed (sum) or returned as [N] (none).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing = 0,
                     Reduction reduction = Reduction::mean);

// ---- dropout (autograd/ops/dropout.cpp) ----
// Training: each element kept with probability 1 - p and scaled by 1 / (1 - p), the mask
// drawn from gen (nullptr: the default generator) with bernoulli. p = 0 or !training
// returns x itself; p = 1 returns zeros (no numbers drawn). p must be in [0, 1].
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- concatenation and padding (autograd/ops/shape.cpp) ----
// cat: along an existing dim; the tensors agree in dtype, device and every other dim.
// stack: along a new dim (0..dim()); the tensors have one shape.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Zeros around the last two dims (W then H, NCHW): {left, right, top, bottom} >= 0, the
// order of torch.nn.functional.pad(x, (left, right, top, bottom)).
Tensor pad(const Tensor& x, std::array<int64_t, 4> padding);

}  // namespace lowbit
