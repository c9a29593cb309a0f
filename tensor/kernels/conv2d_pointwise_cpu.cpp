// conv2d forward for f32 1x1 convolutions with a stride and no padding: the downsample
// shortcut of every ResNet stage (1x1, stride 2). With K = C_in, M = C_out,
//   out[n, m, oy, ox] = bias[m] + sum_{k < K} W[m, k] * x[n, k, oy*stride_h, ox*stride_w]
// is a GEMM whose columns are gathered from every stride-th pixel. The im2col route of
// conv2d_cpu.cpp pays three extra passes over memory for it: the gather into a column
// buffer, OpenBLAS's copy of that buffer into its own packed panels, and a write of the
// output with the bias before the GEMM reads it back (beta = 1). With K = 64..256 those
// took a quarter of the time (0.69-0.77 of sgemm on the same GEMM). Here the gather *is*
// the packing and the bias is the accumulators' first value, so every input pixel is read
// once and every output element written once.
//
// The GEMM is blocked the usual way (Goto & van de Geijn, "Anatomy of High-Performance
// Matrix Multiplication", ACM TOMS 2008), small because K is:
//   packed x    [panels][K][NR]: a block of NC output positions (column r = image*P + pixel
//               as in conv2d_cpu.cpp) gathered for every input channel, NR = 2 vectors wide
//   micro-tile  6 x NR outputs in 12 vector registers: per k, two loads of x, six
//               broadcasts of W and twelve FMAs, k = 0, 1, ..., K-1 in order.
// A panel (K x NR floats, 4-16 KiB) stays in L1 while the micro-tile walks down all of W,
// which stays in L2 and is read in place, six rows at a time (packing it cost more than
// the whole convolution takes at batch 1 for ResNet's layer4).
//
// Determinism: work items are (block of positions, slice of the rows of W), cut from the
// shape only; every output element is bias[m] followed by K FMAs in the order of k, on
// whatever thread. Numerics: one FMA chain per element, so |cpu - ref| obeys the forward
// bound of tests/conv2d_test.cpp (2 (K + 2) u sum|terms|). Targets without FMA (SSE4) round
// the product and the sum separately, so their bits differ from AVX2's, as OpenBLAS's do
// between CPU kernels.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/conv2d_pointwise_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <hwy/cache_control.h>

#include <algorithm>
#include <cstdint>

#include "tensor/kernels/conv2d_cpu_internal.h"

// Defined once, outside the per-target namespaces (this file is compiled once per target).
#ifndef LOWBIT_CONV2D_POINTWISE_COLUMNS
#define LOWBIT_CONV2D_POINTWISE_COLUMNS
namespace lowbit::cpu {
struct Columns {       // the pixels a block of columns reads
  const float* x;      // the input, image 0 channel 0
  int64_t in_plane;    // H_in * W_in
  int64_t K;           // channels
  const int64_t* src;  // per column: offset of its pixel in channel 0
  int64_t width;       // columns
  int64_t line_step;   // columns per cache line of a channel: 16 / stride_w, at least 1
};
}  // namespace lowbit::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Each block reads every channel plane in a different place, so its pixels are cold, and
// the packing loop waited on one cache miss after another (a third of the kernel's time at
// batch 32). It prefetches kAheadChannels channels ahead: 0.84 -> 0.89-0.96 of sgemm at
// batch 32. (Prefetching the next block while computing this one, and AVX2 gathers for
// the panels that cross rows, measured no better.)
constexpr int64_t kAheadChannels = 4;

// Prefetches (into L2: locality 2) the pixels of channel k of `c`.
HWY_INLINE void prefetch_channel(const Columns& c, int64_t k) {
  const float* channel = c.x + k * c.in_plane;
  for (int64_t j = 0; j < c.width; j += c.line_step) __builtin_prefetch(channel + c.src[j], 0, 2);
  __builtin_prefetch(channel + c.src[c.width - 1], 0, 2);
}

// Columns of a panel (= of a micro-tile): two vectors.
int64_t PanelColumnsF32() { return 2 * static_cast<int64_t>(hn::Lanes(D())); }

// packed[q][k][j] = x[k * in_plane + src[q*NR + j]] for the columns of a block, zeros in
// the last panel past its width. The channel loop is outermost so that each channel's
// pixels are read in one ascending sweep. Where a panel's columns lie in one output row and
// the stride is 2, two vectors of the input row are de-interleaved into one
// (LoadInterleaved2 reads 2*NR elements from the first: the caller says in `row_ok` which
// panels may do that without reading past the input).
void PackColumnsF32(const Columns& c, const uint8_t* HWY_RESTRICT row_ok, float* HWY_RESTRICT packed) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), NR = 2 * N;
  const int64_t panels = ceil_div(c.width, NR), K = c.K;
  const int64_t* HWY_RESTRICT src = c.src;
  for (int64_t k = 0; k < K; ++k) {
    if (k + kAheadChannels < K) prefetch_channel(c, k + kAheadChannels);
    const float* HWY_RESTRICT channel = c.x + k * c.in_plane;
    for (int64_t q = 0; q < panels; ++q) {
      float* HWY_RESTRICT dst = packed + (q * K + k) * NR;
      const int64_t* HWY_RESTRICT s = src + q * NR;
      if (row_ok[q]) {
        V even0, odd0, even1, odd1;
        hn::LoadInterleaved2(d, channel + s[0], even0, odd0);
        hn::LoadInterleaved2(d, channel + s[0] + NR, even1, odd1);
        hn::StoreU(even0, d, dst);
        hn::StoreU(even1, d, dst + N);
        continue;
      }
      const int64_t n = std::min(NR, c.width - q * NR);
      for (int64_t j = 0; j < n; ++j) dst[j] = channel[s[j]];
      for (int64_t j = n; j < NR; ++j) dst[j] = 0.0f;
    }
  }
}

