// conv2d: the reference against hand-computed values and against itself (the backward
// kernels are the adjoints of the forward), cpu against ref for the forward and both
// backward passes on many shapes, determinism across thread counts, errors.
//
// Float bound (cpu vs ref). Every output of the three kernels is a sum of products:
//   forward          out[n,oc,y,x] = b[oc] + sum of K = C_in/groups*kH*kW terms w*x
//   backward input   dX[n,c,y,x]  = sum of at most C_out/groups*kH*kW terms dY*w
//   backward weight  dW[oc,c,i,j] = sum of N*H_out*W_out terms dY*x  (dbias: of dY alone)
// The CPU path sums them in another order (GEMM blocking, FMAs, an f32 accumulation
// across images with beta = 1, the bias added last). Whatever the order, a sum of n
// products in precision u satisfies |fl(s) - s| <= gamma_n * sum|terms| with
// gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of Numerical Algorithms, 3.1),
// and ref (f64 accumulation, one rounding) is within u |s| + gamma_n(f64) of s, so
//   |cpu - ref| <= 2 (n + 1) u * sum|terms|,   u = 2^-24 (f32) or 2^-53 (f64),
// with n = K + 1 for the forward (the bias is one more term) and sum|terms| computed
// exactly enough by the reference kernel itself in f64 on |inputs| (e.g. the forward
// bound is 2 (K + 2) u (|W| * |X| + |b|)). The bound holds for every element of every
// input, so the test cannot flake; f64 is checked with its own u, 2^29 times tighter.
// Layout and indexing bugs give errors of the order of the terms themselves, far above it.
#include <omp.h>

#include <array>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/config.h"
#include "tensor/kernels/conv2d.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::bit_equal;
using test::random_strided;
using test::random_tensor;
using test::ThreadGuard;

using Pair = std::array<int64_t, 2>;

// One convolution: shapes and hyper-parameters.
struct Conv {
  int64_t batch, in_channels, h, w, out_channels, kh, kw;
  Pair stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;

