// conv2d on the CPU: im2col + single-threaded OpenBLAS GEMMs on our OpenMP threads.
// Depthwise convolutions (groups == C_in == C_out) go to the direct Highway kernels of
// conv2d_depthwise_cpu.cpp, the vectorised row copies are in conv2d_rows_cpu.cpp, and
// conv2d_cpu_internal.h declares what the files share. f32 3x3 stride-1 convolutions take
// Winograd F(4x4, 3x3) for all three passes (conv2d_winograd_cpu.cpp).
//
// Lowering (group g; K = C_in/groups * kH * kW; P = H_out * W_out pixels per image). The
// columns of all images form one axis of N*P "positions", r = image*P + pixel:
//   col[K, r]   row k = (in_channel, filter_y, filter_x): col[k, r] = the input element
//               that tap k of output position r reads (0 in the padding), as in conv2d_ref.cpp
//   forward           out_g[:, r] = W_g[C_out/g, K] @ col[K, r] + bias
//   backward input    dcol[K, r] = W_g^T @ dY_g[:, r]; col2im adds dcol back onto dX
//   backward weight   dW_g = sum_r dY_g[:, r] col[:, r]^T; dbias = sum_r dY (f64, 8 partial sums)
// A 1x1 convolution with stride 1 and no padding needs no im2col: the input is col.
// Positions are processed in tiles of 512-2048 columns (tile_cols): narrower tiles make
// OpenBLAS pack W_g too often, wider ones push col out of the caches.
//
// Determinism (DESIGN.md, contract 2). OpenBLAS's own threading changes bits with the
// thread count (matmul_cpu.cpp), so every GEMM call runs single-threaded inside one of our
// work items. The work is cut by rules that read the shape only, never num_threads():
//   forward           item = (group, tile of positions), im2col'd by the item itself; a
//                     small batch of small images instead im2cols each whole image with
//                     all threads and cuts its GEMM with cpu::matmul's rule;
//   backward input    item = (chunk of whole images, group, slice of input channels); the
//                     item walks its tiles in order and col2im adds only into its own
//                     channels of its own images, so no two items touch one element;
//   backward weight   item = (group, slice of K) or, for long reductions, (group, chunk of
//                     positions); tiles accumulate in order with beta = 1, and chunk
//                     results are added in chunk order at the end.
// Every output element is therefore produced by one fixed sequence of operations, whatever
// thread runs it.
//
// Numerics: GEMMs sum in their own order with FMAs, so cpu and ref differ by rounding only;
// tests/conv2d_test.cpp states and checks the bound. Padding enters the GEMMs as zeros, so
// a non-finite weight can turn a padded tap into NaN where the reference, which skips
// padded taps, has inf: non-finite inputs are outside the bound.

#include <omp.h>

#include "tensor/kernels/blas.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "tensor/device_memory.h"
#include "tensor/kernels/conv2d.h"
#include "tensor/kernels/conv2d_cpu_internal.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/matmul.h"

