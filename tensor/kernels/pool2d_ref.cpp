// pool2d reference: the specification of pool2d.h, one plane (n, c) at a time, one
// output at a time, plain loops over the window with the padding tested explicitly.
// The backward passes are written as the scatter of each output's gradient into its
// window (the transpose of the forward loops), into a double plane rounded at the end.
#include <algorithm>
#include <limits>
#include <vector>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/pool2d.h"

namespace lowbit::ref {
namespace {

// Number of (n, c) planes and the element counts of one input and one output plane.
struct Planes {
  int64_t count, in_size, out_size;
};
Planes planes_of(const Pool2dParams& p) { return {p.batch * p.channels, p.in_h * p.in_w, p.out_h * p.out_w}; }

// max: y = max over the window (padding never chosen), index = h*W + w of the first
// maximum in scan order; NaN beats every number and the first NaN stays.
template <typename T>
void max_pool_typed(const Pool2dParams& p, const T* x, T* y, int64_t* indices) {
  const Planes pl = planes_of(p);
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    const T* xp = x + plane * pl.in_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        // Scan the window row by row; tap (kh, kw) reads input row
        // h = oh*stride_h - pad_h + kh*dilation_h and column w likewise.
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_index = -1;  // stays -1 for a window entirely in the padding
        for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
          const int64_t h = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
          if (h < 0 || h >= p.in_h) continue;  // padding row
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t w = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
            if (w < 0 || w >= p.in_w) continue;  // padding column
            const T v = xp[h * p.in_w + w];
            // Take v if it is the first value seen, strictly larger (a tie keeps the
            // earlier one), or the first NaN (after which nothing is larger).
            const bool v_nan = v != v, best_nan = best != best;
            if (best_index < 0 || v > best || (v_nan && !best_nan)) {
              best = v;
              best_index = h * p.in_w + w;
            }
          }
        }
        const int64_t o = plane * pl.out_size + oh * p.out_w + ow;
        y[o] = best;
        indices[o] = best_index;
      }
    }
  }
}

// max backward: dx = 0, then dx[index(o)] += dy[o] in the dtype, outputs in row-major order.
template <typename T>
void max_pool_backward_typed(const Pool2dParams& p, const T* dy, const int64_t* indices, T* dx) {
  const Planes pl = planes_of(p);
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    T* dxp = dx + plane * pl.in_size;
    for (int64_t i = 0; i < pl.in_size; ++i) dxp[i] = T(0);
    for (int64_t o = 0; o < pl.out_size; ++o) {
      const int64_t index = indices[plane * pl.out_size + o];
      if (index >= 0 && index < pl.in_size) dxp[index] += dy[plane * pl.out_size + o];
    }
  }
}

// The divisor of avg output (oh, ow): kernel_h*kernel_w, or with count_include_pad off
// the number of window positions inside the input.
int64_t avg_divisor(const Pool2dParams& p, int64_t oh, int64_t ow) {
  if (p.count_include_pad) return p.kernel_h * p.kernel_w;
  int64_t inside = 0;
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t h = oh * p.stride_h - p.pad_h + kh, w = ow * p.stride_w - p.pad_w + kw;
      if (h >= 0 && h < p.in_h && w >= 0 && w < p.in_w) ++inside;
    }
  }
  return inside;
}

// avg: y = T(s / divisor), s = the double sum of the window's inputs in scan order
// (padding positions add nothing). Dilation is 1: tap kh reads row oh*stride_h - pad_h + kh.
template <typename T>
void avg_pool_typed(const Pool2dParams& p, const T* x, T* y) {
  const Planes pl = planes_of(p);
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    const T* xp = x + plane * pl.in_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        double s = 0;
        for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t h = oh * p.stride_h - p.pad_h + kh, w = ow * p.stride_w - p.pad_w + kw;
            if (h >= 0 && h < p.in_h && w >= 0 && w < p.in_w) s += static_cast<double>(xp[h * p.in_w + w]);
          }
        }
        const double divisor = static_cast<double>(avg_divisor(p, oh, ow));
        y[plane * pl.out_size + oh * p.out_w + ow] = static_cast<T>(s / divisor);
      }
    }
  }
}