// c[i * ldc + j] = bias[i] + sum_k w[i][k] * b[k][j] for i < 6, j < NR: the micro-tile. The
// six rows of W are read in place (six ascending streams, rows w0..w5).
HWY_INLINE void Tile(const float* HWY_RESTRICT w0, const float* HWY_RESTRICT w1, const float* HWY_RESTRICT w2,
                     const float* HWY_RESTRICT w3, const float* HWY_RESTRICT w4, const float* HWY_RESTRICT w5,
                     const float* HWY_RESTRICT b, int64_t K, const float* HWY_RESTRICT bias, float* HWY_RESTRICT c,
                     int64_t ldc) {
  const D d;
  const size_t N = hn::Lanes(d);
  V c00 = hn::Set(d, bias[0]), c10 = hn::Set(d, bias[1]), c20 = hn::Set(d, bias[2]);
  V c30 = hn::Set(d, bias[3]), c40 = hn::Set(d, bias[4]), c50 = hn::Set(d, bias[5]);
  V c01 = c00, c11 = c10, c21 = c20, c31 = c30, c41 = c40, c51 = c50;
  for (int64_t k = 0; k < K; ++k, b += 2 * N) {
    const V b0 = hn::LoadU(d, b), b1 = hn::LoadU(d, b + N);
    V w = hn::Set(d, w0[k]);
    c00 = hn::MulAdd(w, b0, c00);
    c01 = hn::MulAdd(w, b1, c01);
    w = hn::Set(d, w1[k]);
    c10 = hn::MulAdd(w, b0, c10);
    c11 = hn::MulAdd(w, b1, c11);
    w = hn::Set(d, w2[k]);
    c20 = hn::MulAdd(w, b0, c20);
    c21 = hn::MulAdd(w, b1, c21);
    w = hn::Set(d, w3[k]);
    c30 = hn::MulAdd(w, b0, c30);
    c31 = hn::MulAdd(w, b1, c31);
    w = hn::Set(d, w4[k]);
    c40 = hn::MulAdd(w, b0, c40);
    c41 = hn::MulAdd(w, b1, c41);
    w = hn::Set(d, w5[k]);
    c50 = hn::MulAdd(w, b0, c50);
    c51 = hn::MulAdd(w, b1, c51);
  }
  hn::StoreU(c00, d, c), hn::StoreU(c01, d, c + N), c += ldc;
  hn::StoreU(c10, d, c), hn::StoreU(c11, d, c + N), c += ldc;
  hn::StoreU(c20, d, c), hn::StoreU(c21, d, c + N), c += ldc;
  hn::StoreU(c30, d, c), hn::StoreU(c31, d, c + N), c += ldc;
  hn::StoreU(c40, d, c), hn::StoreU(c41, d, c + N), c += ldc;
  hn::StoreU(c50, d, c), hn::StoreU(c51, d, c + N);
}

// The micro-tiles of one work item: every panel of a packed block against the blocks of
// six rows [mb_begin, mb_end) of W (M x K; past row M - 1, the last row again, not
// stored; `bias` is padded with zeros to whole blocks). Output column j of the block is element dst[j] of
// channel 0 (channel m is P further per m). A whole panel of consecutive elements and six
// real rows is stored in place; any other tile goes through a small buffer.
void TilesF32(const float* HWY_RESTRICT weight, const float* HWY_RESTRICT packed_x, const float* HWY_RESTRICT bias,
              int64_t M, int64_t K, int64_t mb_begin, int64_t mb_end, const int64_t* HWY_RESTRICT dst, int64_t width,
              int64_t P, float* HWY_RESTRICT out) {
  const D d;
  const int64_t NR = 2 * static_cast<int64_t>(hn::Lanes(d));
  HWY_ALIGN float buffer[6 * 2 * hn::MaxLanes(D())];
  for (int64_t j0 = 0; j0 < width; j0 += NR) {
    const float* panel = packed_x + j0 * K;
    const int64_t n = std::min(NR, width - j0);
    const bool in_place = n == NR && dst[j0 + NR - 1] - dst[j0] == NR - 1;  // columns step by >= 1
    for (int64_t mb = mb_begin; mb < mb_end; ++mb) {
      const int64_t m0 = mb * 6, rows = std::min<int64_t>(6, M - m0);
      const float* w[6];
      for (int64_t i = 0; i < 6; ++i) w[i] = weight + std::min(m0 + i, M - 1) * K;
      if (in_place && rows == 6) {
        Tile(w[0], w[1], w[2], w[3], w[4], w[5], panel, K, bias + m0, out + m0 * P + dst[j0], P);
        continue;
      }
      Tile(w[0], w[1], w[2], w[3], w[4], w[5], panel, K, bias + m0, buffer, NR);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < n; ++j) out[(m0 + i) * P + dst[j0 + j]] = buffer[i * NR + j];
    }
  }
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <vector>