namespace lowbit::cpu {

namespace {

// ---- how the work is cut (shape only, never the thread count) --------------------------

constexpr int64_t kMinItems = 4;        // work items wanted per call (2 threads x 2, for balance)
constexpr int64_t kBalancedItems = 16;  // below this many, item counts are rounded to multiples of kMinItems
constexpr double kSplitFlops = 1 << 22; // a GEMM below ~4 MFLOP is never cut for the sake of threads
constexpr int64_t kTileBytes = 2 << 20; // an im2col tile of about this size (K=4608: 2 MiB = 113 cols)...
constexpr int64_t kMinTileCols = 512;   // ...but not narrower: OpenBLAS packs W_g again for every call
constexpr int64_t kMaxTileCols = 2048;  // ...nor wider (measured: 512-2048 within noise for ResNet-18)
constexpr int64_t kAlign = 16;          // slice boundaries: whole register tiles

struct Geometry {
  int64_t in_group, out_group;  // C_in/groups, C_out/groups
  int64_t W_out, P;             // output row, P = H_out * W_out pixels per image and channel
  int64_t positions;            // N * P: the columns of all images, r = image*P + pixel
  int64_t in_plane;             // H_in * W_in
  int64_t image_in, image_out;  // elements of one image of input / output: C_in*in_plane, C_out*P
  int64_t taps;                 // kH * kW
  int64_t K;                    // in_group * taps: rows of col
  bool pointwise;               // 1x1, stride 1, no padding: col is the input itself
};

Geometry geometry(const Conv2dParams& p) {
  Geometry g;
  g.in_group = p.in_channels / p.groups;
  g.out_group = p.out_channels / p.groups;
  g.W_out = p.out_w();
  g.P = p.out_h() * g.W_out;
  g.positions = p.batch * g.P;
  g.in_plane = p.in_h * p.in_w;
  g.image_in = p.in_channels * g.in_plane;
  g.image_out = p.out_channels * g.P;
  g.taps = p.kernel_h * p.kernel_w;
  g.K = g.in_group * g.taps;
  g.pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
                p.pad_w == 0;
  return g;
}

// [begin, end) of slice i of `count` over [0, extent); inner boundaries at multiples of
// kAlign. `count` never exceeds max_slices(extent), so no slice is empty.
int64_t max_slices(int64_t extent) { return std::max<int64_t>(1, extent / kAlign); }
void slice_bounds(int64_t extent, int64_t count, int64_t i, int64_t& begin, int64_t& end) {
  begin = extent * i / count / kAlign * kAlign;
  end = i + 1 == count ? extent : extent * (i + 1) / count / kAlign * kAlign;
}
int64_t widest_slice(int64_t extent, int64_t count) {
  int64_t widest = 0, begin, end;
  for (int64_t i = 0; i < count; ++i) {
    slice_bounds(extent, count, i, begin, end);
    widest = std::max(widest, end - begin);
  }
  return widest;
}

// Columns per GEMM call when the column operand has `rows` rows: its tile near kTileBytes.
template <typename T>
int64_t tile_cols(int64_t rows) {
  const int64_t cols = kTileBytes / std::max<int64_t>(1, rows * static_cast<int64_t>(sizeof(T)));
  return std::clamp(cols / kAlign * kAlign, kMinTileCols, kMaxTileCols);
}

// `count` pieces per unit, raised (up to `limit`) so that units * count is a multiple of
// kMinItems while it is small: 2 or 4 threads then get equal shares of equal items.
int64_t balanced(int64_t units, int64_t count, int64_t limit) {
  if (units * count >= kBalancedItems) return count;
  for (int64_t c = count; c <= limit; ++c)
    if (units * c % kMinItems == 0) return c;
  return count;
}

// How many pieces each of `units` equal GEMMs is cut into so that there are kMinItems items.
int64_t wanted_pieces(int64_t units, double unit_flops, int64_t limit) {
  if (units >= kMinItems || unit_flops < kSplitFlops) return 1;
  return balanced(units, std::min(ceil_div(kMinItems, units), limit), limit);
}

// ---- im2col and col2im ------------------------------------------------------------------

// The row helpers (copy_row, copy_strided, add_strided, add_scalar) and valid_range are in
// conv2d_cpu_internal.h (the Highway kernels in conv2d_rows_cpu.cpp): depthwise shares them.

// Calls f(k, pix, n, offset, lo, hi) for every col row k in [k_begin, k_end) and every piece
// of an output row inside the pixels [p_begin, p_end) of one image: the n pixels from pix on,
// of which [lo, hi) read input element offset + (j - lo)*stride_w of the group's image
// (in_group, H_in, W_in) and the others read padding (offset is unused when lo == hi).
template <typename F>
void for_each_col_piece(const Conv2dParams& p, const Geometry& g, int64_t k_begin, int64_t k_end, int64_t p_begin,
                        int64_t p_end, F&& f) {
  const int64_t y_begin = p_begin / g.W_out, y_end = (p_end - 1) / g.W_out + 1;  // output rows touched
  // k = (in_channel, filter_y, filter_x), stepped without divisions.
  int64_t in_channel = k_begin / g.taps, filter_y = k_begin % g.taps / p.kernel_w, filter_x = k_begin % p.kernel_w;
  for (int64_t k = k_begin; k < k_end; ++k) {
    const int64_t x_first = filter_x * p.dilation_w - p.pad_w;  // input column of out_x = 0
    int64_t row_lo, row_hi;                                      // the same for every whole row
    valid_range(x_first, p.stride_w, p.in_w, g.W_out, row_lo, row_hi);
    for (int64_t out_y = y_begin; out_y < y_end; ++out_y) {
      const int64_t pix = std::max(p_begin, out_y * g.W_out), n = std::min(p_end, (out_y + 1) * g.W_out) - pix;
      const int64_t in_y = out_y * p.stride_h - p.pad_h + filter_y * p.dilation_h;
      const int64_t x0 = x_first + (pix - out_y * g.W_out) * p.stride_w;
      int64_t lo = 0, hi = 0;
      if (in_y >= 0 && in_y < p.in_h) {
        if (n == g.W_out) {
          lo = row_lo;
          hi = row_hi;
        } else {
          valid_range(x0, p.stride_w, p.in_w, n, lo, hi);
        }
      }
      f(k, pix, n, (in_channel * p.in_h + in_y) * p.in_w + x0 + lo * p.stride_w, lo, hi);
    }
    if (++filter_x == p.kernel_w) {
      filter_x = 0;
      if (++filter_y == p.kernel_h) {
        filter_y = 0;
        ++in_channel;
      }
    }
  }
}

// col[k - k_begin, pix - p_begin] (leading dim ld) for k in [k_begin, k_end) and pixels
// [p_begin, p_end) of one image, from the group's image `in` (in_group, H_in, W_in).
template <typename T>
void im2col(const Conv2dParams& p, const Geometry& g, const T* in, int64_t k_begin, int64_t k_end, int64_t p_begin,
            int64_t p_end, T* col, int64_t ld) {
  const int64_t sw = p.stride_w;
  for_each_col_piece(p, g, k_begin, k_end, p_begin, p_end,
                     [&](int64_t k, int64_t pix, int64_t n, int64_t offset, int64_t lo, int64_t hi) {
                       T* dst = col + (k - k_begin) * ld + (pix - p_begin);
                       for (int64_t j = 0; j < lo; ++j) dst[j] = T(0);
                       if (lo < hi && sw == 1) copy_row(dst + lo, in + offset, hi - lo);
                       if (lo < hi && sw > 1) copy_strided(dst + lo, in + offset, hi - lo, sw);
                       for (int64_t j = hi; j < n; ++j) dst[j] = T(0);
                     });
}

// The adjoint of im2col: grad_in[...] += dcol[k - k_begin, pix - p_begin] for every tap that
// reads the input (not the padding), in (k, pix) order; grad_in is the group's image.
template <typename T>
void col2im_add(const Conv2dParams& p, const Geometry& g, const T* dcol, int64_t ld, int64_t k_begin, int64_t k_end,
                int64_t p_begin, int64_t p_end, T* grad_in) {
  const int64_t sw = p.stride_w;
  for_each_col_piece(p, g, k_begin, k_end, p_begin, p_end,
                     [&](int64_t k, int64_t pix, int64_t, int64_t offset, int64_t lo, int64_t hi) {
                       const T* src = dcol + (k - k_begin) * ld + (pix - p_begin) + lo;
                       if (lo < hi) add_strided(grad_in + offset, src, hi - lo, sw);
                     });
}

// Calls f(image, p_begin, p_end, j) for the pieces of the positions [r_begin, r_end) that lie
// in one image each: pixels [p_begin, p_end) of `image` are columns j.. of the tile.
template <typename F>
void for_each_image_piece(const Geometry& g, int64_t r_begin, int64_t r_end, F&& f) {
  for (int64_t r = r_begin; r < r_end;) {
    const int64_t image = r / g.P, p_begin = r % g.P, p_end = std::min(g.P, p_begin + (r_end - r));
    f(image, p_begin, p_end, r - r_begin);
    r += p_end - p_begin;
  }
}

// ---- single-threaded BLAS and scratch memory ---------------------------------------------

// C = op(A) @ op(B) + beta * C, row-major, m x n x k, on the calling thread only.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const auto bm = static_cast<blasint>(m), bn = static_cast<blasint>(n), bk = static_cast<blasint>(k);
  if constexpr (std::is_same_v<T, float>) {
    blas::sgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0f, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
  } else {
    blas::dgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
  }
}

// ThreadScratch (one scratch buffer per thread) is in conv2d_cpu_internal.h.

// ---- forward ----------------------------------------------------------------------------

// Few output positions (a small batch of small images): one GEMM per (image, group) over
// the whole image, im2col'd by all threads, the GEMMs cut by cpu::matmul's shape rule.
// Cutting col into tiles here would leave too few columns per call.
template <typename T>
void forward_whole_images(const Conv2dParams& p, const Geometry& g, const T* input, const T* weight, const T* bias,
                          T* output) {
  T* col = nullptr;
  const size_t col_bytes = g.pointwise ? 0 : static_cast<size_t>(p.groups * g.K * g.P) * sizeof(T);
  if (col_bytes) col = static_cast<T*>(cpu_alloc(col_bytes));
  const int64_t rows = p.groups * g.in_group;  // (group, in_channel): kH*kW rows of col each
  for (int64_t image = 0; image < p.batch; ++image) {
    const T* in = input + image * g.image_in;  // (C_in, H_in, W_in)
    T* out = output + image * g.image_out;      // (C_out, P)
    if (col) {
#pragma omp parallel for schedule(static)
      for (int64_t row = 0; row < rows; ++row) {
        const int64_t group = row / g.in_group, in_channel = row % g.in_group;
        im2col(p, g, in + group * g.in_group * g.in_plane, in_channel * g.taps, (in_channel + 1) * g.taps, 0, g.P,
               col + group * g.K * g.P + in_channel * g.taps * g.P, g.P);
      }
    }
    MatmulParams mp;  // per group: out_g (out_group, P) = W_g (out_group, K) @ col_g (K, P)
    mp.dtype = p.dtype;
    mp.batch = p.groups;
    mp.m = g.out_group;
    mp.n = g.P;
    mp.k = g.K;
    mp.lda = g.K;
    mp.ldb = g.P;
    mp.ldc = g.P;
    mp.batch_stride_a = g.out_group * g.K;
    mp.batch_stride_b = g.K * g.P;  // in_group * in_plane when the input is col
    mp.batch_stride_c = g.out_group * g.P;
    matmul(mp, weight, col ? col : in, out);
    if (bias) {
#pragma omp parallel for schedule(static)
      for (int64_t oc = 0; oc < p.out_channels; ++oc) add_scalar(out + oc * g.P, g.P, bias[oc]);
    }
  }
  if (col) cpu_free(col, col_bytes);
}

// item = (group, tile of positions): out_g[:, tile] = W_g @ col[:, tile], im2col'd by the
// item itself. A tile inside one image is written in place (bias first, then beta = 1); a
// tile across images goes through a buffer and is scattered to the images.
template <typename T>
void forward_typed(const Conv2dParams& p, const T* input, const T* weight, const T* bias, T* output) {
  const Geometry g = geometry(p);
  if (g.positions == 0 || g.out_group == 0) return;
  if (is_depthwise(p)) return depthwise_forward(p, input, weight, bias, output);
  if constexpr (std::is_same_v<T, float>)
    if (winograd_eligible(p)) return winograd_forward(p, input, weight, bias, output, false);
  if constexpr (std::is_same_v<T, float>)
    if (pointwise_strided_eligible(p)) return pointwise_strided_forward(p, input, weight, bias, output);
  const double gemm_flops = 2.0 * static_cast<double>(g.out_group) * static_cast<double>(g.positions) *
                            static_cast<double>(g.K);
  int64_t tiles = std::min(ceil_div(g.positions, tile_cols<T>(g.K)), max_slices(g.positions));
  // Whole images only when kMinItems tiles would be narrower than one image (a batch of 1
  // or 2): a batch of 32 7x7 images (P = 49) as 32 GEMMs of 49 columns ran at 0.15x of sgemm.
  if (p.groups * tiles < kMinItems && gemm_flops >= kSplitFlops && g.K > 0 && g.positions / kMinItems < g.P)
    return forward_whole_images(p, g, input, weight, bias, output);
  tiles = balanced(p.groups, tiles, max_slices(g.positions));
  const int64_t items = p.groups * tiles, widest = widest_slice(g.positions, tiles);
  ThreadScratch<T> scratch((g.K + g.out_group) * widest);  // col (K, width), spanning tiles' out (out_group, width)
#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    omp_set_num_threads(1);  // OpenBLAS runs single-threaded in this task (see matmul_cpu.cpp)
    const int64_t group = item / tiles;
    int64_t r_begin, r_end;
    slice_bounds(g.positions, tiles, item % tiles, r_begin, r_end);
    const int64_t width = r_end - r_begin, image = r_begin / g.P, pixel = r_begin % g.P;
    const bool one_image = (r_end - 1) / g.P == image;
    const T* in = input + group * g.in_group * g.in_plane;  // the group's channels of image 0
    const T* col = in + image * g.image_in + pixel;         // (K, width), leading dim ld
    int64_t ld = g.P;
    if (!(g.pointwise && one_image)) {
      T* buffer = scratch.mine();
      for_each_image_piece(g, r_begin, r_end, [&](int64_t n, int64_t p_begin, int64_t p_end, int64_t j) {
        im2col(p, g, in + n * g.image_in, 0, g.K, p_begin, p_end, buffer + j, width);
      });
      col = buffer;
      ld = width;
    }
    const T* w = weight + group * g.out_group * g.K;                         // (out_group, K)
    T* out = output + group * g.out_group * g.P;                             // the group's channels of image 0
    if (one_image) {
      T* c = out + image * g.image_out + pixel;  // (out_group, width), leading dim P
      if (bias)
        for (int64_t m = 0; m < g.out_group; ++m)
          std::fill(c + m * g.P, c + m * g.P + width, bias[group * g.out_group + m]);
      if (g.K > 0) gemm<T>(false, false, g.out_group, width, g.K, w, g.K, col, ld, T(bias ? 1 : 0), c, g.P);
      if (g.K == 0 && !bias)
        for (int64_t m = 0; m < g.out_group; ++m) std::fill(c + m * g.P, c + m * g.P + width, T(0));
    } else {
      T* c = scratch.mine() + g.K * widest;  // (out_group, width)
      if (g.K > 0) {
        gemm<T>(false, false, g.out_group, width, g.K, w, g.K, col, ld, T(0), c, width);
      } else {
        std::fill(c, c + g.out_group * width, T(0));
      }
      for_each_image_piece(g, r_begin, r_end, [&](int64_t n, int64_t p_begin, int64_t p_end, int64_t j) {
        for (int64_t m = 0; m < g.out_group; ++m) {
          const T b = bias ? bias[group * g.out_group + m] : T(0);
          T* dst = out + n * g.image_out + m * g.P;
          for (int64_t i = p_begin; i < p_end; ++i) dst[i] = c[m * width + j + (i - p_begin)] + b;
        }
      });
    }
  }
}

