// conv2d reference: the specification the CPU (and later CUDA) paths are tested against.
//
// Notation: g = out_channel / (C_out/groups) is the group of an output channel, and
// in_channel counts inside that group, so the input channel read is g*(C_in/groups) +
// in_channel. A filter tap (filter_y, filter_x) of output pixel (out_y, out_x) reads
//   in_y = out_y*stride_h - pad_h + filter_y*dilation_h
//   in_x = out_x*stride_w - pad_w + filter_x*dilation_w
// and taps outside [0, H_in) x [0, W_in) read the zero padding (they are skipped).
//
// forward:
//   out[n, oc, oy, ox] = bias[oc] + sum_{in_channel, fy, fx} in[n, c, in_y, in_x] * w[oc, in_channel, fy, fx]
// backward, with L a loss and dY = dL/dout (the forward is linear in `in` and in w):
//   dL/din[n, c, iy, ix]  = sum over the (oc, oy, ox, fy, fx) whose tap reads (c, iy, ix) of
//                           dY[n, oc, oy, ox] * w[oc, c - g*C_in/groups, fy, fx]
//   dL/dw[oc, ic, fy, fx] = sum_{n, oy, ox} dY[n, oc, oy, ox] * in[n, g*C_in/groups + ic, in_y, in_x]
//   dL/dbias[oc]          = sum_{n, oy, ox} dY[n, oc, oy, ox]
//
// Every output element is accumulated in double, in the loop order written below, and
// rounded once to the tensor type. For f32 inputs each product is exact in double, so the
// reference is within about 1 ulp (f32) of the exact result for any realistic size.
#include "tensor/kernels/conv2d.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::ref {

template <typename T>
static void forward_typed(const Conv2dParams& p, const T* input, const T* weight, const T* bias, T* output) {
  const int64_t H_out = p.out_h(), W_out = p.out_w();
  const int64_t in_group = p.in_channels / p.groups, out_group = p.out_channels / p.groups;
  for (int64_t batch = 0; batch < p.batch; ++batch)
    for (int64_t out_channel = 0; out_channel < p.out_channels; ++out_channel) {
      const int64_t group = out_channel / out_group;
      for (int64_t out_y = 0; out_y < H_out; ++out_y)
        for (int64_t out_x = 0; out_x < W_out; ++out_x) {
          double acc = bias ? static_cast<double>(bias[out_channel]) : 0.0;
          for (int64_t in_channel = 0; in_channel < in_group; ++in_channel) {
            const int64_t c = group * in_group + in_channel;
            for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y) {
              const int64_t in_y = out_y * p.stride_h - p.pad_h + filter_y * p.dilation_h;
              if (in_y < 0 || in_y >= p.in_h) continue;
              for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x) {
                const int64_t in_x = out_x * p.stride_w - p.pad_w + filter_x * p.dilation_w;
                if (in_x < 0 || in_x >= p.in_w) continue;
                const T x = input[((batch * p.in_channels + c) * p.in_h + in_y) * p.in_w + in_x];
                const T w =
                    weight[((out_channel * in_group + in_channel) * p.kernel_h + filter_y) * p.kernel_w + filter_x];
                acc += static_cast<double>(x) * static_cast<double>(w);
              }
            }
          }
          output[((batch * p.out_channels + out_channel) * H_out + out_y) * W_out + out_x] = static_cast<T>(acc);
        }
    }
}

