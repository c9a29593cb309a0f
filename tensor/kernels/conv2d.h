// conv2d: 2-D convolution (cross-correlation, as in PyTorch) with stride, zero padding,
// dilation and groups; forward, backward-data and backward-weight kernels.
//
// Layouts, all contiguous, row-major:
//   input   [N, C_in, H_in, W_in]                       (NCHW)
//   weight  [C_out, C_in/groups, kH, kW]
//   bias    [C_out]
//   output  [N, C_out, H_out, W_out]
// with the shape rule (integer division, rounding down; the op layer checks that it is >= 1)
//   H_out = (H_in + 2*pad_h - dilation_h*(kH - 1) - 1) / stride_h + 1     (W_out alike)
// Output channel oc belongs to group g = oc / (C_out/groups) and reads input channels
// [g*C_in/groups, (g+1)*C_in/groups). The equations are in conv2d_ref.cpp.
//
// The reference accumulates every output element in f64, in its loop order, and rounds
// once. The CPU path (conv2d_cpu.cpp) lowers each (image, group) to OpenBLAS GEMMs over
// an im2col buffer, on slices of the work chosen from the shape alone, so its bits are
// the same for any thread count; depthwise convolutions run a direct SIMD kernel (conv2d_depthwise_cpu.cpp),
// and f32 3x3 stride-1 dense convolutions Winograd F(4x4, 3x3) for all three passes
// (conv2d_winograd_cpu.cpp; set_winograd_enabled in tensor/config.h).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit {

struct Conv2dParams {
  DType dtype = DType::f32;  // f32 or f64, every tensor
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;      // >= 1
  int64_t pad_h = 0, pad_w = 0;            // >= 0, zeros on both sides
  int64_t dilation_h = 1, dilation_w = 1;  // >= 1; tap filter_y reads row out_y*stride - pad + filter_y*dilation
  int64_t groups = 1;                      // divides in_channels and out_channels

  int64_t out_h() const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
};

// Each backend provides the same three kernels; `bias` and `grad_bias` may be null.
//
//   conv2d_forward          output = conv(input, weight) + bias
//     input       (N, C_in, H_in, W_in)
//     weight      (C_out, C_in/groups, kH, kW)
//     bias        (C_out) or null
//     output      (N, C_out, H_out, W_out), overwritten
//   conv2d_backward_input   grad_input = dL/dinput
//     grad_output (N, C_out, H_out, W_out)
//     weight      (C_out, C_in/groups, kH, kW)
//     grad_input  (N, C_in, H_in, W_in), overwritten
//   conv2d_backward_weight  grad_weight = dL/dweight, grad_bias = dL/dbias
//     input       (N, C_in, H_in, W_in)
//     grad_output (N, C_out, H_out, W_out)
//     grad_weight (C_out, C_in/groups, kH, kW), overwritten
//     grad_bias   (C_out) or null, overwritten

namespace ref {
void conv2d_forward(const Conv2dParams& p, const void* input, const void* weight, const void* bias, void* output);
void conv2d_backward_input(const Conv2dParams& p, const void* grad_output, const void* weight, void* grad_input);
void conv2d_backward_weight(const Conv2dParams& p, const void* input, const void* grad_output, void* grad_weight,
                            void* grad_bias);
}  // namespace ref
namespace cpu {
void conv2d_forward(const Conv2dParams& p, const void* input, const void* weight, const void* bias, void* output);
void conv2d_backward_input(const Conv2dParams& p, const void* grad_output, const void* weight, void* grad_input);
void conv2d_backward_weight(const Conv2dParams& p, const void* input, const void* grad_output, void* grad_weight,
                            void* grad_bias);
}  // namespace cpu
// The CUDA kernels (conv2d_cuda.cu) come with the CUDA issue: declared only; the switches
// below raise throw_no_cuda_kernel for CUDA tensors until then.
namespace cuda {
void conv2d_forward(const Conv2dParams& p, const void* input, const void* weight, const void* bias, void* output);
void conv2d_backward_input(const Conv2dParams& p, const void* grad_output, const void* weight, void* grad_input);
void conv2d_backward_weight(const Conv2dParams& p, const void* input, const void* grad_output, void* grad_weight,
                            void* grad_bias);
}  // namespace cuda

inline void conv2d_forward(Device device, const Conv2dParams& p, const void* input, const void* weight,
                           const void* bias, void* output) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::conv2d_forward(p, input, weight, bias, output);
    case Backend::cpu: return cpu::conv2d_forward(p, input, weight, bias, output);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      throw_no_cuda_kernel("conv2d");  // until conv2d_cuda.cu exists (the CUDA issue)
#else
      throw_no_cuda("conv2d");
#endif
  }
}

inline void conv2d_backward_input(Device device, const Conv2dParams& p, const void* grad_output, const void* weight,
                                  void* grad_input) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::conv2d_backward_input(p, grad_output, weight, grad_input);
    case Backend::cpu: return cpu::conv2d_backward_input(p, grad_output, weight, grad_input);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      throw_no_cuda_kernel("conv2d_backward_input");  // until conv2d_cuda.cu exists (the CUDA issue)
#else
      throw_no_cuda("conv2d_backward_input");
#endif
  }
}

inline void conv2d_backward_weight(Device device, const Conv2dParams& p, const void* input, const void* grad_output,
                                   void* grad_weight, void* grad_bias) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::conv2d_backward_weight(p, input, grad_output, grad_weight, grad_bias);
    case Backend::cpu: return cpu::conv2d_backward_weight(p, input, grad_output, grad_weight, grad_bias);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      throw_no_cuda_kernel("conv2d_backward_weight");  // until conv2d_cuda.cu exists (the CUDA issue)
#else
      throw_no_cuda("conv2d_backward_weight");
#endif
  }
}

}  // namespace lowbit
