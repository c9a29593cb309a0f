// conv2d by Winograd's minimal filtering algorithm F(4x4, 3x3) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016), for the f32 3x3 stride-1
// convolutions that make up most of a ResNet: the forward pass; the backward-input pass,
// which is itself such a convolution (of dY with the filters flipped and the two channel
// axes swapped, padding 2 - pad); and the backward-weight pass through the adjoint
// transforms (winograd_backward_weight).
//
// The output is cut into 4x4 tiles; tile (ty, tx) reads the 6x6 input patch d whose corner
// is input (4ty - pad, 4tx - pad) (patches overlap by 2; outside the input they read 0).
// With g one 3x3 filter,
//   out tile = A^T [ (G g G^T) ⊙ (B^T d B) ] A                   (⊙: elementwise, 6x6)
// and, summed over input channels, the 36 positions xi of the 6x6 product become 36
// independent GEMMs over the T tiles of a chunk of images:
//   U[xi] (C_out, C_in) = (G g G^T)[xi] for every filter    (transform_weights)
//   V[xi] (C_in, T)     = (B^T d B)[xi] for every patch     (transform_input)
//   M[xi] (C_out, T)    = U[xi] @ V[xi]                     (OpenBLAS, single-threaded)
//   out                 = A^T M A (+ bias)                  (transform_output)
// 36 multiplications per 16 outputs and channel pair instead of 9 * 16 = 144: the GEMMs do
// 4x fewer flops than im2col's; the transforms are additions, memory-bound. Matrices for the
// interpolation points 0, 1, -1, 2, -2, infinity:
//   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0     0]   A^T = [1 1  1 1  1 0]
//         [0 -4 -4  1 1 0]       [-1/6  -1/6  -1/6]         [0 1 -1 2 -2 0]
//         [0  4 -4 -1 1 0]       [-1/6   1/6  -1/6]         [0 1  1 4  4 0]
//         [0 -2 -1  2 1 0]       [1/24  1/12   1/6]         [0 1 -1 8 -8 1]
//         [0  2 -1 -2 1 0]       [1/24 -1/12   1/6]
//         [0  4  0 -5 0 1]       [   0     0     1]
// G is applied as diag(1/4, -1/6, -1/6, 1/24, 1/24, 1) times a matrix of small integers, so
// U = s_r s_q (G' g G'^T)[r][q] rounds once per addition and once for the scale.
//
// Numerics: more roundings than a direct sum and larger intermediate terms (the entries of
// A and B reach 8 and 5), so the error bound is in terms of the same algorithm evaluated on
// absolute values; tests/conv2d_winograd_test.cpp states it and checks it against the f64
// reference. Transforms use separate multiplies and adds (no FMA), so their bits do not
// depend on the SIMD target; the GEMMs are OpenBLAS's.
//
// Determinism: chunks of images are chosen from the shape; inside a chunk the transforms
// are cut by channel (or by (image, channel)) and the GEMMs by xi, and the weight gradient
// adds the chunks in order, so each element is produced by one fixed sequence of
// operations, whatever thread runs it.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/conv2d_winograd_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// The first n lanes of a vector from / to memory, touching no element past them: Highway's
// masked loads and stores are emulated by full-width accesses on some targets, which could
// read past the end of a buffer or race with the thread that owns the next elements.
HWY_INLINE V load_first(const float* HWY_RESTRICT p, int64_t n) {
  const D d;
  if (n >= static_cast<int64_t>(hn::Lanes(d))) return hn::LoadU(d, p);
  HWY_ALIGN float buffer[hn::MaxLanes(D())] = {};
  std::copy(p, p + n, buffer);
  return hn::Load(d, buffer);
}
HWY_INLINE void store_first(V v, float* HWY_RESTRICT p, int64_t n) {
  const D d;
  if (n >= static_cast<int64_t>(hn::Lanes(d))) return hn::StoreU(v, d, p);
  HWY_ALIGN float buffer[hn::MaxLanes(D())];
  hn::Store(v, d, buffer);
  std::copy(buffer, buffer + n, p);
}

