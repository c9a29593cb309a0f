// Depthwise conv2d on the CPU (groups == C_in == C_out): direct Highway kernels, one
// (image, channel) plane per call. conv2d_cpu.cpp sends depthwise shapes here; what the
// files share is declared in conv2d_cpu_internal.h.
//
// Determinism (DESIGN.md, contract 2): item = (image, channel) plane for forward and
// backward input, channel for backward weight, each a fixed loop order, whatever thread
// runs it.
//
// Numerics: the kernels sum in their own order with FMAs, so cpu and ref differ by
// rounding only; tests/conv2d_test.cpp states and checks the bound.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/conv2d_depthwise_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cstdint>

#include "tensor/kernels/conv2d.h"

// ---- kernels, one (image, channel) plane per call ----------------------------------------
//
// The three kernels read or write the zero-padded input plane in a "phased" layout, each
// padded row split into its stride_w phases:
//   phased[(y*stride_w + r)*row_len + j] = padded[y, j*stride_w + r]
// so that tap (fy, fx) of the output pixels ox..ox+N-1 touches one contiguous vector: row
// y = oy*stride_h + fy*dilation_h, phase r = (fx*dilation_w) % stride_w, from j = ox +
// (fx*dilation_w) / stride_w. Rows have two vectors of slack past their last used element.
HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Where tap filter_x lands in a phased row: phase (filter_x*dilation_w) % stride_w at
// offset (filter_x*dilation_w) / stride_w, stepped from filter_x = 0 without dividing.
struct TapStep {
  int64_t phase = 0, offset = 0, step_phase, step_offset, stride;
  explicit TapStep(const Conv2dParams& p)
      : step_phase(p.dilation_w % p.stride_w), step_offset(p.dilation_w / p.stride_w), stride(p.stride_w) {}
  void next() {
    phase += step_phase;
    offset += step_offset;
    if (phase >= stride) {
      phase -= stride;
      ++offset;
    }
  }
};

// Forward: out[oy, ox] = bias + sum_{fy, fx} w[fy, fx] * padded[oy*sh + fy*dh, ox*sw + fx*dw],
// for every element the same chain of MulAdds in (fy, fx) order. The last vector of a row
// may run past W_out (into the slack); its extra lanes are dropped.
template <typename T>
HWY_INLINE void depthwise_forward_plane(const Conv2dParams& p, const T* HWY_RESTRICT phased, int64_t row_len,
                                        const T* HWY_RESTRICT w, T bias, T* HWY_RESTRICT out) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t H_out = p.out_h(), W_out = p.out_w(), sw = p.stride_w;
  HWY_ALIGN T last[HWY_MAX_BYTES / sizeof(T)];
  auto store = [&](hn::Vec<decltype(d)> v, T* o, int64_t count) {
    if (count >= N) {
      hn::StoreU(v, d, o);
    } else {
      hn::Store(v, d, last);
      std::copy(last, last + count, o);
    }
  };
  for (int64_t out_y = 0; out_y < H_out; ++out_y) {
    T* o = out + out_y * W_out;
    for (int64_t ox = 0; ox < W_out;) {
      const bool two = ox + N < W_out;  // two vectors: two independent FMA chains
      auto acc0 = hn::Set(d, bias), acc1 = acc0;
      for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y) {
        const T* row = phased + (out_y * p.stride_h + filter_y * p.dilation_h) * sw * row_len + ox;
        TapStep tap(p);
        for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x, tap.next()) {
          const T* src = row + tap.phase * row_len + tap.offset;
          const auto wv = hn::Set(d, w[filter_y * p.kernel_w + filter_x]);
          acc0 = hn::MulAdd(wv, hn::LoadU(d, src), acc0);
          if (two) acc1 = hn::MulAdd(wv, hn::LoadU(d, src + N), acc1);
        }
      }
      store(acc0, o + ox, W_out - ox);
      if (two) store(acc1, o + ox + N, W_out - ox - N);
      ox += two ? 2 * N : N;
    }
  }
}

