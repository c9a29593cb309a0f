// pool2d: max_pool2d (values and indices), avg_pool2d and adaptive_avg_pool2d, forward
// and backward (tensor/kernels/pool2d.h, tensor/ops_nn.h).
//
// Bound used, cpu vs ref: none, bit for bit, for every op. The CPU path computes each
// output with the reference's operations in the reference's order: max pooling only
// compares and selects; its backward adds in the dtype in row-major output order, one
// thread per plane; the averages sum in double in the same order on both paths (the
// CPU's gather visits a dx element's outputs in the order the reference's scatter adds
// them) and divide by the same integer count. So the tests below demand bit equality.
// The backward passes are also checked as the adjoints of the forward maps in f64,
// <pool(x), g> = <x, pool_backward(g)>, to within 1e-12 relative.
#include <hwy/targets.h>

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/kernels/pool2d.h"
#include "tensor/ops.h"
#include "tensor/ops_nn.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_strided;
using test::random_tensor;
using test::ThreadGuard;
using Pair = std::array<int64_t, 2>;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Runs `fn` on the fast kernels (fast = true) or on the reference.
template <typename Fn>
auto run_on(bool fast, Fn&& fn) {
  ReferenceModeGuard mode(!fast);
  return fn();
}

// A max/avg pooling configuration (avg uses dilation 1).
struct PoolCase {
  Shape in;
  Pair kernel, stride, padding, dilation;
};

// Odd sizes, overlapping windows (kernel 3 stride 2), padding, dilation, non-square
// kernels and strides, an empty batch, and sizes large enough for the parallel path.
const std::vector<PoolCase> kCases = {
    {{2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}},   {{1, 2, 5, 5}, {2, 2}, {2, 2}, {0, 0}, {1, 1}},
    {{2, 1, 8, 11}, {3, 2}, {1, 2}, {1, 0}, {1, 1}},  {{1, 3, 13, 10}, {3, 3}, {2, 1}, {1, 1}, {2, 2}},
    {{3, 2, 6, 7}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},   {{1, 1, 9, 9}, {5, 3}, {3, 2}, {2, 1}, {1, 3}},
    {{2, 2, 4, 4}, {4, 4}, {1, 1}, {2, 2}, {1, 1}},   {{1, 2, 1, 6}, {1, 3}, {1, 3}, {0, 1}, {1, 1}},
    {{4, 8, 33, 33}, {3, 3}, {2, 2}, {1, 1}, {1, 1}}, {{2, 16, 30, 22}, {2, 2}, {2, 2}, {0, 0}, {1, 1}},
    {{0, 3, 5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}},
    // Wide rows for max pooling's vector path (stride_w 1 or 2, windows inside the input):
    // ResNet's stem pooling on odd sizes, stride 1, dilation, 1x1 and non-square kernels.
    {{2, 3, 23, 47}, {3, 3}, {2, 2}, {1, 1}, {1, 1}}, {{1, 2, 9, 57}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
    {{1, 2, 12, 75}, {3, 3}, {2, 2}, {1, 1}, {2, 2}}, {{2, 2, 11, 64}, {2, 2}, {1, 1}, {0, 0}, {1, 3}},
    {{1, 2, 7, 40}, {1, 1}, {2, 2}, {0, 0}, {1, 1}},  {{1, 1, 5, 45}, {2, 5}, {1, 2}, {1, 2}, {1, 1}},
    {{1, 1, 4, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1}},
};

// Values that stress the max's tie and NaN rules: small integers (many ties, +-0 among
// them, which tie too) with NaN, +-inf and -0 sprinkled in.
Tensor special_input(const Shape& shape, DType dt, uint64_t seed) {
  std::vector<double> v = raw::round(random_tensor(shape, DType::f64, seed, -2, 2)).to_vector<double>();
  const double specials[] = {kNaN, -kNaN, INFINITY, -INFINITY, -0.0, 0.0};
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    if ((h >> 7) % 9 == 0) v[i] = specials[(h >> 13) % 6];
  }
  return from_vector(v, shape).to(dt);
}

