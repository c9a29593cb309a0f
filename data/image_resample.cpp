// PIL's BILINEAR resampling (libImaging/Resample.c) of a window of resize(crop(image, box)):
// the fast path behind resize, resized_crop and the pipelines. image_transforms.h states the
// arithmetic; ref::resize (image_transforms_ref.cpp) transcribes PIL's two passes.
//
// Both passes are one vector kernel, FilterRow: an output row is the weighted sum of
// `count` input rows, computed across the whole row in int32 lanes, as PIL computes each
// sample. The vertical pass is that directly. The horizontal pass is that on the transposed
// image: the part of the crop box the window reads is transposed (each (column, channel)
// becomes a row of bytes), filtered, and transposed back before the vertical pass, which
// reads PIL's uint8 intermediate. Integer arithmetic: the bytes do not depend on the target.
//
// resized_crop to 224 x 224 of RandomResizedCrop boxes of 500x375 JPEGs, 2-core AMD EPYC
// (AVX2), -O2: 0.15 ms per image just decoded (0.20 from memory), against 0.81 for the
// scalar loops this replaced. The filtering is about half of it, the transposes a third.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "data/image_resample.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on
#include <hwy/cache_control.h>

#include <algorithm>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace lowbit::data::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kPrecisionBits = 22;  // PIL Resample.c PRECISION_BITS = 32 - 8 - 2

