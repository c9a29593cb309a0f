// pool2d: max_pool2d (with indices), avg_pool2d and adaptive_avg_pool2d, forward and
// backward, on contiguous NCHW f32/f64 tensors. Each of the N*C planes is pooled on
// its own; the formulas below are per plane (x is H x W, y is OH x OW).
//
// Windows (PyTorch's rules, ceil_mode = false):
//   max/avg  output (oh, ow) covers rows    oh*stride_h - pad_h + kh*dilation_h, kh < kernel_h,
//            and columns                    ow*stride_w - pad_w + kw*dilation_w, kw < kernel_w;
//            positions outside the input are padding. OH = pool2d_out_size(H, ...), same for OW.
//            avg pooling has dilation 1.
//   adaptive output (oh, ow) covers rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and the
//            columns likewise: windows cover the input, may overlap, never are empty.
//
// Values:
//   max      y = the largest input in the window (padding is -inf, never chosen);
//            index = h*W + w of that input within its plane (i64, as PyTorch). Ties go
//            to the first in scan order (kh, then kw), and -0 == +0 is a tie. A NaN wins
//            over every number, and the first NaN of the window is the one returned
//            (torch.nn.functional.max_pool2d returns the last NaN's index; the value is
//            NaN either way). A window entirely in the padding (possible only with
//            dilation; the op layer rejects it) gives -inf and index -1.
//   avg      y = (sum of the window's inputs) / divisor, divisor = kernel_h*kernel_w
//            when count_include_pad, else the number of window positions inside the input.
//   adaptive y = (sum of the window) / (its number of elements).
// Backward (dx overwritten, the adjoint of the forward map):
//   max      dx[index(o)] += dy[o] for every output o of the plane, in row-major order;
//            indices outside [0, H*W) (the -1 of an empty window) contribute nothing.
//   avg      dx[h, w] = sum over outputs o whose window holds (h, w) of dy[o] / divisor(o)
//   adaptive dx[h, w] = sum over outputs o whose window holds (h, w) of dy[o] / size(o)
//
// Numerics: sums (avg forward, avg/adaptive backward) accumulate in double in row-major
// order (of the window, resp. of the outputs) and round once to the dtype; max backward
// adds in the dtype, like PyTorch. The CPU path computes every output with the same
// operations in the same order as the reference, so cpu == ref bit for bit for every
// op here, on any thread count (tests/pool2d_test.cpp checks exactly that).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit {

struct Pool2dParams {
  DType dtype = DType::f32;         // of x, y, dy, dx (indices are i64)
  int64_t batch = 0, channels = 0;  // N, C
  int64_t in_h = 0, in_w = 0;       // H, W
  int64_t out_h = 0, out_w = 0;     // OH, OW
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;            // implicit padding on both sides
  int64_t dilation_h = 1, dilation_w = 1;  // max pool only
  bool count_include_pad = true;           // avg pool only
};

// Output length along one dim (ceil_mode = false); <= 0 when the dilated kernel does
// not fit in the padded input: floor((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1.
inline int64_t pool2d_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Adaptive windows along one dim: output i covers [adaptive_start(i), adaptive_end(i)).
inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// Shapes: x, dx are (N, C, H, W); y, dy, indices are (N, C, OH, OW); all contiguous.
// Adaptive pooling reads only dtype, batch, channels, in_* and out_* of the params.
namespace ref {
void max_pool2d(const Pool2dParams& p, const void* x, void* y, int64_t* indices);
void max_pool2d_backward(const Pool2dParams& p, const void* dy, const int64_t* indices, void* dx);
void avg_pool2d(const Pool2dParams& p, const void* x, void* y);
void avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx);
void adaptive_avg_pool2d(const Pool2dParams& p, const void* x, void* y);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx);
}  // namespace ref
namespace cpu {
void max_pool2d(const Pool2dParams& p, const void* x, void* y, int64_t* indices);
void max_pool2d_backward(const Pool2dParams& p, const void* dy, const int64_t* indices, void* dx);
void avg_pool2d(const Pool2dParams& p, const void* x, void* y);
void avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx);
void adaptive_avg_pool2d(const Pool2dParams& p, const void* x, void* y);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx);
}  // namespace cpu

// The device switches. There is no pool2d_cuda.cu yet: the CUDA kernels come with the
// CUDA issue, until then a CUDA tensor gets throw_no_cuda_kernel.
inline void max_pool2d(Device device, const Pool2dParams& p, const void* x, void* y, int64_t* indices) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::max_pool2d(p, x, y, indices);
    case Backend::cpu: return cpu::max_pool2d(p, x, y, indices);
    case Backend::cuda: throw_no_cuda_kernel("max_pool2d");  // CUDA kernel: with the CUDA issue
  }
}
inline void max_pool2d_backward(Device device, const Pool2dParams& p, const void* dy, const int64_t* indices,
                                void* dx) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::max_pool2d_backward(p, dy, indices, dx);
    case Backend::cpu: return cpu::max_pool2d_backward(p, dy, indices, dx);
    case Backend::cuda: throw_no_cuda_kernel("max_pool2d_backward");  // CUDA kernel: with the CUDA issue
  }
}
inline void avg_pool2d(Device device, const Pool2dParams& p, const void* x, void* y) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::avg_pool2d(p, x, y);
    case Backend::cpu: return cpu::avg_pool2d(p, x, y);
    case Backend::cuda: throw_no_cuda_kernel("avg_pool2d");  // CUDA kernel: with the CUDA issue
  }
}
inline void avg_pool2d_backward(Device device, const Pool2dParams& p, const void* dy, void* dx) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::avg_pool2d_backward(p, dy, dx);
    case Backend::cpu: return cpu::avg_pool2d_backward(p, dy, dx);
    case Backend::cuda: throw_no_cuda_kernel("avg_pool2d_backward");  // CUDA kernel: with the CUDA issue
  }
}
inline void adaptive_avg_pool2d(Device device, const Pool2dParams& p, const void* x, void* y) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::adaptive_avg_pool2d(p, x, y);
    case Backend::cpu: return cpu::adaptive_avg_pool2d(p, x, y);
    case Backend::cuda: throw_no_cuda_kernel("adaptive_avg_pool2d");  // CUDA kernel: with the CUDA issue
  }
}
inline void adaptive_avg_pool2d_backward(Device device, const Pool2dParams& p, const void* dy, void* dx) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::adaptive_avg_pool2d_backward(p, dy, dx);
    case Backend::cpu: return cpu::adaptive_avg_pool2d_backward(p, dy, dx);
    case Backend::cuda: throw_no_cuda_kernel("adaptive_avg_pool2d_backward");  // CUDA kernel: with the CUDA issue
  }
}

}  // namespace lowbit