// Runs fn once per SIMD target compiled into the library and supported by this CPU,
// so every vector path of max pooling is checked, not only this machine's best one.
template <typename Fn>
void for_each_simd_target(Fn&& fn) {
  auto use_targets = [](int64_t targets) {
    hwy::SetSupportedTargetsForTest(targets);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  };
  struct Reset {
    std::function<void(int64_t)> use;
    ~Reset() { use(0); }
  } reset{use_targets};
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    use_targets(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn();
  }
}

std::string case_name(const char* op, const Tensor& x, const PoolCase& c) {
  return str_cat(op, " on ", describe(x), x.is_contiguous() ? "" : " (strided)", " kernel ",
                 shape_str(Shape{c.kernel[0], c.kernel[1]}), " stride ", shape_str(Shape{c.stride[0], c.stride[1]}),
                 " padding ", shape_str(Shape{c.padding[0], c.padding[1]}), " dilation ",
                 shape_str(Shape{c.dilation[0], c.dilation[1]}));
}

// Sum of a*b over all elements, in double (for the adjoint identities).
double dot(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

TEST(Pool2dParity, MaxAndAvgCpuEqualsRefBitForBit) {
  uint64_t seed = 1;
  for (const PoolCase& c : kCases) {
    for (DType dt : {DType::f32, DType::f64}) {
      for (int variant = 0; variant < 4; ++variant) {
        // 0: contiguous, 1: strided, 2: small integers (many ties within a window),
        // 3: ties with NaN, +-inf and -0 among them.
        const Tensor x = variant == 1   ? random_strided(c.in, dt, seed)
                         : variant == 2 ? raw::round(random_tensor(c.in, dt, seed, -2, 2))
                         : variant == 3 ? special_input(c.in, dt, seed)
                                        : random_tensor(c.in, dt, seed);
        ++seed;
        auto max_fwd = [&] { return raw::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation); };
        const auto [y_ref, i_ref] = run_on(false, max_fwd);
        const auto [y_cpu, i_cpu] = run_on(true, max_fwd);
        EXPECT_TRUE(bit_equal(y_ref, y_cpu, case_name("max_pool2d values", x, c)));
        EXPECT_TRUE(bit_equal(i_ref, i_cpu, case_name("max_pool2d indices", x, c)));
        const Tensor dy = random_tensor(y_ref.sizes(), dt, seed + 1000);
        auto max_bwd = [&] { return raw::max_pool2d_backward(dy, i_ref, x.sizes()); };
        EXPECT_TRUE(bit_equal(run_on(false, max_bwd), run_on(true, max_bwd), case_name("max_pool2d_backward", x, c)));

        if (c.dilation != Pair{1, 1}) continue;
        for (bool include_pad : {true, false}) {
          auto avg_fwd = [&] { return raw::avg_pool2d(x, c.kernel, c.stride, c.padding, include_pad); };
          const Tensor a_ref = run_on(false, avg_fwd);
          EXPECT_TRUE(bit_equal(a_ref, run_on(true, avg_fwd), case_name("avg_pool2d", x, c)));
          auto avg_bwd = [&] {
            return raw::avg_pool2d_backward(dy, x.sizes(), c.kernel, c.stride, c.padding, include_pad);
          };
          EXPECT_TRUE(bit_equal(run_on(false, avg_bwd), run_on(true, avg_bwd), case_name("avg_pool2d_backward", x, c)));
        }
        if (::testing::Test::HasFailure()) return;  // one broken case is enough to read
      }
    }
  }
}