// Backward input: the phased plane `acc` (zeroed by the caller) receives, for each output
// pixel and tap, w[fy, fx] * dY[oy, ox] where the forward read; per element in (oy, fy, fx)
// order. Written as a gather so that each vector of `acc` is loaded and stored once per
// (oy, fy): acc[j] += sum over the taps fx of phase r of w[fy, fx] * dY[oy, j - shift_fx],
// reading a copy of the dY row with zeros around it (`g`: q_max zeros, W_out values,
// q_max + 2 vectors of zeros, q_max = ((kW - 1)*dilation_w) / stride_w).
template <typename T>
HWY_INLINE void depthwise_input_plane(const Conv2dParams& p, const T* HWY_RESTRICT dy, const T* HWY_RESTRICT w,
                                      T* HWY_RESTRICT acc, int64_t row_len, T* HWY_RESTRICT g) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t H_out = p.out_h(), W_out = p.out_w(), sw = p.stride_w;
  const int64_t q_max = (p.kernel_w - 1) * p.dilation_w / sw, j_end = W_out + q_max;
  std::fill(g, g + j_end + q_max + 2 * N, T(0));
  for (int64_t out_y = 0; out_y < H_out; ++out_y) {
    std::copy(dy + out_y * W_out, dy + (out_y + 1) * W_out, g + q_max);
    for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y) {
      const T* wy = w + filter_y * p.kernel_w;
      T* row = acc + (out_y * p.stride_h + filter_y * p.dilation_h) * sw * row_len;
      for (int64_t phase = 0; phase < std::min(sw, p.kernel_w * p.dilation_w); ++phase) {
        T* dst = row + phase * row_len;
        for (int64_t j = 0; j < j_end; j += N) {
          auto v = hn::LoadU(d, dst + j);
          TapStep tap(p);
          for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x, tap.next()) {
            if (tap.phase != phase) continue;
            v = hn::MulAdd(hn::Set(d, wy[filter_x]), hn::LoadU(d, g + q_max + j - tap.offset), v);
          }
          hn::StoreU(v, d, dst + j);
        }
      }
    }
  }
}

// Backward weight, one image: for each tap t = fy*kW + fx, the N lanes acc[t*N, (t+1)*N)
// accumulate dY[oy, ox] * padded[tap t of (oy, ox)] lane by lane, in (oy, ox) order. Each dY
// row is copied into `g` with zeros after it up to a whole number of vectors, so the lanes
// past W_out add dY = 0 times whatever the phased row holds there (its slack is zeros).
template <typename T>
HWY_INLINE void depthwise_weight_plane(const Conv2dParams& p, const T* HWY_RESTRICT phased, int64_t row_len,
                                       const T* HWY_RESTRICT dy, T* HWY_RESTRICT acc, T* HWY_RESTRICT g) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t H_out = p.out_h(), W_out = p.out_w(), sw = p.stride_w;
  const int64_t width = (W_out + N - 1) / N * N;
  std::fill(g + W_out, g + width, T(0));
  for (int64_t out_y = 0; out_y < H_out; ++out_y) {
    std::copy(dy + out_y * W_out, dy + (out_y + 1) * W_out, g);
    for (int64_t filter_y = 0; filter_y < p.kernel_h; ++filter_y) {
      const T* row = phased + (out_y * p.stride_h + filter_y * p.dilation_h) * sw * row_len;
      TapStep tap(p);
      for (int64_t filter_x = 0; filter_x < p.kernel_w; ++filter_x, tap.next()) {
        T* a = acc + (filter_y * p.kernel_w + filter_x) * N;
        const T* x = row + tap.phase * row_len + tap.offset;
        auto v = hn::LoadU(d, a);
        for (int64_t ox = 0; ox < width; ox += N) v = hn::MulAdd(hn::LoadU(d, g + ox), hn::LoadU(d, x + ox), v);
        hn::StoreU(v, d, a);
      }
    }
  }
}