// o = B^T z for a column z of six vectors.
HWY_INLINE void apply_bt(const V z[6], V o[6]) {
  const D d;
  const V two = hn::Set(d, 2.0f), four = hn::Set(d, 4.0f), five = hn::Set(d, 5.0f);
  o[0] = hn::Sub(hn::Add(hn::Mul(four, z[0]), z[4]), hn::Mul(five, z[2]));
  o[1] = hn::Sub(hn::Add(z[3], z[4]), hn::Mul(four, hn::Add(z[1], z[2])));
  o[2] = hn::Add(hn::Sub(z[4], z[3]), hn::Mul(four, hn::Sub(z[1], z[2])));
  o[3] = hn::Add(hn::Sub(z[4], z[2]), hn::Mul(two, hn::Sub(z[3], z[1])));
  o[4] = hn::Sub(hn::Sub(z[4], z[2]), hn::Mul(two, hn::Sub(z[3], z[1])));
  o[5] = hn::Sub(hn::Add(hn::Mul(four, z[1]), z[5]), hn::Mul(five, z[3]));
}

// o = A^T m for a column m of six vectors.
HWY_INLINE void apply_at(const V m[6], V o[4]) {
  const D d;
  const V s12 = hn::Add(m[1], m[2]), d12 = hn::Sub(m[1], m[2]);
  const V s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
  o[0] = hn::Add(hn::Add(m[0], s12), s34);
  o[1] = hn::Add(d12, hn::Mul(hn::Set(d, 2.0f), d34));
  o[2] = hn::Add(s12, hn::Mul(hn::Set(d, 4.0f), s34));
  o[3] = hn::Add(hn::Add(d12, hn::Mul(hn::Set(d, 8.0f), d34)), m[5]);
}

// o = G' z: the integer part of G applied to a column z of three vectors.
HWY_INLINE void apply_g(const V z[3], V o[6]) {
  const D d;
  const V two = hn::Set(d, 2.0f), four = hn::Set(d, 4.0f);
  const V ac = hn::Add(z[0], z[2]), a4c = hn::Add(z[0], hn::Mul(four, z[2])), b2 = hn::Mul(two, z[1]);
  o[0] = z[0];
  o[1] = hn::Add(ac, z[1]);
  o[2] = hn::Sub(ac, z[1]);
  o[3] = hn::Add(a4c, b2);
  o[4] = hn::Sub(a4c, b2);
  o[5] = z[2];
}

// o = A z for a column z of four vectors (the adjoint of apply_at).
HWY_INLINE void apply_a(const V z[4], V o[6]) {
  const D d;
  const V even = hn::Add(z[0], z[2]), odd = hn::Add(z[1], z[3]);
  const V even4 = hn::Add(z[0], hn::Mul(hn::Set(d, 4.0f), z[2]));
  const V odd8 = hn::Add(hn::Mul(hn::Set(d, 2.0f), z[1]), hn::Mul(hn::Set(d, 8.0f), z[3]));
  o[0] = z[0];
  o[1] = hn::Add(even, odd);
  o[2] = hn::Sub(even, odd);
  o[3] = hn::Add(even4, odd8);
  o[4] = hn::Sub(even4, odd8);
  o[5] = z[3];
}

// o = G'^T z for a column z of six vectors (the adjoint of apply_g).
HWY_INLINE void apply_gt(const V z[6], V o[3]) {
  const D d;
  const V s12 = hn::Add(z[1], z[2]), d12 = hn::Sub(z[1], z[2]);
  const V s34 = hn::Add(z[3], z[4]), d34 = hn::Sub(z[3], z[4]);
  o[0] = hn::Add(hn::Add(z[0], s12), s34);
  o[1] = hn::Add(d12, hn::Mul(hn::Set(d, 2.0f), d34));
  o[2] = hn::Add(hn::Add(s12, hn::Mul(hn::Set(d, 4.0f), s34)), z[5]);
}

constexpr double kScale[6] = {1.0 / 4, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 1.0};  // G = diag(kScale) G'