// dst[i] = clip8((2^21 + sum_{t < count} weight[t] * src[t * tap_stride + i]) >> 22), i < n:
// Resample.c's inner loop (ss = 1 << (PRECISION_BITS - 1); ss += k[t] * pixel; clip8(ss)) for
// n outputs at once. No overflow: the Q22 weights are >= 0 and sum to 2^22 (+- count from
// their rounding), so the sum stays below 255 * (2^22 + 8) + 2^21 < 2^31, as in PIL.
// DemoteTo to uint8 saturates: it is clip8's clamp of the shifted sum to 0..255.
void FilterRow(const uint8_t* HWY_RESTRICT src, int64_t tap_stride, const int32_t* HWY_RESTRICT weight, int64_t count,
               int64_t n, uint8_t* HWY_RESTRICT dst) {
  const hn::ScalableTag<int32_t> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(di));
  const auto half = hn::Set(di, 1 << (kPrecisionBits - 1));
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {  // four vectors per weight read
    auto acc0 = half, acc1 = half, acc2 = half, acc3 = half;
    for (int64_t t = 0; t < count; ++t) {
      const auto w = hn::Set(di, weight[t]);
      const uint8_t* row = src + t * tap_stride + i;
      acc0 = hn::Add(acc0, hn::Mul(hn::PromoteTo(di, hn::LoadU(d8, row)), w));
      acc1 = hn::Add(acc1, hn::Mul(hn::PromoteTo(di, hn::LoadU(d8, row + N)), w));
      acc2 = hn::Add(acc2, hn::Mul(hn::PromoteTo(di, hn::LoadU(d8, row + 2 * N)), w));
      acc3 = hn::Add(acc3, hn::Mul(hn::PromoteTo(di, hn::LoadU(d8, row + 3 * N)), w));
    }
    hn::StoreU(hn::DemoteTo(d8, hn::ShiftRight<kPrecisionBits>(acc0)), d8, dst + i);
    hn::StoreU(hn::DemoteTo(d8, hn::ShiftRight<kPrecisionBits>(acc1)), d8, dst + i + N);
    hn::StoreU(hn::DemoteTo(d8, hn::ShiftRight<kPrecisionBits>(acc2)), d8, dst + i + 2 * N);
    hn::StoreU(hn::DemoteTo(d8, hn::ShiftRight<kPrecisionBits>(acc3)), d8, dst + i + 3 * N);
  }
  for (; i + N <= n; i += N) {
    auto acc = half;
    for (int64_t t = 0; t < count; ++t)
      acc = hn::Add(acc, hn::Mul(hn::PromoteTo(di, hn::LoadU(d8, src + t * tap_stride + i)), hn::Set(di, weight[t])));
    hn::StoreU(hn::DemoteTo(d8, hn::ShiftRight<kPrecisionBits>(acc)), d8, dst + i);
  }
  for (; i < n; ++i) {
    int32_t acc = 1 << (kPrecisionBits - 1);
    for (int64_t t = 0; t < count; ++t) acc += src[t * tap_stride + i] * weight[t];
    const int32_t v = acc >> kPrecisionBits;
    dst[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

#if HWY_TARGET != HWY_SCALAR
// 16 rows of Lanes(d) bytes at src (row stride ss), transposed to dst (row stride ds), as
// 16 x 16 blocks side by side: four rounds of interleaving within each 128-bit block (bytes,
// then pairs, quads and octets of rows), the classic SSE2 transpose; with 256-bit vectors
// each half of a vector holds one block.
template <class D>
HWY_INLINE void transpose_16_rows(D d, const uint8_t* HWY_RESTRICT src, int64_t ss, uint8_t* HWY_RESTRICT dst,
                                  int64_t ds) {
  const hn::Repartition<uint16_t, D> d16;
  const hn::Repartition<uint32_t, D> d32;
  const hn::Repartition<uint64_t, D> d64;
  using V = hn::Vec<D>;
  V row[16], a[16], b[16];
  for (int r = 0; r < 16; ++r) row[r] = hn::LoadU(d, src + r * ss);
  // a[k] (k < 8): columns 0-7 of each block for rows 2k, 2k+1, column by column; a[k + 8]: 8-15.
  for (int k = 0; k < 8; ++k) {
    a[k] = hn::InterleaveLower(d, row[2 * k], row[2 * k + 1]);
    a[k + 8] = hn::InterleaveUpper(d, row[2 * k], row[2 * k + 1]);
  }
  // b[4g + j]: rows 4j..4j+3 of the four columns 4g..4g+3 of each block.
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j) {
      const auto lo = hn::BitCast(d16, a[8 * h + 2 * j]), hi = hn::BitCast(d16, a[8 * h + 2 * j + 1]);
      b[8 * h + j] = hn::BitCast(d, hn::InterleaveLower(d16, lo, hi));
      b[8 * h + 4 + j] = hn::BitCast(d, hn::InterleaveUpper(d16, lo, hi));
    }
  // Per group g of four columns: the 32-bit round gives rows 0-7 and 8-15 of column pairs, the
  // 64-bit round whole columns: out[k] holds column k of each block.
  V out[16];
  for (int g = 0; g < 4; ++g) {
    const auto q0 = hn::BitCast(d32, b[4 * g]), q1 = hn::BitCast(d32, b[4 * g + 1]);
    const auto q2 = hn::BitCast(d32, b[4 * g + 2]), q3 = hn::BitCast(d32, b[4 * g + 3]);
    const auto top01 = hn::BitCast(d64, hn::InterleaveLower(d32, q0, q1));  // columns 4g, 4g+1: rows 0-7
    const auto top23 = hn::BitCast(d64, hn::InterleaveUpper(d32, q0, q1));  // columns 4g+2, 4g+3: rows 0-7
    const auto bot01 = hn::BitCast(d64, hn::InterleaveLower(d32, q2, q3));  // rows 8-15
    const auto bot23 = hn::BitCast(d64, hn::InterleaveUpper(d32, q2, q3));
    out[4 * g + 0] = hn::BitCast(d, hn::InterleaveLower(d64, top01, bot01));
    out[4 * g + 1] = hn::BitCast(d, hn::InterleaveUpper(d64, top01, bot01));
    out[4 * g + 2] = hn::BitCast(d, hn::InterleaveLower(d64, top23, bot23));
    out[4 * g + 3] = hn::BitCast(d, hn::InterleaveUpper(d64, top23, bot23));
  }
  for (int k = 0; k < 16; ++k) {
    if constexpr (hn::MaxLanes(d) == 16) {
      hn::StoreU(out[k], d, dst + k * ds);
    } else {  // two blocks: columns k and 16 + k
      const hn::Half<D> dh;
      hn::StoreU(hn::LowerHalf(dh, out[k]), dh, dst + k * ds);
      hn::StoreU(hn::UpperHalf(dh, out[k]), dh, dst + (16 + k) * ds);
    }
  }
}
#endif

// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols, in blocks of 16
// rows x Lanes(d) columns; the last block of a strip and the last strip are moved back to end
// at the edge, transposing some bytes twice (src and dst do not overlap). Images narrower or
// lower than a block go byte by byte.
void TransposeBytes(const uint8_t* HWY_RESTRICT src, int64_t src_stride, int64_t rows, int64_t cols,
                    uint8_t* HWY_RESTRICT dst, int64_t dst_stride) {
#if HWY_TARGET != HWY_SCALAR
  const hn::CappedTag<uint8_t, 32> d;  // one or two 128-bit blocks
  const int64_t width = static_cast<int64_t>(hn::Lanes(d));
  if (rows >= 16 && cols >= width) {
    for (int64_t r = 0; r < rows; r += 16) {
      const int64_t r0 = std::min(r, rows - 16);
      // The strip after this one, into the cache: its 16 rows are read side by side, a
      // pattern the hardware prefetchers do not follow (TrainTransform on an image not in
      // the cache: 0.27 -> 0.26 ms).
      for (int64_t p = r0 + 16; p < std::min(r0 + 32, rows); ++p)
        for (int64_t c = 0; c < cols; c += 64) hwy::Prefetch(src + p * src_stride + c);
      for (int64_t c = 0; c < cols; c += width) {
        const int64_t c0 = std::min(c, cols - width);
        transpose_16_rows(d, src + r0 * src_stride + c0, src_stride, dst + c0 * dst_stride + r0, dst_stride);
      }
    }
    return;
  }
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * dst_stride + r] = src[r * src_stride + c];
}

}  // namespace lowbit::data::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "data/image_kernels.h"

