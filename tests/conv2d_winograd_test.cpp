// conv2d through Winograd F(4x4, 3x3) (tensor/kernels/conv2d_winograd_cpu.cpp): the f32
// forward, backward-input and backward-weight passes of 3x3 stride-1 convolutions against
// the f64 reference, on odd shapes, every padding it takes, several chunks of images; 1 vs 2
// threads; and the switch that turns it off.
//
// Error bound. Winograd computes out = A^T [ sum_c (G g_c G^T) ⊙ (B^T d_c B) ] A + bias
// with every intermediate rounded. Along any path from an input to an output there are at
// most C + 28 roundings (G' g G'^T and its scale: 9; B^T d B: 8; the product: 1; the GEMM
// sum over C channels: C; A^T M A: 8; the bias: 1; with margin), so by the standard
// analysis of sums and products (Higham, Accuracy and Stability of Numerical Algorithms,
// 3.1 and 3.5)
//   |cpu - exact| <= gamma_{C+28} * S,   S = the same algorithm evaluated exactly on
//   |A^T|, |G|, |B^T|, |g|, |d| and |bias|,
// and the f64 reference is within far less of the exact value, so the test checks
//   |cpu - ref| <= 2 (C + 28) u S,   u = 2^-24.
// Backward input is the same forward on dY (C_out channels summed). Backward weight,
// dW = G^T [ sum over tiles (A dY A^T) ⊙ (B^T d B) ] G, sums over all N * tiles tiles
// instead of C channels: |cpu - ref| <= 2 (N tiles + 28) u S_dW with S_dW its evaluation on
// absolute values.
// S is computed below in f64 by a plain scalar Winograd on absolute values. S exceeds the
// direct-sum magnitude sum|w||x| (the entries of A and B reach 8 and 5), which is what
// makes F(4x4, 3x3) less accurate than im2col; the test also reports the worst error
// relative to each bound, so a reader sees how close to it the kernel runs.
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tensor/config.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_tensor;
using test::ThreadGuard;

struct Case {
  int64_t batch, in_channels, h, w, out_channels, pad;
  bool bias;
  std::string str() const {
    return str_cat("N=", batch, " C_in=", in_channels, " ", h, "x", w, " C_out=", out_channels, " pad=", pad,
                   bias ? " bias" : "");
  }
};

// |A^T|, |B^T| and |G| of F(4x4, 3x3) (the matrices of conv2d_winograd_cpu.cpp).
constexpr double kAt[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, 1, 2, 2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, 1, 8, 8, 1}};
constexpr double kBt[6][6] = {{4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
                              {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {1.0 / 6, 1.0 / 6, 1.0 / 6},
                             {1.0 / 6, 1.0 / 6, 1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};

// |B^T| |d| |B| for the 6x6 patch of tile (ty, tx) of channel c of image n of x (N, C, H, W).
void abs_input_tile(const std::vector<double>& x, int64_t n, int64_t c, int64_t C, int64_t H, int64_t W, int64_t pad,
                    int64_t ty, int64_t tx, double v[36]) {
  double d[6][6], t[6][6];
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j) {
      const int64_t y = 4 * ty - pad + i, xx = 4 * tx - pad + j;
      d[i][j] = (y >= 0 && y < H && xx >= 0 && xx < W) ? std::fabs(x[((n * C + c) * H + y) * W + xx]) : 0.0;
    }
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t j = 0; j < 6; ++j) {
      t[r][j] = 0;
      for (int64_t i = 0; i < 6; ++i) t[r][j] += kBt[r][i] * d[i][j];
    }
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t q = 0; q < 6; ++q) {
      double sum = 0;
      for (int64_t j = 0; j < 6; ++j) sum += t[r][j] * kBt[q][j];
      v[r * 6 + q] = sum;
    }
}