int64_t LanesF32() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }
int64_t LanesF64() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<double>())); }
void DepthwiseForwardF32(const Conv2dParams& p, const float* phased, int64_t row_len, const float* w, float bias,
                         float* out) {
  depthwise_forward_plane(p, phased, row_len, w, bias, out);
}
void DepthwiseForwardF64(const Conv2dParams& p, const double* phased, int64_t row_len, const double* w, double bias,
                         double* out) {
  depthwise_forward_plane(p, phased, row_len, w, bias, out);
}
void DepthwiseInputF32(const Conv2dParams& p, const float* dy, const float* w, float* acc, int64_t row_len,
                       float* g) {
  depthwise_input_plane(p, dy, w, acc, row_len, g);
}
void DepthwiseInputF64(const Conv2dParams& p, const double* dy, const double* w, double* acc, int64_t row_len,
                       double* g) {
  depthwise_input_plane(p, dy, w, acc, row_len, g);
}
void DepthwiseWeightF32(const Conv2dParams& p, const float* phased, int64_t row_len, const float* dy, float* acc,
                        float* g) {
  depthwise_weight_plane(p, phased, row_len, dy, acc, g);
}
void DepthwiseWeightF64(const Conv2dParams& p, const double* phased, int64_t row_len, const double* dy, double* acc,
                        double* g) {
  depthwise_weight_plane(p, phased, row_len, dy, acc, g);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <type_traits>

#include "tensor/kernels/conv2d_cpu_internal.h"

namespace lowbit::cpu {

HWY_EXPORT(LanesF32);
HWY_EXPORT(LanesF64);
HWY_EXPORT(DepthwiseForwardF32);
HWY_EXPORT(DepthwiseForwardF64);
HWY_EXPORT(DepthwiseInputF32);
HWY_EXPORT(DepthwiseInputF64);
HWY_EXPORT(DepthwiseWeightF32);
HWY_EXPORT(DepthwiseWeightF64);

bool is_depthwise(const Conv2dParams& p) { return p.groups == p.in_channels && p.groups == p.out_channels; }

int64_t f32_lanes() { return HWY_DYNAMIC_DISPATCH(LanesF32)(); }

namespace {

// ---- phased planes -----------------------------------------------------------------------

// Lanes of the SIMD target the depthwise kernels dispatch to.
template <typename T>
int64_t simd_lanes() {
  if constexpr (std::is_same_v<T, float>) {
    return f32_lanes();
  } else {
    return HWY_DYNAMIC_DISPATCH(LanesF64)();
  }
}

// The phased plane of the depthwise kernels (see the kernels above): H_pad rows of
// stride_w phases of row_len elements, two vectors of slack included.
struct PhasedPlane {
  int64_t rows, row_len, size;
};

template <typename T>
PhasedPlane phased_plane(const Conv2dParams& p) {
  PhasedPlane s;
  s.rows = (p.in_h + 2 * p.pad_h) * p.stride_w;
  s.row_len = ceil_div(p.in_w + 2 * p.pad_w, p.stride_w) + 2 * simd_lanes<T>();
  s.size = s.rows * s.row_len;
  return s;
}

// phased <- the zero-padded plane `in` (H_in, W_in), split into phases.
template <typename T>
void phase_plane(const Conv2dParams& p, const PhasedPlane& s, const T* in, T* phased) {
  for (int64_t row = 0; row < s.rows; ++row) {
    const int64_t in_y = row / p.stride_w - p.pad_h, phase = row % p.stride_w;
    T* dst = phased + row * s.row_len;
    int64_t lo = 0, hi = 0;  // dst[j] reads in[in_y, phase - pad_w + j*stride_w] for j in [lo, hi)
    if (in_y >= 0 && in_y < p.in_h) valid_range(phase - p.pad_w, p.stride_w, p.in_w, s.row_len, lo, hi);
    std::fill(dst, dst + lo, T(0));
    if (lo < hi) {
      const T* src = in + in_y * p.in_w + phase - p.pad_w + lo * p.stride_w;
      if (p.stride_w == 1) copy_row(dst + lo, src, hi - lo);
      if (p.stride_w > 1) copy_strided(dst + lo, src, hi - lo, p.stride_w);
    }
    std::fill(dst + hi, dst + s.row_len, T(0));
  }
}

// The adjoint of phase_plane: out (H_in, W_in) <- the input elements of the phased plane.
template <typename T>
void unphase_plane(const Conv2dParams& p, const PhasedPlane& s, const T* phased, T* out) {
  for (int64_t row = 0; row < s.rows; ++row) {
    const int64_t in_y = row / p.stride_w - p.pad_h, phase = row % p.stride_w;
    if (in_y < 0 || in_y >= p.in_h) continue;
    int64_t lo, hi;
    valid_range(phase - p.pad_w, p.stride_w, p.in_w, s.row_len, lo, hi);
    const T* src = phased + row * s.row_len;
    const int64_t first = in_y * p.in_w + phase - p.pad_w;  // the element of j = 0 (may be padding)
    for (int64_t j = lo; j < hi; ++j) out[first + j * p.stride_w] = src[j];
  }
}

}  // namespace

// item = one (image, channel) plane.
template <typename T>
void depthwise_forward(const Conv2dParams& p, const T* input, const T* weight, const T* bias, T* output) {
  const PhasedPlane s = phased_plane<T>(p);
  const int64_t P = p.out_h() * p.out_w(), planes = p.batch * p.in_channels, taps = p.kernel_h * p.kernel_w;
  ThreadScratch<T> scratch(s.size);
#pragma omp parallel for schedule(dynamic, 1) if (planes > 1)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const int64_t channel = plane % p.in_channels;
    T* phased = scratch.mine();
    phase_plane(p, s, input + plane * p.in_h * p.in_w, phased);
    const T b = bias ? bias[channel] : T(0);
    const T* w = weight + channel * taps;  // (kH, kW)
    T* out = output + plane * P;           // (H_out, W_out)
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(DepthwiseForwardF32)(p, phased, s.row_len, w, b, out);
    } else {
      HWY_DYNAMIC_DISPATCH(DepthwiseForwardF64)(p, phased, s.row_len, w, b, out);
    }
  }
}