// U[xi][k][c0 .. c0+n) from taps[(i*3 + j) * ld + c] = g[k][c][i][j] (n <= lanes).
void TransformWeightsF32(const float* HWY_RESTRICT taps, int64_t ld, int64_t n, float* HWY_RESTRICT u,
                         int64_t xi_stride) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t c = 0; c < n; c += N) {
    V t[6][3];  // t = G' g, column by column
    for (int64_t j = 0; j < 3; ++j) {
      V col[3], out[6];
      for (int64_t i = 0; i < 3; ++i) col[i] = load_first(taps + (i * 3 + j) * ld + c, n - c);
      apply_g(col, out);
      for (int64_t r = 0; r < 6; ++r) t[r][j] = out[r];
    }
    for (int64_t r = 0; r < 6; ++r) {  // row r of t G'^T, scaled by s_r s_q
      V out[6];
      apply_g(t[r], out);
      for (int64_t q = 0; q < 6; ++q) {
        const V scaled = hn::Mul(out[q], hn::Set(d, static_cast<float>(kScale[r] * kScale[q])));
        store_first(scaled, u + (r * 6 + q) * xi_stride + c, n - c);
      }
    }
  }
}

// Both transforms walk the tiles of one channel of a chunk of images in rows of tw tiles,
// one lane per tile, whole vectors at a time. A vector that runs past the end of a tile row
// computes and stores tiles of the following rows too; those, processed next, overwrite
// them. Only the chunk's last vector is stored partially (it would run into memory another
// thread owns), and reads may run up to a vector past the last tile (the caller leaves room).

// V[xi][tile] for the tiles of one channel of `images` images: plane i (H, W) at planes + i *
// plane_stride, its tile (ty, tx) written to v[xi * xi_stride + (i * th + ty) * tw + tx].
// `padded` is scratch of (4 * th + 2) * row_len floats, row_len >= 4 * (tw rounded up to
// lanes) + 8. It is zeroed once per call: every image then overwrites the same interior, so
// the padding stays zero (zeroing it per image cost more than copying the image in).
void TransformInputF32(const float* HWY_RESTRICT planes, int64_t plane_stride, int64_t images, int64_t H, int64_t W,
                       int64_t pad, int64_t th, int64_t tw, float* HWY_RESTRICT padded, int64_t row_len,
                       float* HWY_RESTRICT v, int64_t xi_stride) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), tiles = th * tw, padded_rows = 4 * th + 2;
  std::fill(padded, padded + padded_rows * row_len, 0.0f);
  for (int64_t image = 0; image < images; ++image) {
    // padded[y'][x'] = plane[y' - pad][x' - pad], zero outside the plane.
    const float* plane = planes + image * plane_stride;
    for (int64_t y = 0; y < H && y + pad < padded_rows; ++y)
      std::copy(plane + y * W, plane + (y + 1) * W, padded + (y + pad) * row_len + pad);
    for (int64_t ty = 0; ty < th; ++ty) {
      for (int64_t tx = 0; tx < tw; tx += N) {
        V r[6][6];  // r[i] = B^T applied along x to row i of the patches (lane l: tile tx + l)
        for (int64_t i = 0; i < 6; ++i) {
          V z[6], unused0, unused1;
          const float* row = padded + (4 * ty + i) * row_len + 4 * tx;  // lane l: patch column j is row[4l + j]
          hn::LoadInterleaved4(d, row, z[0], z[1], z[2], z[3]);
          hn::LoadInterleaved4(d, row + 4, z[4], z[5], unused0, unused1);
          apply_bt(z, r[i]);
        }
        const int64_t first = image * tiles + ty * tw + tx, n = images * tiles - first;  // lanes that are tiles
        float* out = v + first;
        for (int64_t q = 0; q < 6; ++q) {  // then along y, column q
          V z[6], o[6];
          for (int64_t i = 0; i < 6; ++i) z[i] = r[i][q];
          apply_bt(z, o);
          for (int64_t p = 0; p < 6; ++p) {
            if (n >= N) {
              hn::StoreU(o[p], d, out + (p * 6 + q) * xi_stride);
            } else {
              store_first(o[p], out + (p * 6 + q) * xi_stride, n);
            }
          }
        }
      }
    }
  }
}

