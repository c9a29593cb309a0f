// pool2d on the CPU: OpenMP over the N*C planes, each plane computed by one thread
// with the reference's arithmetic in the reference's order, so the results equal ref::
// bit for bit on any number of threads. What changes is the bookkeeping:
//   - window bounds are clipped to the input once per output row and column (tables
//     shared by all planes) instead of testing every window position;
//   - max pooling runs the reference's scan on N adjacent outputs at once (Highway SIMD,
//     dynamic dispatch) where their windows lie inside the input and stride_w is 1 or 2
//     (stride 2 deinterleaves two loads), the scalar scan on the border outputs;
//   - avg/adaptive backward gather instead of scatter: input (h, w) sums the outputs
//     whose windows hold it, in row-major output order, which is the order in which the
//     reference's scatter adds them; no double scratch plane, and each dx element is
//     written once.
// avg pooling stays scalar: its double sums would need f32 -> f64 widening per tap and
// are not on a hot path yet (ResNet uses max pooling in the stem, adaptive at the end).

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/pool2d_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/pool2d.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {

// N values at p, p + s, ..., p + (N-1) s for a stride s of 1 or 2 (stride 2: the even
// lanes of the 2N values at p; reads p[0, s*N)).
template <class D>
HWY_INLINE hn::Vec<D> LoadStrided(D d, const hn::TFromD<D>* HWY_RESTRICT p, int64_t s) {
#if HWY_TARGET == HWY_SCALAR  // one lane, no ConcatEven
  (void)s;
  return hn::LoadU(d, p);
#else
  if (s == 1) return hn::LoadU(d, p);
  return hn::ConcatEven(d, hn::LoadU(d, p + hn::Lanes(d)), hn::LoadU(d, p));
#endif
}

// max_pool2d on the outputs ow of output row oh whose loads stay inside the input row
// (every tap's columns ow*stride_w - pad_w + kw*dilation_w, for the N outputs of a block,
// in [0, W)); the caller has checked that all window rows of oh lie inside the input and
// that stride_w is 1 or 2. Writes those outputs' y and index and sets covered = the
// range [begin, end) it wrote (empty if no block fits); the caller scans the rest.
//
// Each lane runs the reference's scan over the taps in order (kh, then kw), with the
// reference's rule: take v if v > best, or if v is NaN and best is not. Only compares
// and selects, so the lanes' results are the reference's bits. The chosen tap k =
// kh*kernel_w + kw is carried as a T lane (exact: fewer than 2^24 taps, the caller
// checks) and turned into the input index h*W + w with tap_offset[k] = kh*dh*W + kw*dw.
template <typename T>
HWY_INLINE void MaxPoolRow(const Pool2dParams& p, const T* HWY_RESTRICT xp, int64_t oh,
                           const int64_t* HWY_RESTRICT tap_offset, T* HWY_RESTRICT yrow, int64_t* HWY_RESTRICT irow,
                           int64_t* covered) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t W = p.in_w, s = p.stride_w, dh = p.dilation_h, dw = p.dilation_w;
  // Block starts ow0 in [first, last]: ow0*s - pad_w >= 0 and the last tap's loads end
  // inside the row, ow0*s - pad_w + (kernel_w - 1)*dw + s*N <= W; and ow0 + N <= OW.
  const int64_t first = (p.pad_w + s - 1) / s;
  const int64_t room = W + p.pad_w - (p.kernel_w - 1) * dw - s * N;
  const int64_t last = room < 0 ? -1 : std::min(room / s, p.out_w - N);
  covered[0] = covered[1] = 0;
  if (last < first) return;
  const int64_t h0 = oh * p.stride_h - p.pad_h;  // input row of tap kh = 0
  HWY_ALIGN T taps[hn::MaxLanes(decltype(d)())];
  // Blocks of N from `first`; the last block is moved back to end at last + N, so it
  // may recompute some outputs of the one before it (with the same result).
  for (int64_t ow0 = first;; ow0 = std::min(ow0 + N, last)) {
    const int64_t base = h0 * W + ow0 * s - p.pad_w;  // input index of tap (0, 0) for lane 0
    const T* x0 = xp + base;
    V best = LoadStrided(d, x0, s);
    V tap = hn::Zero(d);
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      for (int64_t kw = (kh == 0 ? 1 : 0); kw < p.kernel_w; ++kw) {
        const V v = LoadStrided(d, x0 + kh * dh * W + kw * dw, s);
        const auto take = hn::Or(hn::Gt(v, best), hn::AndNot(hn::IsNaN(best), hn::IsNaN(v)));
        best = hn::IfThenElse(take, v, best);
        tap = hn::IfThenElse(take, hn::Set(d, static_cast<T>(kh * p.kernel_w + kw)), tap);
      }
    }
    hn::StoreU(best, d, yrow + ow0);
    hn::Store(tap, d, taps);
    for (int64_t i = 0; i < N; ++i) irow[ow0 + i] = base + i * s + tap_offset[static_cast<int64_t>(taps[i])];
    if (ow0 == last) break;
  }
  covered[0] = first;
  covered[1] = last + N;
}

}  // namespace