// S of the header for out = conv(x, g) + bias, g[k][c] = weight[k][c] or, with
// flip_transpose, weight[c][k] rotated by 180 degrees. x (N, C, H, W), padding `pad`.
std::vector<double> winograd_magnitude(const std::vector<double>& x, const std::vector<double>& weight,
                                       const std::vector<double>& bias, int64_t N, int64_t C, int64_t H, int64_t W,
                                       int64_t K, int64_t pad, bool flip_transpose) {
  const int64_t H_out = H + 2 * pad - 2, W_out = W + 2 * pad - 2;
  const int64_t th = (H_out + 3) / 4, tw = (W_out + 3) / 4;
  std::vector<double> u(static_cast<size_t>(K * C * 36));  // |G| |g| |G|^T
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      double g[3][3], t[6][3];
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j)
          g[i][j] = std::fabs(flip_transpose ? weight[((c * K + k) * 3 + 2 - i) * 3 + 2 - j]
                                             : weight[((k * C + c) * 3 + i) * 3 + j]);
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t j = 0; j < 3; ++j) t[r][j] = kG[r][0] * g[0][j] + kG[r][1] * g[1][j] + kG[r][2] * g[2][j];
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t q = 0; q < 6; ++q)
          u[((k * C + c) * 6 + r) * 6 + q] = t[r][0] * kG[q][0] + t[r][1] * kG[q][1] + t[r][2] * kG[q][2];
    }
  std::vector<double> out(static_cast<size_t>(N * K * H_out * W_out));
  std::vector<double> v(static_cast<size_t>(C * 36));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        for (int64_t c = 0; c < C; ++c) abs_input_tile(x, n, c, C, H, W, pad, ty, tx, &v[c * 36]);
        for (int64_t k = 0; k < K; ++k) {
          double m[6][6] = {};
          for (int64_t c = 0; c < C; ++c)
            for (int64_t e = 0; e < 36; ++e) m[e / 6][e % 6] += u[(k * C + c) * 36 + e] * v[c * 36 + e];
          for (int64_t a = 0; a < 4; ++a)
            for (int64_t b = 0; b < 4; ++b) {
              const int64_t y = 4 * ty + a, xx = 4 * tx + b;
              if (y >= H_out || xx >= W_out) continue;
              double s = bias.empty() ? 0.0 : std::fabs(bias[k]);
              for (int64_t r = 0; r < 6; ++r)
                for (int64_t q = 0; q < 6; ++q) s += kAt[a][r] * m[r][q] * kAt[b][q];
              out[((n * K + k) * H_out + y) * W_out + xx] = s;
            }
        }
      }
  return out;
}

// The weight-gradient counterpart: S[k][c][i][j] = sum over images and tiles of
// (|G|^T [ (|A| |dY| |A|^T) ⊙ (|B^T| |d| |B|) ] |G|)[i][j], x (N, C, H, W), dy (N, K, H_out, W_out).
std::vector<double> winograd_weight_grad_magnitude(const std::vector<double>& x, const std::vector<double>& dy,
                                                   int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t pad) {
  const int64_t H_out = H + 2 * pad - 2, W_out = W + 2 * pad - 2;
  const int64_t th = (H_out + 3) / 4, tw = (W_out + 3) / 4;
  std::vector<double> acc(static_cast<size_t>(K * C * 36)), v(static_cast<size_t>(C * 36));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        for (int64_t c = 0; c < C; ++c) abs_input_tile(x, n, c, C, H, W, pad, ty, tx, &v[c * 36]);
        for (int64_t k = 0; k < K; ++k) {
          double yt[36];  // |A| |dY tile| |A|^T
          for (int64_t r = 0; r < 6; ++r)
            for (int64_t q = 0; q < 6; ++q) {
              double sum = 0;
              for (int64_t a = 0; a < 4; ++a)
                for (int64_t b = 0; b < 4; ++b) {
                  const int64_t yy = 4 * ty + a, xx = 4 * tx + b;
                  if (yy < H_out && xx < W_out)
                    sum += kAt[a][r] * std::fabs(dy[((n * K + k) * H_out + yy) * W_out + xx]) * kAt[b][q];
                }
              yt[r * 6 + q] = sum;
            }
          for (int64_t c = 0; c < C; ++c)
            for (int64_t e = 0; e < 36; ++e) acc[(k * C + c) * 36 + e] += yt[e] * v[c * 36 + e];
        }
      }
  std::vector<double> out(static_cast<size_t>(K * C * 9));
  for (int64_t kc = 0; kc < K * C; ++kc)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        double sum = 0;
        for (int64_t r = 0; r < 6; ++r)
          for (int64_t q = 0; q < 6; ++q) sum += kG[r][i] * acc[kc * 36 + r * 6 + q] * kG[q][j];
        out[kc * 9 + i * 3 + j] = sum;
      }
  return out;
}

// max |got - want| / bound over the elements, and whether every element is within.
struct Fit {
  double worst = 0;
  bool ok = true;
};
Fit fit(const Tensor& want, const Tensor& got, const std::vector<double>& magnitude, double scale) {
  const std::vector<double> w = want.to_vector<double>(), g = got.to_vector<double>();
  Fit f;
  for (size_t i = 0; i < w.size(); ++i) {
    const double bound = scale * magnitude[i], err = std::fabs(g[i] - w[i]);
    if (!(err <= bound)) f.ok = false;
    if (bound > 0) f.worst = std::max(f.worst, err / bound);
  }
  return f;
}