  Shape input_shape() const { return {batch, in_channels, h, w}; }
  Shape weight_shape() const { return {out_channels, in_channels / groups, kh, kw}; }
  int64_t out_h() const { return (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1; }
  int64_t out_w() const { return (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1; }
  Shape output_shape() const { return {batch, out_channels, out_h(), out_w()}; }
  std::string str() const {
    return str_cat("input ", shape_str(input_shape()), " weight ", shape_str(weight_shape()), " stride [", stride[0],
                   ",", stride[1], "] padding [", padding[0], ",", padding[1], "] dilation [", dilation[0], ",",
                   dilation[1], "] groups ", groups, bias ? " bias" : "");
  }
};

// The three passes of one convolution, on the reference or the fast kernels.
struct Results {
  Tensor out, grad_input, grad_weight, grad_bias;
};

Results run(const Conv& c, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy, bool reference) {
  ReferenceModeGuard mode(reference);
  Results r;
  r.out = raw::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
  r.grad_input = raw::conv2d_backward_input(dy, w, c.input_shape(), c.stride, c.padding, c.dilation, c.groups);
  auto [gw, gb] = raw::conv2d_backward_weight(x, dy, c.weight_shape(), c.bias, c.stride, c.padding, c.dilation,
                                              c.groups);
  r.grad_weight = gw;
  r.grad_bias = gb;
  return r;
}

// |got - want| <= bound elementwise, listing the first offenders by NCHW index.
::testing::AssertionResult within_bound(const Tensor& want, const Tensor& got, const Tensor& bound,
                                        const std::string& what) {
  if (want.sizes() != got.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(got.sizes()) << " vs "
                                         << shape_str(want.sizes());
  const std::vector<double> w = want.to_vector<double>(), g = got.to_vector<double>(), b = bound.to_vector<double>();
  const Shape& s = want.sizes();
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::fabs(g[i] - w[i]) <= b[i]) continue;
    if (bad++ < 5) {
      Shape index(s.size());
      for (int64_t d = static_cast<int64_t>(s.size()) - 1, rest = static_cast<int64_t>(i); d >= 0; --d) {
        index[d] = rest % s[d];
        rest /= s[d];
      }
      first << "\n  " << shape_str(index) << ": ref " << w[i] << " got " << g[i] << " (bound " << b[i] << ")";
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << w.size() << " elements outside the bound"
                                       << first.str();
}

Tensor abs64(const Tensor& t) { return raw::abs(t).to(DType::f64); }

// The whole check for one convolution: cpu vs ref for the three passes and dbias, within
// the bound of the file header.
void check_conv(const Conv& c, DType dtype, uint64_t seed, bool strided = false) {
  SCOPED_TRACE(c.str() + " " + dtype_name(dtype) + (strided ? " strided" : ""));
  const Tensor x = strided ? random_strided(c.input_shape(), dtype, seed) : random_tensor(c.input_shape(), dtype, seed);
  const Tensor w = strided ? random_strided(c.weight_shape(), dtype, seed + 1)
                           : random_tensor(c.weight_shape(), dtype, seed + 1);
  const Tensor b = c.bias ? random_tensor({c.out_channels}, dtype, seed + 2) : Tensor();
  const Tensor dy = strided ? random_strided(c.output_shape(), dtype, seed + 3)
                            : random_tensor(c.output_shape(), dtype, seed + 3);
  const Results ref = run(c, x, w, b, dy, true), cpu = run(c, x, w, b, dy, false);

  // sum|terms| of every output: the reference itself, in f64, on absolute values.
  const Results mag = run(c, abs64(x), abs64(w), c.bias ? abs64(b) : Tensor(), abs64(dy), true);
  const double u = dtype == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  const double k = static_cast<double>(c.in_channels / c.groups * c.kh * c.kw);
  const double taps = static_cast<double>(c.out_channels / c.groups * c.kh * c.kw);
  const double positions = static_cast<double>(c.batch * c.out_h() * c.out_w());
  EXPECT_TRUE(within_bound(ref.out, cpu.out, raw::mul(mag.out, 2 * (k + 2) * u), "forward cpu vs ref"));
  EXPECT_TRUE(within_bound(ref.grad_input, cpu.grad_input, raw::mul(mag.grad_input, 2 * (taps + 1) * u),
                           "backward input cpu vs ref"));
  EXPECT_TRUE(within_bound(ref.grad_weight, cpu.grad_weight, raw::mul(mag.grad_weight, 2 * (positions + 1) * u),
                           "backward weight cpu vs ref"));
  if (c.bias) {
    EXPECT_TRUE(within_bound(ref.grad_bias, cpu.grad_bias, raw::mul(mag.grad_bias, 2 * (positions + 1) * u),
                             "grad bias cpu vs ref"));
  }
  EXPECT_EQ(cpu.grad_bias.defined(), c.bias);
}

Conv make(int64_t batch, int64_t in_channels, int64_t h, int64_t w, int64_t out_channels, int64_t kh, int64_t kw,
          Pair stride = {1, 1}, Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1, bool bias = true) {
  Conv c{batch, in_channels, h, w, out_channels, kh, kw};
  c.stride = stride;
  c.padding = padding;
  c.dilation = dilation;
  c.groups = groups;
  c.bias = bias;
  return c;
}

// Small and odd shapes: every feature alone and mixed; and a few big enough for the CPU
// path to cut the work (column tiles, row slices, channel and K slices, reduction tiles
// that span images).
std::vector<Conv> configs() {
  return {
      make(1, 3, 7, 9, 4, 3, 3, {1, 1}, {1, 1}),                         // odd sizes, 3x3 pad 1
      make(3, 4, 11, 10, 6, 3, 3, {2, 2}, {1, 1}),                       // stride 2, batch 3
      make(2, 5, 9, 9, 3, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, false),       // 5x5, no bias
      make(1, 3, 23, 21, 8, 7, 7, {2, 2}, {3, 3}),                       // 7x7/2 like ResNet conv1
      make(2, 4, 12, 13, 6, 3, 3, {1, 1}, {2, 2}, {2, 2}),               // dilation 2
      make(3, 8, 9, 7, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2),              // groups 2
      make(2, 8, 10, 10, 12, 3, 3, {2, 1}, {1, 0}, {1, 2}, 4),           // groups 4, mixed h/w hyper-parameters
      make(3, 6, 13, 11, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 6),            // depthwise
      make(2, 5, 14, 15, 5, 3, 3, {2, 2}, {1, 1}, {1, 1}, 5, false),     // depthwise stride 2
      make(1, 4, 17, 45, 4, 5, 3, {1, 2}, {2, 1}, {2, 1}, 4),            // depthwise, non-square, long rows
      make(2, 3, 9, 70, 3, 3, 3, {3, 1}, {0, 4}, {1, 3}, 3),             // depthwise, stride 3, dilation 3
      make(1, 3, 15, 17, 3, 3, 3, {2, 2}, {2, 2}, {2, 2}, 3),            // depthwise, stride 2 and dilation 2
      make(2, 1, 9, 11, 1, 3, 3, {1, 1}, {1, 1}),                        // one channel: depthwise with groups=1
      make(2, 16, 7, 9, 24, 1, 1),                                       // 1x1 pointwise
      make(3, 16, 9, 9, 8, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1, false),      // 1x1 stride 2 (downsample)
      // 1x1 with a stride, f32 (conv2d_pointwise_cpu.cpp): rows of W not a multiple of 6,
      // panels inside one row (de-interleaved) and across rows and images, blocks and row
      // slices, the last element of the input read by a whole-row panel, strides 3, (2, 1)
      // and (1, 2), K large, fewer columns than one panel.
      make(2, 64, 80, 77, 70, 1, 1, {2, 2}),
      make(3, 130, 21, 23, 20, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1, false),
      make(1, 33, 64, 64, 13, 1, 1, {2, 2}),
      make(2, 7, 17, 50, 9, 1, 1, {3, 3}),
      make(2, 5, 9, 40, 11, 1, 1, {2, 1}),
      make(1, 6, 12, 35, 5, 1, 1, {1, 2}, {0, 0}, {1, 1}, 1, false),
      make(1, 300, 7, 7, 64, 1, 1, {2, 2}),
      make(1, 256, 14, 14, 512, 1, 1, {2, 2}),
      make(1, 8, 6, 6, 8, 1, 1, {1, 1}, {1, 1}),                         // 1x1 with padding
      make(1, 6, 8, 5, 4, 2, 4, {1, 3}, {0, 2}, {1, 1}, 2),              // non-square kernel
      make(1, 2, 5, 5, 3, 5, 5),                                         // kernel = input: 1x1 output
      make(2, 3, 4, 4, 2, 3, 3, {5, 5}, {1, 1}),                         // stride beyond the input
      make(1, 3, 64, 64, 32, 3, 3, {1, 1}, {1, 1}),                      // big: column tiles
      make(3, 64, 30, 30, 16, 3, 3, {1, 1}, {1, 1}),                     // reduction tiles span images
      make(1, 64, 7, 7, 128, 3, 3, {1, 1}, {1, 1}),                      // small P: row slices
      make(1, 96, 20, 20, 64, 1, 1),                                     // big pointwise
      make(1, 32, 21, 19, 32, 3, 3, {2, 2}, {1, 1}, {1, 1}, 32),         // big depthwise stride 2
      make(2, 24, 15, 16, 36, 3, 3, {1, 1}, {1, 1}, {1, 1}, 3),          // big grouped
  };
}

class Conv2dTypes : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(Float, Conv2dTypes, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_P(Conv2dTypes, CpuMatchesRef) {
  uint64_t seed = 100;
  for (const Conv& c : configs()) check_conv(c, GetParam(), seed += 4);
}

TEST_P(Conv2dTypes, NonContiguousInputs) {
  check_conv(make(2, 6, 9, 8, 4, 3, 3, {2, 1}, {1, 1}, {1, 1}, 2), GetParam(), 1, /*strided=*/true);
  check_conv(make(1, 5, 11, 7, 5, 3, 3, {1, 1}, {1, 1}, {1, 1}, 5), GetParam(), 2, /*strided=*/true);
}

// ---- the reference on its own ----------------------------------------------------------

// By hand: a 1-channel 3x3 image x = [[1,2,3],[4,5,6],[7,8,9]], a 2x2 filter
// w = [[1,2],[3,4]], bias 10, padding 1 (a ring of zeros), stride 2: a 2x2 output.
TEST(Conv2dRef, HandComputed) {
  ReferenceModeGuard ref(true);
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor w = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor b = from_vector<double>({10}, {1});
  const Tensor out = raw::conv2d(x, w, b, {2, 2}, {1, 1});
  // out[oy,ox] reads padded rows 2oy-1..2oy, cols 2ox-1..2ox:
  //   [0,0]: w[1,1]*x[0,0] = 4                      -> 14
  //   [0,1]: w[1,0]*x[0,1] + w[1,1]*x[0,2] = 6 + 12 -> 28
  //   [1,0]: w[0,1]*x[1,0] + w[1,1]*x[2,0] = 8 + 28 -> 46
  //   [1,1]: 1*5 + 2*6 + 3*8 + 4*9 = 77             -> 87
  EXPECT_TRUE(bit_equal(from_vector<double>({14, 28, 46, 87}, {1, 1, 2, 2}), out, "hand-computed conv"));
  // Dilation 2, no padding: the 2x2 filter spans the 3x3 corners: 1*1 + 2*3 + 3*7 + 4*9 = 64.
  EXPECT_TRUE(bit_equal(from_vector<double>({64}, {1, 1, 1, 1}), raw::conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {2, 2}),
                        "dilated"));
  // Groups 2: each output channel sees only its own input channel.
  const Tensor x2 = from_vector<double>({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  const Tensor w2 = from_vector<double>({1, 1, 1, 1, 2, 0, 0, 2}, {2, 1, 2, 2});
  EXPECT_TRUE(bit_equal(from_vector<double>({10, 100}, {1, 2, 1, 1}), raw::conv2d(x2, w2, Tensor(), {1, 1}, {0, 0},
                                                                                  {1, 1}, 2),
                        "grouped"));
}

// The forward is bilinear, so for any dy: <conv(x, w), dy> = <x, dX(dy, w)> = <w, dW(x, dy)>,
// and <dy, 1 per channel> = dbias . 1. Checked in f64 on every config: an independent
// check that the three reference kernels agree with each other.
TEST(Conv2dRef, BackwardIsTheAdjoint) {
  uint64_t seed = 7;
  for (Conv c : configs()) {
    SCOPED_TRACE(c.str());
    c.bias = false;  // <conv(x,w) + b, dy> would add b . sum(dy); checked through dbias below
    const Tensor x = random_tensor(c.input_shape(), DType::f64, ++seed);
    const Tensor w = random_tensor(c.weight_shape(), DType::f64, ++seed);
    const Tensor dy = random_tensor(c.output_shape(), DType::f64, ++seed);
    const Results r = run(c, x, w, Tensor(), dy, true);
    auto dot = [](const Tensor& a, const Tensor& b) { return raw::sum(raw::mul(a, b)).item(); };
    auto norm = [](const Tensor& a) { return raw::sum(raw::abs(a)).item(); };
    const double forward = dot(r.out, dy);
    const double scale = norm(r.out) * 4 + 1;  // |dy| < 2: a bound on the terms
    EXPECT_NEAR(dot(x, r.grad_input), forward, 1e-12 * scale) << "<x, dX> vs <conv(x,w), dy>";
    EXPECT_NEAR(dot(w, r.grad_weight), forward, 1e-12 * scale) << "<w, dW> vs <conv(x,w), dy>";
    const auto [gw, gb] = raw::conv2d_backward_weight(x, dy, c.weight_shape(), true, c.stride, c.padding, c.dilation,
                                                      c.groups);
    EXPECT_NEAR(raw::sum(gb).item(), raw::sum(dy).item(), 1e-12 * (norm(dy) + 1)) << "dbias";
  }
}

TEST(Conv2d, EmptyBatch) {
  for (bool reference : {true, false}) {
    ReferenceModeGuard mode(reference);
    const Conv c = make(0, 4, 5, 5, 6, 3, 3, {1, 1}, {1, 1});
    const Tensor x = zeros(c.input_shape()), w = ones(c.weight_shape()), dy = zeros(c.output_shape());
    EXPECT_EQ(raw::conv2d(x, w, ones({6}), c.stride, c.padding).sizes(), (Shape{0, 6, 5, 5}));
    EXPECT_EQ(raw::conv2d_backward_input(dy, w, c.input_shape(), c.stride, c.padding).sizes(), c.input_shape());
    const auto [gw, gb] = raw::conv2d_backward_weight(x, dy, c.weight_shape(), true, c.stride, c.padding);
    EXPECT_TRUE(bit_equal(zeros(c.weight_shape()), gw, "dW of an empty batch is 0"));
    EXPECT_TRUE(bit_equal(zeros({6}), gb, "dbias of an empty batch is 0"));
  }
}

// ---- determinism ---------------------------------------------------------------------

// The work is cut by the shape only (conv2d_cpu.cpp), so 1 and 2 threads give the same
// bits for all three passes (DESIGN.md, contract 2). ResNet-ish layers, batch 1 and 2.
TEST(Conv2d, SameBitsForAnyThreadCount) {
  uint64_t seed = 1;
  for (const Conv& c : {
           make(2, 64, 28, 28, 64, 3, 3, {1, 1}, {1, 1}),                    // layer1-like
           make(1, 128, 14, 14, 256, 3, 3, {2, 2}, {1, 1}),                  // layer3 downsampling 3x3: row slices
           make(4, 64, 16, 16, 128, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1, false), // 1x1/2 shortcut
           make(1, 256, 14, 14, 512, 1, 1, {2, 2}),                          // 1x1/2: row slices
           make(3, 64, 56, 56, 128, 1, 1, {2, 2}),                           // 1x1/2: many blocks
           make(1, 256, 7, 7, 256, 1, 1),                                    // pointwise
           make(1, 3, 64, 64, 64, 7, 7, {2, 2}, {3, 3}),                     // conv1
           make(2, 32, 28, 28, 32, 3, 3, {1, 1}, {1, 1}, {1, 1}, 32),        // depthwise
       }) {
    SCOPED_TRACE(c.str());
    const Tensor x = random_tensor(c.input_shape(), DType::f32, ++seed);
    const Tensor w = random_tensor(c.weight_shape(), DType::f32, ++seed);
    const Tensor b = c.bias ? random_tensor({c.out_channels}, DType::f32, ++seed) : Tensor();
    const Tensor dy = random_tensor(c.output_shape(), DType::f32, ++seed);
    Results one, two;
    {
      ThreadGuard threads(1);
      one = run(c, x, w, b, dy, false);
    }
    {
      ThreadGuard threads(2);
      two = run(c, x, w, b, dy, false);
    }
    EXPECT_TRUE(bit_equal(one.out, two.out, "forward on 1 vs 2 threads"));
    EXPECT_TRUE(bit_equal(one.grad_input, two.grad_input, "backward input on 1 vs 2 threads"));
    EXPECT_TRUE(bit_equal(one.grad_weight, two.grad_weight, "backward weight on 1 vs 2 threads"));
    if (c.bias) {
      EXPECT_TRUE(bit_equal(one.grad_bias, two.grad_bias, "grad bias on 1 vs 2 threads"));
    }
  }
  // The kernels pin OpenBLAS to one thread inside their own parallel regions only.
  ThreadGuard threads(2);
  raw::conv2d(random_tensor({1, 64, 14, 14}, DType::f32, 1), random_tensor({64, 64, 3, 3}, DType::f32, 2), Tensor());
  EXPECT_EQ(omp_get_max_threads(), 2);
}

// ---- errors --------------------------------------------------------------------------

TEST(Conv2d, Errors) {
  const Tensor x = zeros({8, 3, 32, 32}), w = zeros({64, 3, 3, 3});
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, zeros({64, 64, 3, 3}), Tensor()),
                      "conv2d: input has 3 channels but weight expects 64 (input [8,3,32,32] f32 cpu, weight "
                      "[64,64,3,3], groups=1)");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({3, 32, 32}), w, Tensor()),
                      "conv2d: input must be 4-D [N, C_in, H, W], got [3,32,32] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, zeros({64, 3, 3}), Tensor()),
                      "conv2d: weight must be 4-D [C_out, C_in/groups, kH, kW], got [64,3,3] (input [8,3,32,32] f32 "
                      "cpu)");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 6, 8, 8}), zeros({4, 3, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 4),
                      "conv2d: groups=4 does not divide the 6 input channels (input [1,6,8,8] f32 cpu, weight "
                      "[4,3,3,3], groups=4)");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 6, 8, 8}), zeros({5, 3, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2),
                      "conv2d: groups=2 does not divide the 5 output channels of the weight (input [1,6,8,8] f32 cpu, "
                      "weight [5,3,3,3], groups=2)");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 6, 8, 8}), zeros({4, 3, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 0),
                      "conv2d: groups must be positive, got 0");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 3, 4, 4}), zeros({2, 3, 5, 5}), Tensor()),
                      "conv2d: the kernel spans 5x5 (5x5 at dilation [1,1]) but the padded input is only 4x4 (input "
                      "[1,3,4,4] f32 cpu, weight [2,3,5,5], groups=1, padding [0,0])");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 3, 6, 6}), zeros({2, 3, 3, 3}), Tensor(), {1, 1}, {0, 0}, {3, 1}),
                      "conv2d: the kernel spans 7x3 (3x3 at dilation [3,1]) but the padded input is only 6x6");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, Tensor(), {0, 1}), "conv2d: stride must be positive, got [0,1]");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, -1}),
                      "conv2d: dilation must be positive, got [1,-1]");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, Tensor(), {1, 1}, {-1, 0}), "conv2d: padding must be non-negative, got [-1,0]");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, zeros({64, 3, 0, 3}), Tensor()),
                      "conv2d: weight has no output channels or an empty kernel (input [8,3,32,32] f32 cpu, weight "
                      "[64,3,0,3], groups=1)");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, zeros({32})),
                      "conv2d: bias must be [64] (one value per output channel of weight [64,3,3,3]), got [32] f32 "
                      "cpu");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, zeros({64}, DType::f64)), "conv2d: dtype mismatch", "[64] f64 cpu");
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, zeros({64, 3, 3, 3}, DType::f64), Tensor()), "conv2d: dtype mismatch",
                      "[8,3,32,32] f32 cpu", "[64,3,3,3] f64 cpu");
  EXPECT_LOWBIT_ERROR(raw::conv2d(zeros({1, 3, 8, 8}, DType::i32), zeros({2, 3, 3, 3}, DType::i32), Tensor()),
                      "conv2d: expected an f32 or f64 tensor, got [1,3,8,8] i32 cpu");
  EXPECT_LOWBIT_ERROR(raw::conv2d(Tensor(), w, Tensor()), "conv2d: undefined input");
  if (cuda_device_count() > 0) {
    EXPECT_LOWBIT_ERROR(raw::conv2d(x, w.to(Device::cuda()), Tensor()), "conv2d: inputs are on different devices");
  }

  // The backward passes check the same things, and grad_output against the forward's shape.
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_input(zeros({8, 64, 30, 30}), zeros({64, 64, 3, 3}), {8, 3, 32, 32}),
                      "conv2d_backward_input: input has 3 channels but weight expects 64 (input [8,3,32,32], weight "
                      "[64,64,3,3], groups=1)");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_input(zeros({8, 64, 32, 32}), w, {8, 3, 32, 32}),
                      "conv2d_backward_input: grad_output [8,64,32,32] f32 cpu does not match the output shape "
                      "[8,64,30,30] of the convolution (input [8,3,32,32], weight [64,3,3,3])");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_input(zeros({8, 64, 30, 30}), w, {8, 3, 32}),
                      "conv2d_backward_input: input must be 4-D [N, C_in, H, W], got [8,3,32]");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_weight(x, zeros({8, 64, 31, 30}), {64, 3, 3, 3}, true),
                      "conv2d_backward_weight: grad_output [8,64,31,30] f32 cpu does not match the output shape "
                      "[8,64,30,30] of the convolution (input [8,3,32,32] f32 cpu, weight [64,3,3,3])");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_weight(x, zeros({8, 63, 30, 30}), {63, 3, 3, 3}, true, {1, 1}, {0, 0},
                                                  {1, 1}, 3),
                      "conv2d_backward_weight: input has 3 channels but weight expects 9");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_weight(x, zeros({8, 64, 30, 30}, DType::f64), {64, 3, 3, 3}, true),
                      "conv2d_backward_weight: dtype mismatch");
}

// ---- CUDA ----------------------------------------------------------------------------

TEST(Conv2d, CudaHasNoKernelYet) {
  LOWBIT_REQUIRE_CUDA();
  const Device gpu = Device::cuda();
  const Tensor x = zeros({1, 3, 8, 8}, DType::f32, gpu), w = zeros({4, 3, 3, 3}, DType::f32, gpu);
  EXPECT_LOWBIT_ERROR(raw::conv2d(x, w, Tensor()), "conv2d: there is no CUDA kernel for this op yet");
  EXPECT_LOWBIT_ERROR(raw::conv2d_backward_input(zeros({1, 4, 6, 6}, DType::f32, gpu), w, {1, 3, 8, 8}),
                      "conv2d_backward_input: there is no CUDA kernel for this op yet");
}

}  // namespace
}  // namespace lowbit
