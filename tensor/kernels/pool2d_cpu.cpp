// pool2d on the CPU: OpenMP over the N*C planes, each plane computed by one thread
// with the reference's arithmetic in the reference's order, so the results equal ref::
// bit for bit on any number of threads. What changes is the bookkeeping:
//   - window bounds are clipped to the input once per output row and column (tables
//     shared by all planes) instead of testing every window position;
//   - avg/adaptive backward gather instead of scatter: input (h, w) sums the outputs
//     whose windows hold it, in row-major output order, which is the order in which the
//     reference's scatter adds them; no double scratch plane, and each dx element is
//     written once.
// No SIMD: windows are small and strided (3x3 stride 2 in ResNet's stem), so lanes
// would need gathers; a vector path should first win a benchmark (there is no
// bench/pool2d_bench.cpp yet).
#include <algorithm>
#include <limits>
#include <vector>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/pool2d.h"

namespace lowbit::cpu {
namespace {

constexpr int64_t kParallelWork = 32768;  // fewer elements touched than this: one thread

// A half-open range [begin, end).
struct Span {
  int64_t begin = 0, end = 0;
};

// fn(plane) for every (n, c) plane, split statically over the OpenMP threads when the
// call touches `work` elements or more. A plane is always computed by a single thread.
template <typename Fn>
void for_each_plane(const Pool2dParams& p, int64_t work, Fn&& fn) {
  const int64_t planes = p.batch * p.channels;
#pragma omp parallel for schedule(static) if (work >= kParallelWork)
  for (int64_t plane = 0; plane < planes; ++plane) fn(plane);
}

// Kernel taps k in [0, kernel) of output o whose position o*stride - pad + k*dilation
// lies in [0, in): a contiguous run of k, empty when the window is all padding.
std::vector<Span> tap_spans(int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  std::vector<Span> spans(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t base = o * stride - pad;
    int64_t k0 = 0, k1 = kernel;
    while (k0 < kernel && base + k0 * dilation < 0) ++k0;
    while (k1 > k0 && base + (k1 - 1) * dilation >= in) --k1;
    spans[o] = {k0, k1};
  }
  return spans;
}

// Input positions [begin, end) covered by avg output o (dilation 1), clipped to [0, in).
std::vector<Span> avg_windows(int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  std::vector<Span> spans(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad;
    spans[o] = {std::max<int64_t>(start, 0), std::min(start + kernel, in)};
  }
  return spans;
}

std::vector<Span> adaptive_windows(int64_t out, int64_t in) {
  std::vector<Span> spans(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) spans[o] = {adaptive_start(o, in, out), adaptive_end(o, in, out)};
  return spans;
}

// For each input position i, the outputs [begin, end) whose window holds i. Windows
// start and end in nondecreasing order of the output, so these outputs are contiguous.
std::vector<Span> covering_outputs(const std::vector<Span>& windows, int64_t in) {
  std::vector<Span> cover(static_cast<size_t>(in));
  const int64_t out = static_cast<int64_t>(windows.size());
  int64_t first = 0, last = 0;  // first output ending after i; first output starting after i
  for (int64_t i = 0; i < in; ++i) {
    while (first < out && windows[first].end <= i) ++first;
    while (last < out && windows[last].begin <= i) ++last;
    cover[i] = {first, std::max(first, last)};
  }
  return cover;
}

// The reference's scan, restricted to the taps inside the input, in two branch-free
// passes per window (random data mispredicts the reference's "if (v > best)" often):
//   1. m = the largest value (a strict > keeps the first of equal values, so ties and
//      -0/+0 behave as in the reference) and whether any value is NaN;
//   2. the first tap holding a NaN if there is one, else the first equal to m.
// The result is the reference's index, and the value is read back from that index, so
// both agree with ref:: bit for bit.
template <typename T>
void max_pool_typed(const Pool2dParams& p, const T* x, T* y, int64_t* indices) {
  const std::vector<Span> taps_h = tap_spans(p.out_h, p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  const std::vector<Span> taps_w = tap_spans(p.out_w, p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  const int64_t in_w = p.in_w, out_w = p.out_w, dil_h = p.dilation_h, dil_w = p.dilation_w;
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  for_each_plane(p, (p.batch * p.channels) * out_size * p.kernel_h * p.kernel_w, [&](int64_t plane) {
    const T* xp = x + plane * in_size;
    T* yp = y + plane * out_size;
    int64_t* ip = indices + plane * out_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const Span rows = taps_h[oh];
      const T* x0 = xp + (oh * p.stride_h - p.pad_h) * in_w;  // input row of tap kh = 0 (maybe padding)
      for (int64_t ow = 0; ow < out_w; ++ow) {
        const Span cols = taps_w[ow];
        const int64_t w0 = ow * p.stride_w - p.pad_w;  // input column of tap kw = 0
        if (rows.begin == rows.end || cols.begin == cols.end) {  // all padding (the op layer rejects it)
          yp[oh * out_w + ow] = -std::numeric_limits<T>::infinity();
          ip[oh * out_w + ow] = -1;
          continue;
        }
        T m = x0[rows.begin * dil_h * in_w + w0 + cols.begin * dil_w];
        bool nan = false;
        for (int64_t kh = rows.begin; kh < rows.end; ++kh) {
          const T* row = x0 + kh * dil_h * in_w + w0;
          for (int64_t kw = cols.begin; kw < cols.end; ++kw) {
            const T v = row[kw * dil_w];
            m = v > m ? v : m;
            nan |= v != v;
          }
        }
        int64_t found = -1;
        for (int64_t kh = rows.begin; kh < rows.end && found < 0; ++kh) {
          const T* row = x0 + kh * dil_h * in_w + w0;
          for (int64_t kw = cols.begin; kw < cols.end; ++kw) {
            const T v = row[kw * dil_w];
            if (nan ? v != v : v == m) {
              found = (row + kw * dil_w) - xp;
              break;
            }
          }
        }
        yp[oh * out_w + ow] = xp[found];
        ip[oh * out_w + ow] = found;
      }
    }
  });
}

// Scatter in the dtype, outputs in row-major order: the reference's loop, one thread per plane.
template <typename T>
void max_pool_backward_typed(const Pool2dParams& p, const T* dy, const int64_t* indices, T* dx) {
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  for_each_plane(p, (p.batch * p.channels) * (in_size + out_size), [&](int64_t plane) {
    T* dxp = dx + plane * in_size;
    const T* dyp = dy + plane * out_size;
    const int64_t* ip = indices + plane * out_size;
    std::fill(dxp, dxp + in_size, T(0));
    for (int64_t o = 0; o < out_size; ++o) {
      if (ip[o] >= 0 && ip[o] < in_size) dxp[ip[o]] += dyp[o];
    }
  });
}

// The reference's sum over the clipped window (the same terms in the same row-major
// order) and its divisor: kernel_h*kernel_w, or the clipped window's size.
template <typename T>
void avg_pool_typed(const Pool2dParams& p, const T* x, T* y) {
  const std::vector<Span> win_h = avg_windows(p.out_h, p.in_h, p.kernel_h, p.stride_h, p.pad_h);
  const std::vector<Span> win_w = avg_windows(p.out_w, p.in_w, p.kernel_w, p.stride_w, p.pad_w);
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  for_each_plane(p, (p.batch * p.channels) * out_size * p.kernel_h * p.kernel_w, [&](int64_t plane) {
    const T* xp = x + plane * in_size;
    T* yp = y + plane * out_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const Span rows = win_h[oh];
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const Span cols = win_w[ow];
        double s = 0;
        for (int64_t h = rows.begin; h < rows.end; ++h)
          for (int64_t w = cols.begin; w < cols.end; ++w) s += static_cast<double>(xp[h * p.in_w + w]);
        const int64_t divisor =
            p.count_include_pad ? p.kernel_h * p.kernel_w : (rows.end - rows.begin) * (cols.end - cols.begin);
        yp[oh * p.out_w + ow] = static_cast<T>(s / static_cast<double>(divisor));
      }
    }
  });
}

// dx[h, w] = sum over the outputs covering (h, w), row-major, of dy[o] / divisor(o),
// in double. `windows_*` are the clipped windows of the outputs; `divisor(oh, ow)`.
template <typename T, typename DivisorFn>
void gather_backward(const Pool2dParams& p, const std::vector<Span>& windows_h, const std::vector<Span>& windows_w,
                     DivisorFn&& divisor, const T* dy, T* dx) {
  const std::vector<Span> cover_h = covering_outputs(windows_h, p.in_h);
  const std::vector<Span> cover_w = covering_outputs(windows_w, p.in_w);
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  const int64_t work = (p.batch * p.channels) * (in_size + out_size);  // at least one touch of each
#pragma omp parallel if (work >= kParallelWork)
  {
    std::vector<double> g(static_cast<size_t>(out_size));  // dy[o] / divisor(o) of the current plane
    const int64_t planes = p.batch * p.channels;
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* dyp = dy + plane * out_size;
      T* dxp = dx + plane * in_size;
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow)
          g[oh * p.out_w + ow] =
              static_cast<double>(dyp[oh * p.out_w + ow]) / static_cast<double>(divisor(oh, ow));
      for (int64_t h = 0; h < p.in_h; ++h) {
        for (int64_t w = 0; w < p.in_w; ++w) {
          double s = 0;
          for (int64_t oh = cover_h[h].begin; oh < cover_h[h].end; ++oh)
            for (int64_t ow = cover_w[w].begin; ow < cover_w[w].end; ++ow) s += g[oh * p.out_w + ow];
          dxp[h * p.in_w + w] = static_cast<T>(s);
        }
      }
    }
  }
}