// item = one (image, channel) plane, accumulated in a phased plane and then unphased.
template <typename T>
void depthwise_backward_input(const Conv2dParams& p, const T* grad_output, const T* weight, T* grad_input) {
  const PhasedPlane s = phased_plane<T>(p);
  const int64_t P = p.out_h() * p.out_w(), planes = p.batch * p.in_channels, taps = p.kernel_h * p.kernel_w;
  const int64_t dy_row = p.out_w() + 2 * ((p.kernel_w - 1) * p.dilation_w / p.stride_w) + 2 * simd_lanes<T>();
  ThreadScratch<T> scratch(s.size + dy_row);
#pragma omp parallel for schedule(dynamic, 1) if (planes > 1)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* acc = scratch.mine();  // the phased plane, then the padded dY row
    std::fill(acc, acc + s.size, T(0));
    const T* w = weight + plane % p.in_channels * taps;
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(DepthwiseInputF32)(p, grad_output + plane * P, w, acc, s.row_len, acc + s.size);
    } else {
      HWY_DYNAMIC_DISPATCH(DepthwiseInputF64)(p, grad_output + plane * P, w, acc, s.row_len, acc + s.size);
    }
    unphase_plane(p, s, acc, grad_input + plane * p.in_h * p.in_w);
  }
}

// item = one channel: its images in order, then dW = the sum of the lanes (in f64).
template <typename T>
void depthwise_backward_weight(const Conv2dParams& p, const T* input, const T* grad_output, T* grad_weight) {
  const PhasedPlane s = phased_plane<T>(p);
  const int64_t P = p.out_h() * p.out_w(), taps = p.kernel_h * p.kernel_w, lanes = simd_lanes<T>();
  ThreadScratch<T> scratch(s.size + taps * lanes + p.out_w() + lanes);
#pragma omp parallel for schedule(dynamic, 1) if (p.in_channels > 1)
  for (int64_t channel = 0; channel < p.in_channels; ++channel) {
    T* phased = scratch.mine();
    T* acc = phased + s.size;   // (taps, lanes)
    T* g = acc + taps * lanes;  // one dY row and its zeros
    std::fill(acc, acc + taps * lanes, T(0));
    for (int64_t image = 0; image < p.batch; ++image) {
      const int64_t plane = image * p.in_channels + channel;
      phase_plane(p, s, input + plane * p.in_h * p.in_w, phased);
      if constexpr (std::is_same_v<T, float>) {
        HWY_DYNAMIC_DISPATCH(DepthwiseWeightF32)(p, phased, s.row_len, grad_output + plane * P, acc, g);
      } else {
        HWY_DYNAMIC_DISPATCH(DepthwiseWeightF64)(p, phased, s.row_len, grad_output + plane * P, acc, g);
      }
    }
    for (int64_t t = 0; t < taps; ++t) {
      double sum = 0;
      for (int64_t lane = 0; lane < lanes; ++lane) sum += static_cast<double>(acc[t * lanes + lane]);
      grad_weight[channel * taps + t] = static_cast<T>(sum);
    }
  }
}

template void depthwise_forward<float>(const Conv2dParams&, const float*, const float*, const float*, float*);
template void depthwise_forward<double>(const Conv2dParams&, const double*, const double*, const double*, double*);
template void depthwise_backward_input<float>(const Conv2dParams&, const float*, const float*, float*);
template void depthwise_backward_input<double>(const Conv2dParams&, const double*, const double*, double*);
template void depthwise_backward_weight<float>(const Conv2dParams&, const float*, const float*, float*);
template void depthwise_backward_weight<double>(const Conv2dParams&, const double*, const double*, double*);

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