// Max pooling has a SIMD path: its values and indices on every target, on the cases
// with rows wide enough for it (and a few without), ties and NaN included.
TEST(Pool2dParity, MaxOnEveryTarget) {
  for_each_simd_target([] {
    uint64_t seed = 300;
    for (const PoolCase& c : kCases) {
      for (DType dt : {DType::f32, DType::f64}) {
        for (const Tensor& x : {random_tensor(c.in, dt, seed), special_input(c.in, dt, seed + 1)}) {
          auto fwd = [&] { return raw::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation); };
          const auto [y_ref, i_ref] = run_on(false, fwd);
          const auto [y_cpu, i_cpu] = run_on(true, fwd);
          ASSERT_TRUE(bit_equal(y_ref, y_cpu, case_name("max_pool2d values", x, c)));
          ASSERT_TRUE(bit_equal(i_ref, i_cpu, case_name("max_pool2d indices", x, c)));
        }
        seed += 2;
      }
    }
  });
}

TEST(Pool2dParity, AdaptiveCpuEqualsRefBitForBit) {
  // (H, W) -> (OH, OW): shrinking with uneven windows (7 -> 3), growing (5 -> 7, windows
  // of one input repeated), global pooling, identity, and one large enough to run parallel.
  const std::vector<std::pair<Shape, Pair>> cases = {
      {{2, 3, 7, 7}, {3, 3}}, {{1, 2, 5, 5}, {7, 7}},   {{2, 2, 7, 5}, {3, 7}},    {{3, 4, 9, 11}, {1, 1}},
      {{1, 1, 6, 6}, {6, 6}}, {{2, 1, 10, 13}, {4, 5}}, {{8, 16, 28, 28}, {5, 3}}, {{0, 2, 4, 4}, {2, 2}}};
  uint64_t seed = 500;
  for (const auto& [shape, out] : cases) {
    for (DType dt : {DType::f32, DType::f64}) {
      const Tensor x = (seed % 2) ? random_strided(shape, dt, seed) : random_tensor(shape, dt, seed);
      ++seed;
      auto fwd = [&] { return raw::adaptive_avg_pool2d(x, out); };
      const Tensor y_ref = run_on(false, fwd);
      const std::string what = str_cat("adaptive_avg_pool2d ", describe(x), " -> ", out[0], "x", out[1]);
      EXPECT_TRUE(bit_equal(y_ref, run_on(true, fwd), what));
      const Tensor dy = random_tensor(y_ref.sizes(), dt, seed + 1000);
      auto bwd = [&] { return raw::adaptive_avg_pool2d_backward(dy, x.sizes()); };
      EXPECT_TRUE(bit_equal(run_on(false, bwd), run_on(true, bwd), what + " backward"));
    }
  }
}

TEST(Pool2dBackward, AdjointOfForward) {
  // In f64: <y, g> = <x, dx> for max pooling (y = x[index], exactly), avg and adaptive
  // (linear maps and their transposes), on both paths.
  for (bool fast : {false, true}) {
    const Tensor x = random_tensor({2, 3, 11, 9}, DType::f64, 7);
    const auto [y, idx] = run_on(fast, [&] { return raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}, {1, 2}); });
    Tensor g = random_tensor(y.sizes(), DType::f64, 8);
    Tensor dx = run_on(fast, [&] { return raw::max_pool2d_backward(g, idx, x.sizes()); });
    EXPECT_NEAR(dot(y, g), dot(x, dx), 1e-12 * std::fabs(dot(y, g)) + 1e-12) << "max, fast " << fast;
    for (bool include_pad : {true, false}) {
      const Tensor a = run_on(fast, [&] { return raw::avg_pool2d(x, {3, 2}, {2, 1}, {1, 1}, include_pad); });
      g = random_tensor(a.sizes(), DType::f64, 9);
      dx = run_on(fast, [&] { return raw::avg_pool2d_backward(g, x.sizes(), {3, 2}, {2, 1}, {1, 1}, include_pad); });
      EXPECT_NEAR(dot(a, g), dot(x, dx), 1e-12 * std::fabs(dot(a, g)) + 1e-12) << "avg, fast " << fast;
    }
    for (Pair out : {Pair{4, 4}, Pair{13, 5}}) {
      const Tensor a = run_on(fast, [&] { return raw::adaptive_avg_pool2d(x, out); });
      g = random_tensor(a.sizes(), DType::f64, 10);
      dx = run_on(fast, [&] { return raw::adaptive_avg_pool2d_backward(g, x.sizes()); });
      EXPECT_NEAR(dot(a, g), dot(x, dx), 1e-12 * std::fabs(dot(a, g)) + 1e-12) << "adaptive, fast " << fast;
    }
  }
}