// Each output's gradient is divided by the forward's divisor and spread over the
// window positions inside the input (padding positions have no gradient to receive).
template <typename T>
void avg_pool_backward_typed(const Pool2dParams& p, const T* dy, T* dx) {
  const std::vector<Span> win_h = avg_windows(p.out_h, p.in_h, p.kernel_h, p.stride_h, p.pad_h);
  const std::vector<Span> win_w = avg_windows(p.out_w, p.in_w, p.kernel_w, p.stride_w, p.pad_w);
  auto divisor = [&](int64_t oh, int64_t ow) {
    if (p.count_include_pad) return p.kernel_h * p.kernel_w;
    return (win_h[oh].end - win_h[oh].begin) * (win_w[ow].end - win_w[ow].begin);
  };
  gather_backward(p, win_h, win_w, divisor, dy, dx);
}

// As avg pooling, with the adaptive windows (never clipped: they lie inside the input).
template <typename T>
void adaptive_avg_typed(const Pool2dParams& p, const T* x, T* y) {
  const std::vector<Span> win_h = adaptive_windows(p.out_h, p.in_h), win_w = adaptive_windows(p.out_w, p.in_w);
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  // Every input is read about (OH/H + 1)(OW/W + 1) times; in_size + out_size is the floor.
  for_each_plane(p, (p.batch * p.channels) * (in_size + out_size), [&](int64_t plane) {
    const T* xp = x + plane * in_size;
    T* yp = y + plane * out_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const Span rows = win_h[oh];
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const Span cols = win_w[ow];
        double s = 0;
        for (int64_t h = rows.begin; h < rows.end; ++h)
          for (int64_t w = cols.begin; w < cols.end; ++w) s += static_cast<double>(xp[h * p.in_w + w]);
        const int64_t count = (rows.end - rows.begin) * (cols.end - cols.begin);
        yp[oh * p.out_w + ow] = static_cast<T>(s / static_cast<double>(count));
      }
    }
  });
}

// Each output's gradient is spread evenly over its window of (h1 - h0)(w1 - w0) inputs.
template <typename T>
void adaptive_avg_backward_typed(const Pool2dParams& p, const T* dy, T* dx) {
  const std::vector<Span> win_h = adaptive_windows(p.out_h, p.in_h), win_w = adaptive_windows(p.out_w, p.in_w);
  auto count = [&](int64_t oh, int64_t ow) {
    return (win_h[oh].end - win_h[oh].begin) * (win_w[ow].end - win_w[ow].begin);
  };
  gather_backward(p, win_h, win_w, count, dy, dx);
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

}  // namespace lowbit::cpu