namespace lowbit::data {

HWY_EXPORT(FilterRow);
HWY_EXPORT(TransposeBytes);

namespace detail {
namespace {

constexpr int64_t kC = Image::channels;

// The kernels above, on the best target of this CPU.
void filter_row(const uint8_t* src, int64_t tap_stride, const int32_t* weight, int64_t count, int64_t n, uint8_t* dst) {
  HWY_DYNAMIC_DISPATCH(FilterRow)(src, tap_stride, weight, count, n, dst);
}
void transpose_bytes(const uint8_t* src, int64_t src_stride, int64_t rows, int64_t cols, uint8_t* dst,
                     int64_t dst_stride) {
  HWY_DYNAMIC_DISPATCH(TransposeBytes)(src, src_stride, rows, cols, dst, dst_stride);
}
constexpr int kPrecisionBits = 22;  // PIL Resample.c PRECISION_BITS

// One axis of the separable resize: output i = sum over t < count[i] of weight[i * taps + t]
// * input[first[i] + t], weights in Q22 (Resample.c precompute_coeffs, normalize_coeffs_8bpc).
struct Axis {
  bool identity = false;  // same size: PIL skips the pass
  int64_t taps = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weight;
};

Axis make_axis(int64_t in_size, int64_t out_size) {
  Axis axis;
  axis.identity = in_size == out_size;
  if (axis.identity) return axis;
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);  // widen the triangle when downscaling
  const double support = 1.0 * filterscale;         // bilinear_filter's support is 1
  const double ss = 1.0 / filterscale;
  axis.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weight.assign(out_size * axis.taps, 0);
  std::vector<double> w(axis.taps);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    // (int) truncates toward zero, as PIL's cast; a negative start clips to 0 either way.
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    double sum = 0;
    for (int64_t t = 0; t < hi - lo; ++t) {
      const double x = (static_cast<double>(t + lo) - center + 0.5) * ss;
      w[t] = std::fabs(x) < 1.0 ? 1.0 - std::fabs(x) : 0.0;  // the triangle filter
      sum += w[t];
    }
    for (int64_t t = 0; t < hi - lo; ++t) {
      const double v = sum != 0.0 ? w[t] / sum : w[t];
      const double q = v * (1 << kPrecisionBits);
      axis.weight[i * axis.taps + t] = static_cast<int32_t>(v < 0 ? -0.5 + q : 0.5 + q);
    }
    axis.first[i] = lo;
    axis.count[i] = hi - lo;
  }
  return axis;
}

// The input samples [lo, hi) that outputs [begin, begin + n) of the axis read.
std::pair<int64_t, int64_t> input_span(const Axis& axis, int64_t begin, int64_t n) {
  if (axis.identity) return {begin, begin + n};
  const int64_t last = begin + n - 1;  // first[] and first[] + count[] never decrease along the axis
  return {axis.first[begin], axis.first[last] + axis.count[last]};
}

// Scratch bytes for the intermediate images of one call (every byte is written before it is
// read), in per-thread buffers kept between calls up to kKeep bytes each: a fresh 0.3 MB
// allocation per image goes back to the system when freed, and the next image pays page
// faults for it (measured: +0.04 ms per RandomResizedCrop(224)).
constexpr int64_t kKeep = int64_t{8} << 20;

struct Scratch {
  uint8_t* data = nullptr;
  std::unique_ptr<uint8_t[]> owned;  // for requests above kKeep
};

Scratch scratch(int slot, int64_t n) {
  thread_local std::unique_ptr<uint8_t[]> kept[3];
  thread_local int64_t kept_size[3] = {0, 0, 0};
  Scratch s;
  if (n > kKeep) {
    s.owned = std::make_unique_for_overwrite<uint8_t[]>(n);
    s.data = s.owned.get();
    return s;
  }
  if (kept_size[slot] < n) {
    kept[slot] = std::make_unique_for_overwrite<uint8_t[]>(n);
    kept_size[slot] = n;
  }
  s.data = kept[slot].get();
  return s;
}

}  // namespace