void MaxPoolRowF32(const Pool2dParams& p, const float* xp, int64_t oh, const int64_t* tap_offset, float* yrow,
                   int64_t* irow, int64_t* covered) {
  MaxPoolRow(p, xp, oh, tap_offset, yrow, irow, covered);
}
void MaxPoolRowF64(const Pool2dParams& p, const double* xp, int64_t oh, const int64_t* tap_offset, double* yrow,
                   int64_t* irow, int64_t* covered) {
  MaxPoolRow(p, xp, oh, tap_offset, yrow, irow, covered);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(MaxPoolRowF32);
HWY_EXPORT(MaxPoolRowF64);

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

// One output of max pooling by the reference's scan, restricted to the taps inside the
// input (rows, cols), in two branch-free passes (random data mispredicts the
// reference's "if (v > best)" often):
//   1. m = the largest value (a strict > keeps the first of equal values, so ties and
//      -0/+0 behave as in the reference) and whether any value is NaN;
//   2. the first tap holding a NaN if there is one, else the first equal to m.
// The result is the reference's index, and the value is read back from that index, so
// both agree with ref:: bit for bit.
template <typename T>
void max_window(const Pool2dParams& p, const T* xp, int64_t oh, int64_t ow, Span rows, Span cols, T* y,
                int64_t* index) {
  const int64_t in_w = p.in_w, dil_h = p.dilation_h, dil_w = p.dilation_w;
  if (rows.begin == rows.end || cols.begin == cols.end) {  // all padding (the op layer rejects it)
    *y = -std::numeric_limits<T>::infinity();
    *index = -1;
    return;
  }
  const T* x0 = xp + (oh * p.stride_h - p.pad_h) * in_w;  // input row of tap kh = 0 (maybe padding)
  const int64_t w0 = ow * p.stride_w - p.pad_w;            // input column of tap kw = 0
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
  *y = xp[found];
  *index = found;
}

// The dispatched vector row (MaxPoolRow above), by element type.
template <typename T>
void max_pool_row(const Pool2dParams& p, const T* xp, int64_t oh, const int64_t* tap_offset, T* yrow, int64_t* irow,
                  int64_t* covered) {
  if constexpr (std::is_same_v<T, float>) {
    HWY_DYNAMIC_DISPATCH(MaxPoolRowF32)(p, xp, oh, tap_offset, yrow, irow, covered);
  } else {
    HWY_DYNAMIC_DISPATCH(MaxPoolRowF64)(p, xp, oh, tap_offset, yrow, irow, covered);
  }
}

// Output rows whose window rows all lie inside the input go through the vector row for
// the outputs it can load, the scalar max_window for the rest (the borders); other rows
// are scalar. Every output is computed by one thread, so the result does not depend on
// the thread count, and both paths give the reference's bits.
template <typename T>
void max_pool_typed(const Pool2dParams& p, const T* x, T* y, int64_t* indices) {
  const std::vector<Span> taps_h = tap_spans(p.out_h, p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  const std::vector<Span> taps_w = tap_spans(p.out_w, p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  const int64_t taps = p.kernel_h * p.kernel_w;
  const bool vector = (p.stride_w == 1 || p.stride_w == 2) && taps < (int64_t{1} << 24);
  std::vector<int64_t> tap_offset(static_cast<size_t>(vector ? taps : 0));  // kh*dh*W + kw*dw of tap kh*KW + kw
  for (int64_t k = 0; k < static_cast<int64_t>(tap_offset.size()); ++k)
    tap_offset[k] = (k / p.kernel_w) * p.dilation_h * p.in_w + (k % p.kernel_w) * p.dilation_w;
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  for_each_plane(p, (p.batch * p.channels) * out_size * taps, [&](int64_t plane) {
    const T* xp = x + plane * in_size;
    T* yp = y + plane * out_size;
    int64_t* ip = indices + plane * out_size;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      T* yrow = yp + oh * p.out_w;
      int64_t* irow = ip + oh * p.out_w;
      int64_t covered[2] = {0, 0};  // outputs [begin, end) of this row done by the vector path
      if (vector && taps_h[oh].begin == 0 && taps_h[oh].end == p.kernel_h)
        max_pool_row(p, xp, oh, tap_offset.data(), yrow, irow, covered);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        if (ow == covered[0] && covered[1] > covered[0]) ow = covered[1];
        if (ow == p.out_w) break;
        max_window(p, xp, oh, ow, taps_h[oh], taps_w[ow], yrow + ow, irow + ow);
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
#endif  // HWY_ONCE