// avg backward: every output adds dy / divisor to each input of its window (in double,
// outputs in row-major order); dx = T(that sum).
template <typename T>
void avg_pool_backward_typed(const Pool2dParams& p, const T* dy, T* dx) {
  const Planes pl = planes_of(p);
  std::vector<double> acc(static_cast<size_t>(pl.in_size));
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const double g = static_cast<double>(dy[plane * pl.out_size + oh * p.out_w + ow]) /
                         static_cast<double>(avg_divisor(p, oh, ow));
        for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t h = oh * p.stride_h - p.pad_h + kh, w = ow * p.stride_w - p.pad_w + kw;
            if (h >= 0 && h < p.in_h && w >= 0 && w < p.in_w) acc[h * p.in_w + w] += g;
          }
        }
      }
    }
    for (int64_t i = 0; i < pl.in_size; ++i) dx[plane * pl.in_size + i] = static_cast<T>(acc[i]);
  }
}

// adaptive: output (oh, ow) averages rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and the
// columns likewise: y = T(s / count), s the double sum in scan order.
template <typename T>
void adaptive_avg_typed(const Pool2dParams& p, const T* x, T* y) {
  const Planes pl = planes_of(p);
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    const T* xp = x + plane * pl.in_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, p.in_h, p.out_h), h1 = adaptive_end(oh, p.in_h, p.out_h);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, p.in_w, p.out_w), w1 = adaptive_end(ow, p.in_w, p.out_w);
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += static_cast<double>(xp[h * p.in_w + w]);
        const double count = static_cast<double>((h1 - h0) * (w1 - w0));
        y[plane * pl.out_size + oh * p.out_w + ow] = static_cast<T>(s / count);
      }
    }
  }
}

// adaptive backward: every output adds dy / count to each input of its window (in
// double, outputs in row-major order); dx = T(that sum).
template <typename T>
void adaptive_avg_backward_typed(const Pool2dParams& p, const T* dy, T* dx) {
  const Planes pl = planes_of(p);
  std::vector<double> acc(static_cast<size_t>(pl.in_size));
  for (int64_t plane = 0; plane < pl.count; ++plane) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, p.in_h, p.out_h), h1 = adaptive_end(oh, p.in_h, p.out_h);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, p.in_w, p.out_w), w1 = adaptive_end(ow, p.in_w, p.out_w);
        const double g = static_cast<double>(dy[plane * pl.out_size + oh * p.out_w + ow]) /
                         static_cast<double>((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) acc[h * p.in_w + w] += g;
      }
    }
    for (int64_t i = 0; i < pl.in_size; ++i) dx[plane * pl.in_size + i] = static_cast<T>(acc[i]);
  }
}

}  // namespace

// Entry points: pick the element type, run the typed loops above.
void max_pool2d(const Pool2dParams& p, const void* x, void* y, int64_t* indices) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    max_pool_typed(p, static_cast<const T*>(x), static_cast<T*>(y), indices);
  });
}
void max_pool2d_backward(const Pool2dParams& p, const void* dy, const int64_t* indices, void* dx) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    max_pool_backward_typed(p, static_cast<const T*>(dy), indices, static_cast<T*>(dx));
  });
}
void avg_pool2d(const Pool2dParams& p, const void* x, void* y) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    avg_pool_typed(p, static_cast<const T*>(x), static_cast<T*>(y));
  });
}
void avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    avg_pool_backward_typed(p, static_cast<const T*>(dy), static_cast<T*>(dx));
  });
}
void adaptive_avg_pool2d(const Pool2dParams& p, const void* x, void* y) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    adaptive_avg_typed(p, static_cast<const T*>(x), static_cast<T*>(y));
  });
}
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const void* dy, void* dx) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    adaptive_avg_backward_typed(p, static_cast<const T*>(dy), static_cast<T*>(dx));
  });
}

}  // namespace lowbit::ref