// out (H_out, W_out) of one output channel of one image from M[xi][tile] = m[xi * xi_stride
// + ty * tw + tx], plus `bias`; m must be readable a vector past the last tile. `rows` is
// scratch of 4 * row_len floats, row_len >= 4 * (tw rounded up to lanes).
// When one vector spans a whole tile row (tw <= lanes: the small planes of CIFAR-style
// nets), output row y is stored straight into the plane, 4 * lanes floats from y * W_out
// on: what runs past the row's end lands in the next rows, which are stored after it and
// cover it (4 * lanes >= W_out). Tile rows whose overflow would leave the plane go
// through `rows`.
void TransformOutputF32(const float* HWY_RESTRICT m, int64_t xi_stride, int64_t th, int64_t tw, float bias,
                        float* HWY_RESTRICT rows, int64_t row_len, float* HWY_RESTRICT out, int64_t H_out,
                        int64_t W_out) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const V vbias = hn::Set(d, bias);
  for (int64_t ty = 0; ty < th; ++ty) {
    const bool direct = tw <= N && (4 * ty + 3) * W_out + 4 * N <= H_out * W_out;
    for (int64_t tx = 0; tx < tw; tx += N) {
      const float* in = m + ty * tw + tx;
      V t[6][4];  // t[p] = A^T applied along x to row p of the 6x6 products
      for (int64_t p = 0; p < 6; ++p) {
        V z[6];
        for (int64_t q = 0; q < 6; ++q) z[q] = hn::LoadU(d, in + (p * 6 + q) * xi_stride);
        apply_at(z, t[p]);
      }
      for (int64_t b = 0; b < 4; ++b) {  // then along y: output column b of the 4 tile rows
        V z[6], o[4];
        for (int64_t p = 0; p < 6; ++p) z[p] = t[p][b];
        apply_at(z, o);
        for (int64_t a = 0; a < 4; ++a) t[a][b] = hn::Add(o[a], vbias);  // t[0..4) reused for the result
      }
      for (int64_t a = 0; a < 4; ++a) {  // row a of the tiles: x = 4 * lane + b
        float* dst = direct ? out + (4 * ty + a) * W_out : rows + a * row_len + 4 * tx;
        hn::StoreInterleaved4(t[a][0], t[a][1], t[a][2], t[a][3], d, dst);
      }
    }
    if (direct) continue;
    for (int64_t a = 0; a < 4 && 4 * ty + a < H_out; ++a)
      std::copy(rows + a * row_len, rows + a * row_len + W_out, out + (4 * ty + a) * W_out);
  }
}

// The adjoint of TransformOutputF32 for the weight gradient: Y[xi][tile] = (A dY A^T)[xi]
// for the 4x4 tiles of one channel of `images` gradient planes (H_out, W_out) at planes + i *
// plane_stride (zero past the plane), tile (ty, tx) of image i written to
// y[xi * xi_stride + (i * th + ty) * tw + tx]. `padded` is scratch of 4 * th * row_len
// floats, row_len >= 4 * (tw rounded up to lanes), zeroed once per call (as in
// TransformInputF32).
void TransformGradOutputF32(const float* HWY_RESTRICT planes, int64_t plane_stride, int64_t images, int64_t H_out,
                            int64_t W_out, int64_t th, int64_t tw, float* HWY_RESTRICT padded, int64_t row_len,
                            float* HWY_RESTRICT y, int64_t xi_stride) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), tiles = th * tw;
  std::fill(padded, padded + 4 * th * row_len, 0.0f);
  for (int64_t image = 0; image < images; ++image) {
    const float* plane = planes + image * plane_stride;
    for (int64_t row = 0; row < H_out; ++row)
      std::copy(plane + row * W_out, plane + (row + 1) * W_out, padded + row * row_len);
    for (int64_t ty = 0; ty < th; ++ty) {
      for (int64_t tx = 0; tx < tw; tx += N) {
        V r[4][6];  // r[a] = A applied along x to row a of the tiles
        for (int64_t a = 0; a < 4; ++a) {
          V z[4];
          hn::LoadInterleaved4(d, padded + (4 * ty + a) * row_len + 4 * tx, z[0], z[1], z[2], z[3]);
          apply_a(z, r[a]);
        }
        const int64_t first = image * tiles + ty * tw + tx, n = images * tiles - first;
        float* out = y + first;
        for (int64_t q = 0; q < 6; ++q) {  // then along y, column q
          V z[4], o[6];
          for (int64_t a = 0; a < 4; ++a) z[a] = r[a][q];
          apply_a(z, o);
          for (int64_t p = 0; p < 6; ++p) {
            if (n >= N) {
              hn::StoreU(o[p], d, out + (p * 6 + q) * xi_stride);
            } else {
              store_first(o[p], out + (p * 6 + q) * xi_stride, n);
            }
          }
        }
      }
    }
  }
}