// ---- hand-computed examples (both paths) ----

TEST(Pool2dExamples, MaxPool4x4KnownIndices) {
  // Windows of 2x2 stride 2: {1,2,4,0} -> 4 at (1,0); {5,3,1,1} -> 5 at (0,2);
  // {7,8,6,6} -> 8 at (2,1); {2,9,3,1} -> 9 at (2,3).
  const Tensor x = from_vector<float>({1, 2, 5, 3, 4, 0, 1, 1, 7, 8, 2, 9, 6, 6, 3, 1}, {1, 1, 4, 4});
  for (bool fast : {false, true}) {
    const auto [y, idx] = run_on(fast, [&] { return raw::max_pool2d(x, {2, 2}, {2, 2}); });
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{4, 5, 8, 9}));
    EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{4, 2, 9, 11}));
    // Backward scatters each gradient to its index.
    const Tensor dx = run_on(fast, [&] {
      return raw::max_pool2d_backward(from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2}), idx, x.sizes());
    });
    EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0, 0, 2, 0, 1, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0}));
  }
}

TEST(Pool2dExamples, MaxPoolOverlappingWindowsAccumulate) {
  // 3x3 with the maximum in the centre, kernel 2 stride 1: all four windows pick index 4.
  const Tensor x = from_vector<double>({1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3});
  for (bool fast : {false, true}) {
    const auto [y, idx] = run_on(fast, [&] { return raw::max_pool2d(x, {2, 2}, {1, 1}); });
    EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{4, 4, 4, 4}));
    const Tensor dx = run_on(fast, [&] {
      return raw::max_pool2d_backward(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}), idx, x.sizes());
    });
    EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
  }
}

TEST(Pool2dExamples, MaxPoolTiesPaddingAndNaN) {
  for (bool fast : {false, true}) {
    // All equal: the first position of each window in scan order (padding is skipped).
    const Tensor ones4 = ones({1, 1, 4, 4});
    auto [y, idx] = run_on(fast, [&] { return raw::max_pool2d(ones4, {2, 2}, {2, 2}); });
    EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 8, 10}));
    std::tie(y, idx) = run_on(fast, [&] { return raw::max_pool2d(ones4, {3, 3}, {2, 2}, {1, 1}); });
    EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 4, 5}));
    // Padding counts as -inf: an all-negative input still gives its own values.
    std::tie(y, idx) = run_on(fast, [&] { return raw::max_pool2d(full({1, 1, 2, 2}, -5.0), {3, 3}, {1, 1}, {1, 1}); });
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-5, -5, -5, -5}));
    // -0 and +0 tie: the first one stays (bit for bit).
    std::tie(y, idx) = run_on(fast, [&] {
      return raw::max_pool2d(from_vector<float>({-0.0f, 0.0f}, {1, 1, 1, 2}), {1, 2}, {1, 1});
    });
    EXPECT_TRUE(std::signbit(y.to_vector<float>()[0]));
    EXPECT_EQ(idx.to_vector<int64_t>()[0], 0);
    // -inf values are values: the first of them, not "no maximum".
    const double inf = std::numeric_limits<double>::infinity();
    std::tie(y, idx) = run_on(fast, [&] {
      return raw::max_pool2d(from_vector<double>({-inf, -inf}, {1, 1, 1, 2}), {1, 2}, {1, 1});
    });
    EXPECT_EQ(idx.to_vector<int64_t>()[0], 0);
    // NaN wins over every number, wherever it is; of two NaNs the first stays.
    const Tensor xn = from_vector<double>({3, 1, kNaN, 2, 7, kNaN, kNaN, 5}, {1, 1, 2, 4});
    std::tie(y, idx) = run_on(fast, [&] { return raw::max_pool2d(xn, {2, 2}, {2, 2}); });
    const std::vector<double> yv = y.to_vector<double>();
    EXPECT_TRUE(std::isnan(yv[0]) && std::isnan(yv[1]));
    EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{5, 2}));
  }
}