// ---- backward input ---------------------------------------------------------------------

// item = (chunk of whole images, group, slice of the group's input channels). The item
// zeroes its part of dX, then walks the chunk's positions in tiles, in order:
//   dcol[rows, tile] = W_g[:, rows]^T @ dY_g[:, tile],  rows = (channel, filter_y, filter_x)
// and col2im adds dcol into its own channels of its own images. No other item touches
// those elements, and the order of the additions is fixed by the shape.
template <typename T>
void backward_input_typed(const Conv2dParams& p, const T* grad_output, const T* weight, T* grad_input) {
  const Geometry g = geometry(p);
  if (p.batch == 0 || g.in_group == 0) return;
  if (is_depthwise(p)) return depthwise_backward_input(p, grad_output, weight, grad_input);
  if constexpr (std::is_same_v<T, float>) {
    // With stride 1, dX is the convolution of dY (padding 2 - pad) with the filters rotated
    // by 180 degrees and the channel axes swapped: same shapes as the forward of Winograd.
    Conv2dParams q = p;
    q.in_channels = p.out_channels;
    q.out_channels = p.in_channels;
    q.in_h = p.out_h();
    q.in_w = p.out_w();
    q.pad_h = 2 - p.pad_h;
    q.pad_w = 2 - p.pad_w;
    if (p.kernel_h == 3 && p.pad_h <= 2 && p.pad_w <= 2 && winograd_eligible(q) && q.out_h() == p.in_h &&
        q.out_w() == p.in_w)
      return winograd_forward(q, grad_output, weight, nullptr, grad_input, true);
  }
  const int64_t cols = tile_cols<T>(g.K);
  const int64_t chunks = ceil_div(p.batch, std::max<int64_t>(1, cols / g.P));  // images [N*c/chunks, N*(c+1)/chunks)
  const double chunk_flops = 2.0 * static_cast<double>(g.out_group) * static_cast<double>(g.K) *
                             static_cast<double>(g.P) * static_cast<double>(p.batch / chunks);
  const int64_t slices = wanted_pieces(chunks * p.groups, chunk_flops, g.in_group);
  const int64_t items = chunks * p.groups * slices;
  auto chunk_images = [&](int64_t chunk, int64_t& first, int64_t& last) {
    first = p.batch * chunk / chunks;
    last = p.batch * (chunk + 1) / chunks;
  };
  int64_t widest = 0;  // the widest tile of any chunk
  for (int64_t chunk = 0, first, last; chunk < chunks; ++chunk) {
    chunk_images(chunk, first, last);
    const int64_t extent = (last - first) * g.P;
    widest = std::max(widest, widest_slice(extent, std::min(ceil_div(extent, cols), max_slices(extent))));
  }
  const int64_t max_rows = ceil_div(g.in_group, slices) * g.taps;
  ThreadScratch<T> scratch((g.out_group + max_rows) * widest);  // dY tile (out_group, width), dcol (rows, width)
#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    omp_set_num_threads(1);
    const int64_t slice = item % slices, group = item / slices % p.groups, chunk = item / (slices * p.groups);
    int64_t first, last;
    chunk_images(chunk, first, last);
    const int64_t c_begin = g.in_group * slice / slices, c_end = g.in_group * (slice + 1) / slices;
    const int64_t rows = (c_end - c_begin) * g.taps;
    T* grad_in = grad_input + (group * g.in_group) * g.in_plane;  // the group's channels of image 0
    const T* dy = grad_output + group * g.out_group * g.P;         // the group's channels of image 0
    const T* w = weight + group * g.out_group * g.K + c_begin * g.taps;  // W_g[:, rows], leading dim K
    const bool in_place = g.pointwise && last - first == 1;  // every tile writes its dX directly (below)
    for (int64_t n = first; n < last && !in_place; ++n)
      std::fill(grad_in + n * g.image_in + c_begin * g.in_plane, grad_in + n * g.image_in + c_end * g.in_plane, T(0));
    const int64_t extent = (last - first) * g.P, tiles = std::min(ceil_div(extent, cols), max_slices(extent));
    T* dy_tile = scratch.mine();              // (out_group, width)
    T* dcol = dy_tile + g.out_group * widest;  // (rows, width)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      int64_t r_begin, r_end;
      slice_bounds(extent, tiles, tile, r_begin, r_end);
      r_begin += first * g.P;
      r_end += first * g.P;
      const int64_t width = r_end - r_begin, image = r_begin / g.P, pixel = r_begin % g.P;
      const bool one_image = (r_end - 1) / g.P == image;
      const T* b = dy + image * g.image_out + pixel;  // dY_g[:, tile], leading dim ld
      int64_t ld = g.P;
      if (!one_image) {
        for_each_image_piece(g, r_begin, r_end, [&](int64_t n, int64_t p_begin, int64_t p_end, int64_t j) {
          for (int64_t m = 0; m < g.out_group; ++m)
            std::copy(dy + n * g.image_out + m * g.P + p_begin, dy + n * g.image_out + m * g.P + p_end,
                      dy_tile + m * width + j);
        });
        b = dy_tile;
        ld = width;
      }
      if (g.pointwise && one_image) {  // dcol is dX itself: write it in place
        T* c = grad_in + image * g.image_in + c_begin * g.in_plane + pixel;
        gemm<T>(true, false, rows, width, g.out_group, w, g.K, b, ld, T(0), c, g.in_plane);
        continue;
      }
      gemm<T>(true, false, rows, width, g.out_group, w, g.K, b, ld, T(0), dcol, width);
      for_each_image_piece(g, r_begin, r_end, [&](int64_t n, int64_t p_begin, int64_t p_end, int64_t j) {
        col2im_add(p, g, dcol + j, width, c_begin * g.taps, c_end * g.taps, p_begin, p_end, grad_in + n * g.image_in);
      });
    }
  }
}