namespace lowbit::cpu {

HWY_EXPORT(PanelColumnsF32);
HWY_EXPORT(PackColumnsF32);
HWY_EXPORT(TilesF32);

namespace {

constexpr int64_t kRows = 6;               // rows of W per micro-tile
constexpr int64_t kBlockBytes = 64 << 10;  // a packed block of about this size (K=64: 256 columns)...
constexpr int64_t kMaxBlockCols = 512;     // ...but at most this many columns
constexpr int64_t kMinItems = 4;           // as conv2d_cpu.cpp: 2 threads x 2
constexpr double kSplitFlops = 1 << 22;    // below ~4 MFLOP the rows of W are never cut

}  // namespace

bool pointwise_strided_eligible(const Conv2dParams& p) {
  return p.dtype == DType::f32 && p.kernel_h == 1 && p.kernel_w == 1 && p.pad_h == 0 && p.pad_w == 0 && p.groups == 1 &&
         (p.stride_h > 1 || p.stride_w > 1);
}

void pointwise_strided_forward(const Conv2dParams& p, const float* input, const float* weight, const float* bias,
                               float* output) {
  const int64_t M = p.out_channels, K = p.in_channels, W_out = p.out_w(), P = p.out_h() * W_out;
  const int64_t positions = p.batch * P, in_plane = p.in_h * p.in_w, image_in = K * in_plane;
  if (positions == 0 || M == 0) return;
  const int64_t NR = HWY_DYNAMIC_DISPATCH(PanelColumnsF32)();
  const int64_t row_blocks = ceil_div(M, kRows);

  std::vector<float> padded_bias(static_cast<size_t>(row_blocks * kRows), 0.0f);  // to whole blocks of rows
  if (bias) std::copy(bias, bias + M, padded_bias.begin());

  // Work items = (block of columns, slice of row blocks), cut from the shape. Block
  // boundaries fall on panel boundaries.
  const int64_t block_cols = std::clamp(kBlockBytes / (K * 4) / NR * NR, NR, kMaxBlockCols);
  const int64_t blocks = std::max<int64_t>(1, std::min(ceil_div(positions, block_cols), positions / NR));
  int64_t slices = 1;
  if (blocks < kMinItems && 2.0 * static_cast<double>(M * K * positions) >= kSplitFlops)
    slices = std::min(row_blocks, ceil_div(kMinItems, blocks));
  const int64_t items = blocks * slices;
  int64_t widest = 0;
  for (int64_t b = 0; b < blocks; ++b)
    widest = std::max(widest, (b + 1 == blocks ? positions : positions * (b + 1) / blocks / NR * NR) -
                                  positions * b / blocks / NR * NR);
  const int64_t panels = ceil_div(widest, NR);
  ThreadScratch<float> packed(panels * NR * K);
  ThreadScratch<int64_t> offsets(2 * panels * NR);  // src, dst per column
  ThreadScratch<uint8_t> row_ok(panels);
  const int64_t input_size = p.batch * image_in, line_step = std::max<int64_t>(1, 16 / p.stride_w);

#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t b = item / slices, s = item % slices;
    const int64_t begin = positions * b / blocks / NR * NR;
    const int64_t end = b + 1 == blocks ? positions : positions * (b + 1) / blocks / NR * NR;
    const int64_t width = end - begin;
    int64_t* src = offsets.mine();
    int64_t* dst = src + panels * NR;
    for (int64_t j = 0; j < width; ++j) {
      const int64_t r = begin + j, image = r / P, pixel = r % P, oy = pixel / W_out, ox = pixel % W_out;
      src[j] = image * image_in + oy * p.stride_h * p.in_w + ox * p.stride_w;
      dst[j] = image * M * P + pixel;
    }
    uint8_t* ok = row_ok.mine();
    for (int64_t q = 0; q * NR < width; ++q) {
      const int64_t j0 = q * NR, j1 = j0 + NR - 1;
      // A whole panel in one output row at stride 2, whose 2*NR-element read stays inside x.
      bool whole = p.stride_w == 2 && j1 < width && (K - 1) * in_plane + src[j0] + 2 * NR <= input_size;
      for (int64_t j = j0 + 1; whole && j <= j1; ++j) whole = src[j] - src[j - 1] == 2;
      ok[q] = whole;
    }
    HWY_DYNAMIC_DISPATCH(PackColumnsF32)(Columns{input, in_plane, K, src, width, line_step}, ok, packed.mine());
    HWY_DYNAMIC_DISPATCH(TilesF32)
    (weight, packed.mine(), padded_bias.data(), M, K, row_blocks * s / slices, row_blocks * (s + 1) / slices, dst,
     width, P, output);
  }
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