TEST(Pool2dExamples, AvgPoolPaddingCounts) {
  // 3x3 input 1..9, kernel 3 stride 1 padding 1. Corner (0,0) sums {1,2,4,5} = 12 over 9
  // positions (count_include_pad) or the 4 inside; the centre sums 45 over 9 either way.
  const Tensor x = arange(1, 10, 1, DType::f64).reshape({1, 1, 3, 3});
  for (bool fast : {false, true}) {
    const Tensor with_pad = run_on(fast, [&] { return raw::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}); });
    const Tensor without = run_on(fast, [&] { return raw::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false); });
    EXPECT_EQ(with_pad.to_vector<double>()[0], 12.0 / 9);
    EXPECT_EQ(without.to_vector<double>()[0], 12.0 / 4);
    EXPECT_EQ(without.to_vector<double>()[1], 21.0 / 6);  // {1,2,3,4,5,6}
    EXPECT_EQ(with_pad.to_vector<double>()[4], 5.0);
    // Backward: a 2x2 window of stride 1 on 2x2 spreads dy / 4 over all four inputs.
    const Tensor dx = run_on(fast, [&] {
      return raw::avg_pool2d_backward(full({1, 1, 1, 1}, 4.0, DType::f64), {1, 1, 2, 2}, {2, 2}, {1, 1});
    });
    EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{1, 1, 1, 1}));
  }
}

TEST(Pool2dExamples, AdaptiveWindowsFloorCeil) {
  // 5 -> 3: windows [0,2) [1,4) [3,5) (start floor(i*5/3), end ceil((i+1)*5/3)).
  // 5 -> 7: [0,1) [0,2) [1,3) [2,3) [2,4) [3,5) [4,5).
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  for (bool fast : {false, true}) {
    const Tensor y3 = run_on(fast, [&] { return raw::adaptive_avg_pool2d(x, {1, 3}); });
    EXPECT_EQ(y3.to_vector<double>(), (std::vector<double>{1.5, 3, 4.5}));
    const Tensor y7 = run_on(fast, [&] { return raw::adaptive_avg_pool2d(x, {1, 7}); });
    EXPECT_EQ(y7.to_vector<double>(), (std::vector<double>{1, 1.5, 2.5, 3, 3.5, 4.5, 5}));
    // Backward of 5 -> 3 with dy = 1: input 1 is in windows 0 and 1 (1/2 + 1/3), ...
    const Tensor dx = run_on(fast, [&] {
      return raw::adaptive_avg_pool2d_backward(ones({1, 1, 1, 3}, DType::f64), x.sizes());
    });
    EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5, 0.5}));
    // 7 -> 3 on rows: [0,3) [2,5) [4,7).
    const Tensor r = arange(0, 7, 1, DType::f64).reshape({1, 1, 7, 1});
    const Tensor y = run_on(fast, [&] { return raw::adaptive_avg_pool2d(r, {3, 1}); });
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 3, 5}));
  }
}

// ---- determinism ----