// The adjoint of TransformWeightsF32: taps[(i*3 + j) * ld + c] = (G^T dU G)[i][j] for c in
// [0, n), from dU[xi][k][c] = du[xi * xi_stride + c].
void TransformWeightGradF32(const float* HWY_RESTRICT du, int64_t xi_stride, int64_t n, float* HWY_RESTRICT taps,
                            int64_t ld) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t c = 0; c < n; c += N) {
    V t[6][3];  // t[r] = G'^T applied along q to row r of diag(s) dU diag(s)
    for (int64_t r = 0; r < 6; ++r) {
      V z[6];
      for (int64_t q = 0; q < 6; ++q)
        z[q] = hn::Mul(load_first(du + (r * 6 + q) * xi_stride + c, n - c),
                       hn::Set(d, static_cast<float>(kScale[r] * kScale[q])));
      apply_gt(z, t[r]);
    }
    for (int64_t j = 0; j < 3; ++j) {
      V z[6], o[3];
      for (int64_t r = 0; r < 6; ++r) z[r] = t[r][j];
      apply_gt(z, o);
      for (int64_t i = 0; i < 3; ++i) store_first(o[i], taps + (i * 3 + j) * ld + c, n - c);
    }
  }
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "tensor/kernels/blas.h"
#include <omp.h>

#include <algorithm>
#include <vector>

#include "tensor/config.h"
#include "tensor/device_memory.h"
#include "tensor/kernels/conv2d_cpu_internal.h"

namespace lowbit::cpu {

HWY_EXPORT(TransformWeightsF32);
HWY_EXPORT(TransformInputF32);
HWY_EXPORT(TransformOutputF32);
HWY_EXPORT(TransformGradOutputF32);
HWY_EXPORT(TransformWeightGradF32);

namespace {

constexpr int64_t kTile = 4;                       // F(4x4, 3x3): 4x4 outputs per tile...
constexpr int64_t kPoints = 36;                    // ...from a 6x6 patch: 36 GEMMs
constexpr int64_t kMinTiles = 48;                  // fewer tiles in all: im2col (winograd_eligible)
constexpr int64_t kMaxLanes = 16;                  // M is padded for reads of up to 16 lanes (AVX-512)
constexpr int64_t kChunkBytes = int64_t(8) << 20;  // V and M of one chunk of images: about this much

// U[xi][k][c] for all filters. flip_transpose: g[k][c] = weight[c][k] rotated by 180 degrees
// (the backward-input convolution), else g[k][c] = weight[k][c].
void transform_weights(const float* weight, int64_t K, int64_t C, bool flip_transpose, float* u) {
  ThreadScratch<float> scratch(9 * C);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < K; ++k) {
    float* taps = scratch.mine();  // taps[(i*3 + j) * C + c] = g[k][c][i][j]
    for (int64_t c = 0; c < C; ++c) {
      const float* w = flip_transpose ? weight + (c * K + k) * 9 : weight + (k * C + c) * 9;
      for (int64_t t = 0; t < 9; ++t) taps[t * C + c] = flip_transpose ? w[8 - t] : w[t];
    }
    HWY_DYNAMIC_DISPATCH(TransformWeightsF32)(taps, C, C, u + k * C, K * C);
  }
}

}  // namespace

