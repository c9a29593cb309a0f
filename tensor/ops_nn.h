// Raw neural-network ops: pooling and batch norm, non-differentiable (the autograd ops
// wrap them). Same rules as tensor/ops.h: each function checks its arguments (errors
// name the op and describe the tensors), makes its inputs contiguous, allocates the
// result and calls the kernel family of the same stem in tensor/kernels/.
//
// Layout NCHW, dtype f32 or f64; every tensor argument of one call has the same dtype and
// device. Pairs are {height, width}, as PyTorch's (kH, kW). ceil_mode is always false.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "tensor/kernels/batch_norm.h"
#include "tensor/tensor.h"

namespace lowbit::raw {

// ---- pooling (tensor/kernels/pool2d.h) ----
// Rules, as torch.nn.functional: kernel, stride, dilation >= 1; 0 <= padding <= kernel/2;
// the dilated kernel must fit in the padded input. Output H: (H + 2 pad - dilation
// (kernel - 1) - 1) / stride + 1, rounded down.

// Returns (values, indices): indices (i64) are h*W + w of the maximum within its plane.
// NaN wins; ties go to the first in scan order.
std::pair<Tensor, Tensor> max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                                     std::array<int64_t, 2> padding = {0, 0},
                                     std::array<int64_t, 2> dilation = {1, 1});
// dx (of shape input_sizes): each grad_out element added at its index.
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& input_sizes);

// count_include_pad: divide by kernel_h*kernel_w (true, PyTorch's default) or by the
// number of window positions inside the input (false).
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding = {0, 0}, bool count_include_pad = true);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_sizes, std::array<int64_t, 2> kernel,
                           std::array<int64_t, 2> stride, std::array<int64_t, 2> padding = {0, 0},
                           bool count_include_pad = true);

// Output (oh, ow) averages rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and the columns likewise.
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_sizes);

// ---- batch norm (tensor/kernels/batch_norm.h) ----
// x is [N, C, ...] (at least 2-D; [N, C] for BatchNorm1d, [N, C, H, W] for 2-D).
// gamma, beta, running_mean, running_var are [C] or undefined (no affine: gamma = 1,
// beta = 0). Formulas and numerics: tensor/kernels/batch_norm.h.

struct BatchNormOutput {
  Tensor y;       // like x
  Tensor mean;    // [C], the batch mean
  Tensor invstd;  // [C], 1 / sqrt(biased batch variance + eps)
};
struct BatchNormGrads {
  Tensor dx;      // like x
  Tensor dgamma;  // [C] (computed whether or not gamma is defined)
  Tensor dbeta;   // [C]
};

// Training mode: normalises with the batch statistics and, when running_mean and
// running_var are given (both or neither), updates them IN PLACE:
//   running = (1 - momentum) * running + momentum * statistic (unbiased variance),
// as torch.nn.functional.batch_norm(training=True). Needs more than one value per channel.
BatchNormOutput batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& running_mean, const Tensor& running_var, double momentum = 0.1,
                                 double eps = 1e-5);
// Eval mode: normalises with the running statistics (both required), then applies `act`
// (none, relu, relu6) in the same pass: the bits of relu/relu6 applied to the result.
Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, double eps = 1e-5, BatchNormAct act = BatchNormAct::none);
// Backward of batch_norm_train, from its saved mean and invstd.
BatchNormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& gamma,
                                   const Tensor& save_mean, const Tensor& save_invstd);
// Backward of batch_norm_eval (the statistics are constants: dx = grad_out * gamma * invstd).
BatchNormGrads batch_norm_eval_backward(const Tensor& grad_out, const Tensor& x, const Tensor& gamma,
                                        const Tensor& running_mean, const Tensor& running_var, double eps = 1e-5);

}  // namespace lowbit::raw