Image resample_window(const Image& image, const CropBox& box, int64_t out_h, int64_t out_w, const CropBox& window) {
  const Axis cols = make_axis(box.width, out_w), rows = make_axis(box.height, out_h);
  const int64_t ww = window.width, wh = window.height;
  const auto [row_lo, row_hi] = input_span(rows, window.top, wh);  // box rows the vertical pass reads
  const int64_t nr = row_hi - row_lo;
  Image out(wh, ww);

  // Horizontal pass into `mid`: rows [row_lo, row_hi) of the box resized to the window's
  // columns, PIL's intermediate image (or, when the width does not change, the box itself,
  // read in place; when the height does not change, the output).
  const uint8_t* mid = image.row(box.top + row_lo) + (box.left + window.left) * kC;
  int64_t mid_stride = image.width * kC;
  Scratch mid_rows;
  if (!cols.identity) {
    const auto [col_lo, col_hi] = input_span(cols, window.left, ww);  // box columns it reads
    const int64_t in_cols = (col_hi - col_lo) * kC;
    // t_in[(x * 3 + c) * nr + r] = pixel (row_lo + r, col_lo + x) channel c of the box.
    const Scratch t_in = scratch(0, in_cols * nr);
    transpose_bytes(image.row(box.top + row_lo) + (box.left + col_lo) * kC, image.width * kC, nr, in_cols, t_in.data,
                    nr);
    // t_out[(x * 3 + c) * nr + r]: output column window.left + x, channel c, box row row_lo + r.
    const Scratch t_out = scratch(1, ww * kC * nr);
    for (int64_t x = 0; x < ww; ++x) {
      const int64_t ox = window.left + x;
      for (int64_t c = 0; c < kC; ++c)
        filter_row(t_in.data + ((cols.first[ox] - col_lo) * kC + c) * nr, kC * nr, &cols.weight[ox * cols.taps],
                   cols.count[ox], nr, t_out.data + (x * kC + c) * nr);
    }
    uint8_t* dst = out.pixels.data();  // rows.identity: nr == wh
    if (!rows.identity) {
      mid_rows = scratch(2, nr * ww * kC);
      dst = mid_rows.data;
    }
    transpose_bytes(t_out.data, nr, ww * kC, nr, dst, ww * kC);
    if (rows.identity) return out;
    mid = dst;
    mid_stride = ww * kC;
  }
  // Vertical pass over whole rows of bytes (the channels need no telling apart).
  for (int64_t y = 0; y < wh; ++y) {
    const int64_t oy = window.top + y;
    if (rows.identity)
      std::copy_n(mid + (oy - row_lo) * mid_stride, ww * kC, out.row(y));
    else
      filter_row(mid + (rows.first[oy] - row_lo) * mid_stride, mid_stride, &rows.weight[oy * rows.taps], rows.count[oy],
                 ww * kC, out.row(y));
  }
  return out;
}

}  // namespace detail
}  // namespace lowbit::data
#endif  // HWY_ONCE