bool winograd_eligible(const Conv2dParams& p) {
  // 3x3 stride-1 undilated dense convolutions, with enough channels for the GEMMs to pay
  // for the transforms, outputs large enough that 4x4 tiles are not mostly padding, and
  // enough tiles in all for GEMMs wide enough to run near OpenBLAS's speed: ResNet-18's
  // layer3 (14x14, 16 tiles) and layer4 (7x7, 4 tiles) at batch 1 ran at 0.3-0.6x of
  // im2col with Winograd (bench/conv2d_bench.cpp), layer2 at batch 1 (49 tiles) at 1.0-1.5x.
  if (!(winograd_enabled() && p.dtype == DType::f32 && p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 &&
        p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && p.pad_h == p.pad_w &&
        p.pad_h <= 2 && p.in_channels >= 16 && p.out_channels >= 16 && p.out_h() >= 4 && p.out_w() >= 4))
    return false;
  return p.batch * ceil_div(p.out_h(), kTile) * ceil_div(p.out_w(), kTile) >= kMinTiles;
}

namespace {

// How the work is cut, from the shape alone: tiles per image, images per chunk (the V and
// M or Y of a chunk fill about kChunkBytes), and the scratch rows of the transforms.
struct Plan {
  int64_t C, K, H, W, H_out, W_out;
  int64_t th, tw, tiles;  // tile rows and columns per image, tiles per image
  int64_t chunk, T;       // images per chunk, GEMM columns of a full chunk
  int64_t in_row, out_row;
};

Plan make_plan(const Conv2dParams& p) {
  Plan pl;
  pl.C = p.in_channels;
  pl.K = p.out_channels;
  pl.H = p.in_h;
  pl.W = p.in_w;
  pl.H_out = p.out_h();
  pl.W_out = p.out_w();
  pl.th = ceil_div(pl.H_out, kTile);
  pl.tw = ceil_div(pl.W_out, kTile);
  pl.tiles = pl.th * pl.tw;
  const int64_t image_bytes = kPoints * (pl.C + pl.K) * pl.tiles * static_cast<int64_t>(sizeof(float));
  pl.chunk = std::clamp<int64_t>(kChunkBytes / image_bytes, 1, p.batch);
  pl.T = pl.chunk * pl.tiles;
  const int64_t lanes = f32_lanes();  // of the target the transforms dispatch to
  const int64_t lanes_tw = ceil_div(pl.tw, lanes) * lanes;
  pl.in_row = kTile * lanes_tw + 8;
  pl.out_row = kTile * lanes_tw;
  return pl;
}

// V[xi][c][t] (leading dim T) for the images [first, first + images) of a chunk.
void transform_input(const Conv2dParams& p, const Plan& pl, const float* input, int64_t first, int64_t images,
                     const ThreadScratch<float>& rows, float* v) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < pl.C; ++c)  // (channel, all images of the chunk)
    HWY_DYNAMIC_DISPATCH(TransformInputF32)
    (input + (first * pl.C + c) * pl.H * pl.W, pl.C * pl.H * pl.W, images, pl.H, pl.W, p.pad_h, pl.th, pl.tw,
     rows.mine(), pl.in_row, v + c * pl.T, pl.C * pl.T);
}

// f(xi) for the 36 points, each on one thread with OpenBLAS single-threaded inside.
template <typename F>
void for_each_point(F&& f) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t xi = 0; xi < kPoints; ++xi) {
    omp_set_num_threads(1);  // OpenBLAS runs single-threaded in this task (see matmul_cpu.cpp)
    f(xi);
  }
}

blasint bl(int64_t v) { return static_cast<blasint>(v); }

}  // namespace