TEST(Pool2dDeterminism, OneAndTwoThreadsSameBits) {
  const Tensor x = random_tensor({8, 16, 29, 31}, DType::f32, 42);
  const Tensor xs = special_input({4, 16, 30, 58}, DType::f32, 45);  // ties and NaN, vector rows
  const auto [y, idx] = raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  const Tensor dy = random_tensor(y.sizes(), DType::f32, 43);
  const Tensor da = random_tensor({8, 16, 5, 7}, DType::f32, 44);
  auto all = [&] {
    return std::vector<Tensor>{raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}).first,
                               raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}).second,
                               raw::max_pool2d(xs, {3, 3}, {2, 2}, {1, 1}).first,
                               raw::max_pool2d(xs, {3, 3}, {2, 2}, {1, 1}).second,
                               raw::max_pool2d_backward(dy, idx, x.sizes()),
                               raw::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}, false),
                               raw::avg_pool2d_backward(dy, x.sizes(), {3, 3}, {2, 2}, {1, 1}, false),
                               raw::adaptive_avg_pool2d(x, {5, 7}),
                               raw::adaptive_avg_pool2d_backward(da, x.sizes())};
  };
  std::vector<Tensor> one, two;
  {
    ThreadGuard g(1);
    one = run_on(true, all);
  }
  {
    ThreadGuard g(2);
    two = run_on(true, all);
  }
  for (size_t k = 0; k < one.size(); ++k)
    EXPECT_TRUE(bit_equal(one[k], two[k], str_cat("result ", k, ": 1 vs 2 threads")));
}

// ---- errors ----