void check_case(const Case& c, uint64_t seed) {
  SCOPED_TRACE(c.str());
  const Tensor x = random_tensor({c.batch, c.in_channels, c.h, c.w}, DType::f32, seed);
  const Tensor w = random_tensor({c.out_channels, c.in_channels, 3, 3}, DType::f32, seed + 1);
  const Tensor b = c.bias ? random_tensor({c.out_channels}, DType::f32, seed + 2) : Tensor();
  const int64_t H_out = c.h + 2 * c.pad - 2, W_out = c.w + 2 * c.pad - 2;
  const Tensor dy = random_tensor({c.batch, c.out_channels, H_out, W_out}, DType::f32, seed + 3);
  const Shape in_shape = {c.batch, c.in_channels, c.h, c.w};
  const Shape w_shape = w.sizes();
  Tensor out_ref, dx_ref, dw_ref;
  {
    ReferenceModeGuard reference(true);
    out_ref = raw::conv2d(x, w, b, {1, 1}, {c.pad, c.pad});
    dx_ref = raw::conv2d_backward_input(dy, w, in_shape, {1, 1}, {c.pad, c.pad});
    dw_ref = raw::conv2d_backward_weight(x, dy, w_shape, false, {1, 1}, {c.pad, c.pad}).first;
  }
  const Tensor out = raw::conv2d(x, w, b, {1, 1}, {c.pad, c.pad});
  const Tensor dx = raw::conv2d_backward_input(dy, w, in_shape, {1, 1}, {c.pad, c.pad});
  const Tensor dw = raw::conv2d_backward_weight(x, dy, w_shape, false, {1, 1}, {c.pad, c.pad}).first;
  const double u = std::ldexp(1.0, -24);
  const std::vector<double> xs = x.to_vector<double>(), ws = w.to_vector<double>(), dys = dy.to_vector<double>();
  const std::vector<double> bs = c.bias ? b.to_vector<double>() : std::vector<double>();
  const Fit forward =
      fit(out_ref, out, winograd_magnitude(xs, ws, bs, c.batch, c.in_channels, c.h, c.w, c.out_channels, c.pad, false),
          2.0 * static_cast<double>(c.in_channels + 28) * u);
  const Fit backward =
      fit(dx_ref, dx,
          winograd_magnitude(dys, ws, {}, c.batch, c.out_channels, H_out, W_out, c.in_channels, 2 - c.pad, true),
          2.0 * static_cast<double>(c.out_channels + 28) * u);
  const int64_t all_tiles = c.batch * ((H_out + 3) / 4) * ((W_out + 3) / 4);
  const Fit weight =
      fit(dw_ref, dw, winograd_weight_grad_magnitude(xs, dys, c.batch, c.in_channels, c.h, c.w, c.out_channels, c.pad),
          2.0 * static_cast<double>(all_tiles + 28) * u);
  EXPECT_TRUE(forward.ok) << "forward: worst error " << forward.worst << " x the bound";
  EXPECT_TRUE(weight.ok) << "backward weight: worst error " << weight.worst << " x the bound";
  EXPECT_TRUE(backward.ok) << "backward input: worst error " << backward.worst << " x the bound";
  // A layout or transform bug gives errors of the order of the values: far above the bound.
  // That the Winograd path ran: im2col rounds differently, so its bits differ.
  set_winograd_enabled(false);
  const Tensor out_im2col = raw::conv2d(x, w, b, {1, 1}, {c.pad, c.pad});
  const Tensor dw_im2col = raw::conv2d_backward_weight(x, dy, w_shape, false, {1, 1}, {c.pad, c.pad}).first;
  set_winograd_enabled(true);
  EXPECT_FALSE(bit_equal(out_im2col, out, "forward im2col vs winograd")) << "the Winograd path did not run";
  EXPECT_FALSE(bit_equal(dw_im2col, dw, "weight gradient im2col vs winograd")) << "the Winograd path did not run";
  std::printf("  %s: worst error / bound: forward %.3g, backward input %.3g, backward weight %.3g\n", c.str().c_str(),
              forward.worst, backward.worst, weight.worst);
}