void winograd_forward(const Conv2dParams& p, const float* input, const float* weight, const float* bias, float* output,
                      bool flip_transpose) {
  const Plan pl = make_plan(p);
  const int64_t C = pl.C, K = pl.K, T = pl.T;
  const size_t u_bytes = static_cast<size_t>(kPoints * K * C) * sizeof(float);
  // + kMaxLanes: the output transform reads up to a vector past M's last tile.
  const size_t vm_bytes = static_cast<size_t>(kPoints * (C + K) * T + kMaxLanes) * sizeof(float);
  auto* u = static_cast<float*>(cpu_alloc(u_bytes));
  auto* vm = static_cast<float*>(cpu_alloc(vm_bytes));
  std::fill(vm + kPoints * (C + K) * T, vm + kPoints * (C + K) * T + kMaxLanes, 0.0f);
  float* v = vm;                    // V[xi][c][t], leading dim T
  float* m = vm + kPoints * C * T;  // M[xi][k][t], leading dim T
  transform_weights(weight, K, C, flip_transpose, u);

  ThreadScratch<float> rows(std::max((kTile * pl.th + 2) * pl.in_row, 4 * pl.out_row));
  for (int64_t first = 0; first < p.batch; first += pl.chunk) {
    const int64_t images = std::min(pl.chunk, p.batch - first), n_tiles = images * pl.tiles;
    transform_input(p, pl, input, first, images, rows, v);
    for_each_point([&](int64_t xi) {  // M[xi] (K, tiles) = U[xi] (K, C) @ V[xi] (C, tiles)
      blas::sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bl(K), bl(n_tiles), bl(C), 1.0f, u + xi * K * C, bl(C),
                  v + xi * C * T, bl(T), 0.0f, m + xi * K * T, bl(T));
    });
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < images * K; ++item) {  // (image, output channel)
      const int64_t image = item / K, k = item % K;
      HWY_DYNAMIC_DISPATCH(TransformOutputF32)
      (m + k * T + image * pl.tiles, K * T, pl.th, pl.tw, bias ? bias[k] : 0.0f, rows.mine(), pl.out_row,
       output + ((first + image) * K + k) * pl.H_out * pl.W_out, pl.H_out, pl.W_out);
    }
  }
  cpu_free(vm, vm_bytes);
  cpu_free(u, u_bytes);
}

// The weight gradient through the same algorithm: the forward is, per filter,
//   out = sum_c A^T [ (G g G^T) ⊙ V_c ] A,
// so dL/dg = G^T [ sum over tiles (A dY A^T) ⊙ V_c ] G: transform dY's 4x4 tiles to 6x6
// (the adjoint of the output transform), one GEMM per point over all tiles
//   dU[xi] (K, C) = Y[xi] (K, T) @ V[xi]^T (T, C),  accumulated chunk after chunk,
// and dW = G^T dU G (the adjoint of the weight transform).
void winograd_backward_weight(const Conv2dParams& p, const float* input, const float* grad_output, float* grad_weight) {
  const Plan pl = make_plan(p);
  const int64_t C = pl.C, K = pl.K, T = pl.T;
  const size_t du_bytes = static_cast<size_t>(kPoints * K * C) * sizeof(float);
  const size_t vy_bytes = static_cast<size_t>(kPoints * (C + K) * T) * sizeof(float);
  auto* du = static_cast<float*>(cpu_alloc(du_bytes));
  auto* vy = static_cast<float*>(cpu_alloc(vy_bytes));
  float* v = vy;                    // V[xi][c][t], leading dim T
  float* y = vy + kPoints * C * T;  // Y[xi][k][t], leading dim T
  ThreadScratch<float> rows(std::max({(kTile * pl.th + 2) * pl.in_row, kTile * pl.th * pl.out_row, 9 * C}));
  for (int64_t first = 0; first < p.batch; first += pl.chunk) {
    const int64_t images = std::min(pl.chunk, p.batch - first), n_tiles = images * pl.tiles;
    transform_input(p, pl, input, first, images, rows, v);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < K; ++k)  // (output channel, all images of the chunk)
      HWY_DYNAMIC_DISPATCH(TransformGradOutputF32)
      (grad_output + (first * K + k) * pl.H_out * pl.W_out, K * pl.H_out * pl.W_out, images, pl.H_out, pl.W_out, pl.th,
       pl.tw, rows.mine(), pl.out_row, y + k * T, K * T);
    const float beta = first == 0 ? 0.0f : 1.0f;  // chunks add up in chunk order
    for_each_point([&](int64_t xi) {
      blas::sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bl(K), bl(C), bl(n_tiles), 1.0f, y + xi * K * T, bl(T),
                  v + xi * C * T, bl(T), beta, du + xi * K * C, bl(C));
    });
  }
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < K; ++k) {
    float* taps = rows.mine();  // taps[(i*3 + j) * C + c] = dW[k][c][i][j]
    HWY_DYNAMIC_DISPATCH(TransformWeightGradF32)(du + k * C, K * C, C, taps, C);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < 9; ++t) grad_weight[(k * C + c) * 9 + t] = taps[t * C + c];
  }
  cpu_free(vy, vy_bytes);
  cpu_free(du, du_bytes);
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