TEST(Pool2dErrors, MessagesNameTheOpAndTheTensor) {
  const Tensor x = zeros({1, 2, 4, 4});
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(zeros({2, 4, 4}), {2, 2}, {2, 2}), "max_pool2d", "4-D NCHW", "[2,4,4] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d(zeros({1, 1, 2, 4, 4}), {2, 2}, {2, 2}), "avg_pool2d", "4-D NCHW", "[1,1,2,4,4]");
  EXPECT_LOWBIT_ERROR(raw::adaptive_avg_pool2d(zeros({4, 4}), {2, 2}), "adaptive_avg_pool2d", "4-D NCHW", "[4,4]");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(zeros({1, 1, 4, 4}, DType::i64), {2, 2}, {2, 2}), "max_pool2d", "f32 or f64",
                      "[1,1,4,4] i64 cpu");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(Tensor(), {2, 2}, {2, 2}), "max_pool2d", "undefined");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {5, 5}, {1, 1}), "max_pool2d", "kernel (5, 5)",
                      "larger than the padded input (4, 4)", "[1,2,4,4] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {3, 3}, {1, 1}, {0, 0}, {2, 2}), "max_pool2d", "with dilation (2, 2)",
                      "larger than the padded input");
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d(x, {2, 7}, {1, 1}, {0, 1}), "avg_pool2d", "kernel (2, 7)", "padded input (4, 6)");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {3, 3}, {1, 1}, {2, 1}), "max_pool2d", "padding (2, 1)",
                      "at most half the kernel size (3, 3)");
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d(x, {2, 2}, {1, 1}, {1, 2}), "avg_pool2d", "padding (1, 2)", "at most half");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {2, 2}, {0, 2}), "max_pool2d", "stride must be positive, got (0, 2)");
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d(x, {2, 2}, {2, -1}), "avg_pool2d", "stride must be positive");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {0, 2}, {1, 1}), "max_pool2d", "kernel size must be positive, got (0, 2)");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {2, 2}, {1, 1}, {0, 0}, {1, 0}), "max_pool2d", "dilation must be positive");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {2, 2}, {1, 1}, {-1, 0}), "max_pool2d", "padding must be non-negative");
  // Dilation 5 steps from the left padding (-1) over the whole input to the right one (4).
  EXPECT_LOWBIT_ERROR(raw::max_pool2d(x, {2, 2}, {1, 1}, {1, 1}, {5, 5}), "max_pool2d", "output row 0",
                      "covers only padding", "[1,2,4,4] f32 cpu");
  // Adaptive pooling.
  EXPECT_LOWBIT_ERROR(raw::adaptive_avg_pool2d(x, {0, 2}), "adaptive_avg_pool2d", "output size must be positive",
                      "(0, 2)");
  EXPECT_LOWBIT_ERROR(raw::adaptive_avg_pool2d(zeros({1, 1, 0, 3}), {1, 1}), "adaptive_avg_pool2d",
                      "input planes are empty", "[1,1,0,3]");
  // max_pool2d_backward: the indices and sizes must belong to grad_out.
  const auto [y, idx] = raw::max_pool2d(x, {2, 2}, {2, 2});
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, idx.to(DType::i32), x.sizes()), "max_pool2d_backward",
                      "indices must be i64", "[1,2,2,2] i32 cpu");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, idx.narrow(3, 0, 1), x.sizes()), "max_pool2d_backward",
                      "indices [1,2,2,1] i64 cpu do not match grad_out [1,2,2,2] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, idx, {1, 3, 4, 4}), "max_pool2d_backward",
                      "differ in batch or channels", "[1,3,4,4]");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, idx, {2, 4, 4}), "max_pool2d_backward", "4-D NCHW input sizes",
                      "[2,4,4]");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, idx, {1, 2, 2, 2}), "max_pool2d_backward", "indices range over [",
                      "[0, 4)");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y, raw::sub(idx, 20.0), x.sizes()), "max_pool2d_backward",
                      "indices range over [-20");
  EXPECT_LOWBIT_ERROR(raw::max_pool2d_backward(y.to(DType::i64), idx, x.sizes()), "max_pool2d_backward", "f32 or f64");
  // avg/adaptive backward: grad_out must have the forward's output shape.
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d_backward(zeros({1, 2, 3, 3}), x.sizes(), {2, 2}, {2, 2}), "avg_pool2d_backward",
                      "grad_out [1,2,3,3] f32 cpu does not match the output [1,2,2,2]", "input sizes [1,2,4,4]");
  EXPECT_LOWBIT_ERROR(raw::avg_pool2d_backward(zeros({1, 2, 2, 2}), x.sizes(), {2, 2}, {0, 2}), "avg_pool2d_backward",
                      "stride must be positive", "input sizes [1,2,4,4]");
  EXPECT_LOWBIT_ERROR(raw::adaptive_avg_pool2d_backward(zeros({1, 3, 2, 2}), x.sizes()), "adaptive_avg_pool2d_backward",
                      "grad_out [1,3,2,2] f32 cpu does not match the output [1,2,2,2]");
  EXPECT_LOWBIT_ERROR(raw::adaptive_avg_pool2d_backward(zeros({2, 2}), x.sizes()), "adaptive_avg_pool2d_backward",
                      "4-D NCHW", "[2,2]");
}

TEST(Pool2dShapes, OutputSizesFollowPyTorch) {
  // floor((H + 2 pad - dilation (kernel - 1) - 1) / stride) + 1
  EXPECT_EQ(raw::max_pool2d(zeros({2, 3, 224, 224}), {3, 3}, {2, 2}, {1, 1}).first.sizes(), (Shape{2, 3, 112, 112}));
  EXPECT_EQ(raw::max_pool2d(zeros({1, 1, 13, 10}), {3, 3}, {2, 1}, {1, 1}, {2, 2}).first.sizes(), (Shape{1, 1, 6, 8}));
  EXPECT_EQ(raw::avg_pool2d(zeros({1, 1, 7, 8}), {2, 3}, {2, 2}).sizes(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(raw::adaptive_avg_pool2d(zeros({4, 5, 7, 7}), {1, 1}).sizes(), (Shape{4, 5, 1, 1}));
  EXPECT_EQ(raw::max_pool2d(zeros({2, 3, 5, 5}, DType::f64), {2, 2}, {2, 2}).second.dtype(), DType::i64);
}

}  // namespace
}  // namespace lowbit