TEST(Conv2dWinograd, MatchesReferenceWithinBound) {
  const Case cases[] = {
      {48, 16, 4, 4, 16, 1, true},    // one tile per image
      {6, 17, 9, 11, 19, 1, false},   // odd sizes, partial tiles in both directions
      {24, 16, 6, 7, 23, 0, true},    // no padding: 4x5 output
      {6, 21, 5, 13, 16, 2, true},    // padding 2: its backward has padding 0
      {3, 33, 14, 14, 40, 1, false},  // ResNet layer3-like
      {4, 16, 23, 5, 16, 1, true},    // tall and narrow: a single tile column
      {5, 48, 48, 48, 48, 1, false},  // 2 MiB of V and M per image: chunks of 4 and 1 images
      {3, 16, 28, 28, 16, 1, true},   // ResNet-20 stage 1 (28 = 4 * 7: rows stored straight into the plane)
      {16, 64, 7, 7, 64, 1, true},    // ResNet-20 stage 3: 2x2 tiles, every row through scratch
  };
  uint64_t seed = 100;
  for (const Case& c : cases) check_case(c, seed += 10);
}

// Bit-identical results for 1 and 2 threads, all three passes, over two chunks.
TEST(Conv2dWinograd, SameBitsForAnyThreadCount) {
  const Tensor x = random_tensor({5, 48, 48, 48}, DType::f32, 7);
  const Tensor w = random_tensor({48, 48, 3, 3}, DType::f32, 8);
  const Tensor b = random_tensor({48}, DType::f32, 9);
  const Tensor dy = random_tensor({5, 48, 48, 48}, DType::f32, 10);
  auto pass = [&](int threads) {
    ThreadGuard guard(threads);
    return std::array<Tensor, 3>{raw::conv2d(x, w, b, {1, 1}, {1, 1}),
                                 raw::conv2d_backward_input(dy, w, x.sizes(), {1, 1}, {1, 1}),
                                 raw::conv2d_backward_weight(x, dy, w.sizes(), false, {1, 1}, {1, 1}).first};
  };
  const auto one = pass(1), two = pass(2);
  EXPECT_TRUE(bit_equal(one[0], two[0], "forward 1 vs 2 threads"));
  EXPECT_TRUE(bit_equal(one[1], two[1], "backward input 1 vs 2 threads"));
  EXPECT_TRUE(bit_equal(one[2], two[2], "backward weight 1 vs 2 threads"));
}

// The switch: with Winograd off the same call takes im2col, whose rounding differs (so the
// test above really ran Winograd), and which stays within im2col's own tighter bound
// 2 (K + 2) u sum|w||x| of tests/conv2d_test.cpp.
// Fewer than 48 output tiles over the batch (ResNet-18's layer4 at batch 1 has 4) make GEMMs
// too narrow to pay: those shapes take im2col, bit for bit.
TEST(Conv2dWinograd, FewTilesTakeIm2col) {
  const Tensor x = random_tensor({1, 16, 7, 7}, DType::f32, 13);
  const Tensor w = random_tensor({16, 16, 3, 3}, DType::f32, 14);
  const Tensor with = raw::conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  set_winograd_enabled(false);
  const Tensor without = raw::conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  set_winograd_enabled(true);
  EXPECT_TRUE(bit_equal(without, with, "7x7 batch 1: im2col either way"));
}

TEST(Conv2dWinograd, DiffersFromIm2colAndCanBeTurnedOff) {
  const Tensor x = random_tensor({6, 32, 12, 12}, DType::f32, 11);
  const Tensor w = random_tensor({32, 32, 3, 3}, DType::f32, 12);
  ASSERT_TRUE(winograd_enabled());
  const Tensor wino = raw::conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  set_winograd_enabled(false);
  const Tensor im2col = raw::conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  set_winograd_enabled(true);
  EXPECT_FALSE(bit_equal(wino, im2col, "winograd vs im2col"));
  Tensor ref, mag;
  {
    ReferenceModeGuard reference(true);
    ref = raw::conv2d(x, w, Tensor(), {1, 1}, {1, 1});
    mag = raw::conv2d(raw::abs(x).to(DType::f64), raw::abs(w).to(DType::f64), Tensor(), {1, 1}, {1, 1});
  }
  const double bound_scale = 2.0 * (32 * 9 + 2) * std::ldexp(1.0, -24);
  const std::vector<double> r = ref.to_vector<double>(), g = im2col.to_vector<double>(), m = mag.to_vector<double>();
  for (size_t i = 0; i < r.size(); ++i) ASSERT_LE(std::fabs(g[i] - r[i]), bound_scale * m[i]) << "element " << i;
}

}  // namespace
}  // namespace lowbit