// ---- backward weight --------------------------------------------------------------------

// item = (group, slice of the K columns of dW_g, chunk of the positions). The item walks its
// chunk in tiles, in order, accumulating dW_g[:, slice] (+)= dY_g[:, tile] @ col[slice, tile]^T
// with beta = 1 after the first tile. With several chunks (many positions, few groups),
// chunk c > 0 sums into its own buffer and the buffers are added to chunk 0's result in
// chunk order at the end. Either way the sum over images has one order for any thread count.
template <typename T>
void backward_weight_typed(const Conv2dParams& p, const T* input, const T* grad_output, T* grad_weight,
                           T* grad_bias) {
  const Geometry g = geometry(p);
  if (grad_bias) {
#pragma omp parallel for schedule(static) if (p.out_channels > 1)
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      double acc[8] = {};  // f64, 8 interleaved sums (a single chain would wait on every add)
      for (int64_t image = 0; image < p.batch; ++image) {
        const T* dy = grad_output + image * g.image_out + oc * g.P;
        for (int64_t i = 0; i < g.P; ++i) acc[i % 8] += static_cast<double>(dy[i]);
      }
      grad_bias[oc] = static_cast<T>(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }
  }
  const int64_t weights = p.out_channels * g.K;
  if (weights == 0) return;
  if (g.positions == 0) {
    std::fill(grad_weight, grad_weight + weights, T(0));
    return;
  }
  if (is_depthwise(p)) return depthwise_backward_weight(p, input, grad_output, grad_weight);
  if constexpr (std::is_same_v<T, float>)
    if (winograd_eligible(p)) return winograd_backward_weight(p, input, grad_output, grad_weight);
  // Slices of K make narrow GEMMs; chunks of positions cost one extra pass over dW each,
  // which is cheap when every chunk is long.
  const double group_flops = 2.0 * static_cast<double>(g.out_group) * static_cast<double>(g.positions) *
                             static_cast<double>(g.K);
  const int64_t pieces = wanted_pieces(p.groups, group_flops, max_slices(g.K));
  const bool by_positions = pieces > 1 && g.positions / pieces >= kMinTileCols;
  const int64_t k_slices = by_positions ? 1 : pieces, chunks = by_positions ? pieces : 1;
  const int64_t items = p.groups * k_slices * chunks, k_widest = widest_slice(g.K, k_slices);
  const int64_t cols = tile_cols<T>(k_widest);
  auto chunk_tiles = [&](int64_t extent) { return std::min(ceil_div(extent, cols), max_slices(extent)); };
  int64_t widest = 0;  // the widest tile of any chunk
  for (int64_t chunk = 0, begin, end; chunk < chunks; ++chunk) {
    slice_bounds(g.positions, chunks, chunk, begin, end);
    widest = std::max(widest, widest_slice(end - begin, chunk_tiles(end - begin)));
  }
  std::vector<T> partial(static_cast<size_t>((chunks - 1) * weights));  // chunks 1.. (dW-shaped each)
  ThreadScratch<T> scratch((g.out_group + k_widest) * widest);  // dY tile (out_group, width), col (k, width)
#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    omp_set_num_threads(1);
    const int64_t chunk = item % chunks, k_slice = item / chunks % k_slices, group = item / (chunks * k_slices);
    int64_t k_begin, k_end, c_begin, c_end;
    slice_bounds(g.K, k_slices, k_slice, k_begin, k_end);
    slice_bounds(g.positions, chunks, chunk, c_begin, c_end);
    const T* in = input + group * g.in_group * g.in_plane;  // the group's channels of image 0
    const T* dy = grad_output + group * g.out_group * g.P;  // the group's channels of image 0
    T* dy_tile = scratch.mine();                            // (out_group, width)
    T* col = dy_tile + g.out_group * widest;                // (k_end - k_begin, width)
    T* dw = (chunk == 0 ? grad_weight : partial.data() + (chunk - 1) * weights) + group * g.out_group * g.K + k_begin;
    const int64_t tiles = chunk_tiles(c_end - c_begin);
    for (int64_t tile = 0; tile < tiles; ++tile) {
      int64_t r_begin, r_end;
      slice_bounds(c_end - c_begin, tiles, tile, r_begin, r_end);
      r_begin += c_begin;
      r_end += c_begin;
      const int64_t width = r_end - r_begin, image = r_begin / g.P, pixel = r_begin % g.P;
      const bool one_image = (r_end - 1) / g.P == image;
      const T* a = one_image ? dy + image * g.image_out + pixel : dy_tile;  // dY_g[:, tile], leading dim lda
      const int64_t lda = one_image ? g.P : width;
      for_each_image_piece(g, r_begin, r_end, [&](int64_t n, int64_t p_begin, int64_t p_end, int64_t j) {
        if (!one_image)
          for (int64_t m = 0; m < g.out_group; ++m)
            std::copy(dy + n * g.image_out + m * g.P + p_begin, dy + n * g.image_out + m * g.P + p_end,
                      dy_tile + m * width + j);
        im2col(p, g, in + n * g.image_in, k_begin, k_end, p_begin, p_end, col + j, width);
      });
      // dW_g[:, k_begin:k_end] (+)= dY_tile (out_group, width) @ col (k, width)^T
      gemm<T>(false, true, g.out_group, k_end - k_begin, width, a, lda, col, width, T(tile == 0 ? 0 : 1), dw, g.K);
    }
  }
  if (chunks > 1) {
    const int64_t blocks = ceil_div(weights, 4096);
#pragma omp parallel for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t begin = block * 4096, n = std::min<int64_t>(4096, weights - begin);
      for (int64_t chunk = 1; chunk < chunks; ++chunk)
        add_strided(grad_weight + begin, partial.data() + (chunk - 1) * weights + begin, n, 1);
    }
  }
}