// Gather form: each input pixel sums the taps that read it. Tap (filter_y, filter_x) of
// output row out_y reads in_y exactly when in_y + pad_h - filter_y*dilation_h is a
// non-negative multiple of stride_h whose quotient out_y is < H_out (columns alike).
template <typename T>
static void backward_input_typed(const Conv2dParams& p, const T* grad_output, const T* weight, T* grad_input) {
  const int64_t H_out = p.out_h(), W_out = p.out_w();
  const int64_t in_group = p.in_channels / p.groups, out_group = p.out_channels / p.groups;
  for (int64_t batch = 0; batch < p.batch; ++batch)
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const int64_t group = c / in_group, in_channel = c % in_group;
      for (int64_t in_y = 0; in_y < p.in_h; ++in_y)
        for (int64_t in_x = 0; in_x < p.in_w; ++in_x) {
          double acc = 0;
          for (int64_t oc = group * out_group; oc < (group + 1) * out_group; ++oc)
            for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y) {
              const int64_t y = in_y + p.pad_h - filter_y * p.dilation_h;  // = out_y * stride_h
              if (y < 0 || y % p.stride_h != 0 || y / p.stride_h >= H_out) continue;
              const int64_t out_y = y / p.stride_h;
              for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x) {
                const int64_t x = in_x + p.pad_w - filter_x * p.dilation_w;  // = out_x * stride_w
                if (x < 0 || x % p.stride_w != 0 || x / p.stride_w >= W_out) continue;
                const int64_t out_x = x / p.stride_w;
                const T dy = grad_output[((batch * p.out_channels + oc) * H_out + out_y) * W_out + out_x];
                const T w = weight[((oc * in_group + in_channel) * p.kernel_h + filter_y) * p.kernel_w + filter_x];
                acc += static_cast<double>(dy) * static_cast<double>(w);
              }
            }
          grad_input[((batch * p.in_channels + c) * p.in_h + in_y) * p.in_w + in_x] = static_cast<T>(acc);
        }
    }
}

template <typename T>
static void backward_weight_typed(const Conv2dParams& p, const T* input, const T* grad_output, T* grad_weight,
                                  T* grad_bias) {
  const int64_t H_out = p.out_h(), W_out = p.out_w();
  const int64_t in_group = p.in_channels / p.groups, out_group = p.out_channels / p.groups;
  for (int64_t out_channel = 0; out_channel < p.out_channels; ++out_channel) {
    const int64_t group = out_channel / out_group;
    for (int64_t in_channel = 0; in_channel < in_group; ++in_channel) {
      const int64_t c = group * in_group + in_channel;
      for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y)
        for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x) {
          double acc = 0;
          for (int64_t batch = 0; batch < p.batch; ++batch)
            for (int64_t out_y = 0; out_y < H_out; ++out_y) {
              const int64_t in_y = out_y * p.stride_h - p.pad_h + filter_y * p.dilation_h;
              if (in_y < 0 || in_y >= p.in_h) continue;
              for (int64_t out_x = 0; out_x < W_out; ++out_x) {
                const int64_t in_x = out_x * p.stride_w - p.pad_w + filter_x * p.dilation_w;
                if (in_x < 0 || in_x >= p.in_w) continue;
                const T dy = grad_output[((batch * p.out_channels + out_channel) * H_out + out_y) * W_out + out_x];
                const T x = input[((batch * p.in_channels + c) * p.in_h + in_y) * p.in_w + in_x];
                acc += static_cast<double>(dy) * static_cast<double>(x);
              }
            }
          grad_weight[((out_channel * in_group + in_channel) * p.kernel_h + filter_y) * p.kernel_w + filter_x] =
              static_cast<T>(acc);
        }
    }
    if (grad_bias) {
      double acc = 0;
      for (int64_t batch = 0; batch < p.batch; ++batch)
        for (int64_t i = 0; i < H_out * W_out; ++i)
          acc += static_cast<double>(grad_output[(batch * p.out_channels + out_channel) * H_out * W_out + i]);
      grad_bias[out_channel] = static_cast<T>(acc);
    }
  }
}

void conv2d_forward(const Conv2dParams& p, const void* input, const void* weight, const void* bias, void* output) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    forward_typed(p, static_cast<const T*>(input), static_cast<const T*>(weight), static_cast<const T*>(bias),
                  static_cast<T*>(output));
  });
}

void conv2d_backward_input(const Conv2dParams& p, const void* grad_output, const void* weight, void* grad_input) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_input_typed(p, static_cast<const T*>(grad_output), static_cast<const T*>(weight),
                         static_cast<T*>(grad_input));
  });
}

void conv2d_backward_weight(const Conv2dParams& p, const void* input, const void* grad_output, void* grad_weight,
                            void* grad_bias) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_weight_typed(p, static_cast<const T*>(input), static_cast<const T*>(grad_output),
                          static_cast<T*>(grad_weight), static_cast<T*>(grad_bias));
  });
}

}  // namespace lowbit::ref