// OpenBLAS as packaged by Debian takes 32-bit sizes and leading dimensions.
void check_blas_range(const Conv2dParams& p) {
  const Geometry g = geometry(p);
  for (int64_t v : {g.K, g.P, g.in_plane, g.out_group})
    LOWBIT_CHECK(v <= INT_MAX, "conv2d: GEMM size ", v, " exceeds the 32-bit range of OpenBLAS (K=", g.K,
                 " H_out*W_out=", g.P, ")");
}

}  // namespace

void conv2d_forward(const Conv2dParams& p, const void* input, const void* weight, const void* bias, void* output) {
  check_blas_range(p);
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    forward_typed(p, static_cast<const T*>(input), static_cast<const T*>(weight), static_cast<const T*>(bias),
                  static_cast<T*>(output));
  });
}

void conv2d_backward_input(const Conv2dParams& p, const void* grad_output, const void* weight, void* grad_input) {
  check_blas_range(p);
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_input_typed(p, static_cast<const T*>(grad_output), static_cast<const T*>(weight),
                         static_cast<T*>(grad_input));
  });
}

void conv2d_backward_weight(const Conv2dParams& p, const void* input, const void* grad_output, void* grad_weight,
                            void* grad_bias) {
  check_blas_range(p);
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_weight_typed(p, static_cast<const T*>(input), static_cast<const T*>(grad_output),
                          static_cast<T*>(grad_weight), static_cast<T*>(grad_bias));
  });
}

}  // namespace lowbit::cpu
