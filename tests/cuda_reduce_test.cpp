// CUDA reductions, matmul and random against the CPU. Every test starts with
// LOWBIT_REQUIRE_CUDA() and skips without a GPU; bounds as listed in cuda_test.cpp.
#include "tests/cuda_test_util.h"

namespace lowbit {
namespace {

using namespace cuda_test;
using test::bit_equal;
using test::random_tensor;

// ---- reductions --------------------------------------------------------------------------

struct ReduceCase {
  Shape sizes;
  std::vector<int64_t> dims;
  const char* path;  // which CUDA launch shape it exercises (reduce_cuda.cu)
};
const ReduceCase kReduceCases[] = {
    {{3, 50000}, {1}, "two-stage rows"},
    {{517, 1031}, {}, "two-stage, one row"},
    {{300, 1000}, {1}, "block per row"},
    {{1000, 20}, {1}, "short rows, thread per row"},
    {{200, 7, 33}, {1}, "columns (inner 33)"},
    {{5000, 3}, {0}, "columns (outer 1)"},
    {{16, 3, 8, 8}, {0, 2, 3}, "permuted copy, then rows"},
    {{4, 1}, {1}, "rows of one"},
};

// Values with many ties, both zeros and a few NaNs: exercises first-max and +0 > -0.
Tensor tie_heavy(DType t, const Shape& sizes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double choices[] = {-1.0, -0.0, 0.0, 1.0, 2.0};
  std::vector<double> v(static_cast<size_t>(shape_numel(sizes)));
  for (double& x : v) x = choices[rng() % 5];
  if (is_floating(t))
    for (size_t i = 0; i < v.size(); i += 997) v[i] = kNaN;
  return from_vector(v, sizes).to(t);
}

TEST(CudaReduce, ExactOpsMatchCpuBitForBit) {
  LOWBIT_REQUIRE_CUDA();
  uint64_t seed = 60;
  for (const ReduceCase& c : kReduceCases) {
    for (DType t : kAllDtypes) {
      for (const Tensor& h : {inputs(t, c.sizes, seed++), tie_heavy(t, c.sizes, seed++)}) {
        const Tensor g = h.to(kGpu);
        const std::string name = str_cat(dtype_name(t), " ", shape_str(c.sizes), " dims ", shape_str(c.dims), " (",
                                         c.path, ")");
        if (!is_floating(t)) {
          EXPECT_TRUE(bit_equal(raw::sum(h, c.dims), raw::sum(g, c.dims).cpu(), "sum " + name));
        }
        EXPECT_TRUE(bit_equal(raw::max(h, c.dims), raw::max(g, c.dims).cpu(), "max " + name));
        EXPECT_TRUE(bit_equal(raw::min(h, c.dims), raw::min(g, c.dims).cpu(), "min " + name));
        const auto [lo_h, hi_h] = raw::aminmax(h, c.dims);
        const auto [lo_g, hi_g] = raw::aminmax(g, c.dims);
        EXPECT_TRUE(bit_equal(lo_h, lo_g.cpu(), "aminmax (min) " + name));
        EXPECT_TRUE(bit_equal(hi_h, hi_g.cpu(), "aminmax (max) " + name));
        if (c.dims.size() == 1) {
          EXPECT_TRUE(bit_equal(raw::argmax(h, c.dims[0]), raw::argmax(g, c.dims[0]).cpu(), "argmax " + name));
        }
        if (c.dims.empty()) {
          EXPECT_TRUE(bit_equal(raw::argmax(h), raw::argmax(g).cpu(), "argmax (flat) " + name));
        }
      }
    }
  }
}

// tests/reduce_test.cpp's bound for float sum/mean/var of x over dims (two f64
// accumulations of the same values in different orders); ref is the CPU result.
std::vector<double> float_bound(const char* op, const Tensor& x, const std::vector<int64_t>& dims, int64_t correction,
                                const Tensor& ref) {
  const std::vector<double> S = raw::sum(raw::abs(x.to(DType::f64)), dims).to_vector<double>();
  const std::vector<double> r = ref.to_vector<double>();
  const double n = static_cast<double>(x.numel() / std::max<int64_t>(ref.numel(), 1));
  const double u = std::ldexp(1.0, -53);
  const double eps = x.dtype() == DType::f32 ? std::ldexp(1.0, -23) : std::ldexp(1.0, -52);
  const double dof = std::max(n - static_cast<double>(correction), 1.0);
  const double tiny = 2 * (x.dtype() == DType::f32 ? std::numeric_limits<float>::denorm_min()
                                                   : std::numeric_limits<double>::denorm_min());
  std::vector<double> tol(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    const double sum_err = 2 * std::max(n - 1, 0.0) * u * S[i];
    if (std::string(op) == "sum") tol[i] = sum_err + eps * std::fabs(r[i]);
    if (std::string(op) == "mean") tol[i] = sum_err / std::max(n, 1.0) + eps * std::fabs(r[i]);
    if (std::string(op) == "var") tol[i] = (2 * (n + 3) * u + eps) * std::fabs(r[i]) + 2 * n * (u * S[i]) * (u * S[i]) / dof;
    tol[i] += tiny;
  }
  return tol;
}

TEST(CudaReduce, FloatSumMeanVarWithinBound) {
  LOWBIT_REQUIRE_CUDA();
  uint64_t seed = 80;
  for (const ReduceCase& c : kReduceCases) {
    for (DType t : kFloatDtypes) {
      const Tensor h = random_tensor(c.sizes, t, seed++, -2, 3);  // a nonzero mean: var's two passes matter
      const Tensor g = h.to(kGpu);
      const std::string name = str_cat(dtype_name(t), " ", shape_str(c.sizes), " dims ", shape_str(c.dims), " (",
                                       c.path, ")");
      const Tensor s = raw::sum(h, c.dims), m = raw::mean(h, c.dims);
      EXPECT_TRUE(within(s, raw::sum(g, c.dims).cpu(), float_bound("sum", h, c.dims, 0, s), "sum " + name));
      EXPECT_TRUE(within(m, raw::mean(g, c.dims).cpu(), float_bound("mean", h, c.dims, 0, m), "mean " + name));
      for (int64_t correction : {0, 1, 2}) {
        const Tensor v = raw::var(h, c.dims, correction);
        EXPECT_TRUE(within(v, raw::var(g, c.dims, correction).cpu(), float_bound("var", h, c.dims, correction, v),
                           str_cat("var(correction ", correction, ") ", name)));
      }
    }
  }
}

TEST(CudaReduce, SpecialValuesAndEmptyRows) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kFloatDtypes) {
    const Tensor h = inputs(t, {4, 100}, 90);  // NaN and infinities in the first rows
    const Tensor g = h.to(kGpu);
    EXPECT_TRUE(same_values(raw::sum(h, {1}), raw::sum(g, {1}).cpu(), "sum with NaN/inf"));
    // Zero reduced elements: sum 0, mean and var NaN.
    const Tensor e = zeros({0, 5}, t), eg = zeros({0, 5}, t, kGpu);
    EXPECT_TRUE(same_values(raw::sum(e, {0}), raw::sum(eg, {0}).cpu(), "sum over 0 elements"));
    EXPECT_TRUE(same_values(raw::mean(e, {0}), raw::mean(eg, {0}).cpu(), "mean over 0 elements"));
    EXPECT_TRUE(same_values(raw::var(e, {0}), raw::var(eg, {0}).cpu(), "var over 0 elements"));
    // One element per row: var is 0/0 = NaN with correction 1, 0 with correction 0.
    const Tensor one = inputs(t, {10, 1}, 91, 1, 2);
    for (int64_t correction : {0, 1, 2})
      EXPECT_TRUE(same_values(raw::var(one, {1}, correction), raw::var(one.to(kGpu), {1}, correction).cpu(),
                              str_cat("var of one element, correction ", correction)));
  }
}

TEST(CudaReduce, SameBitsOnEveryRun) {
  LOWBIT_REQUIRE_CUDA();
  for (const ReduceCase& c : kReduceCases) {
    const Tensor g = random_tensor(c.sizes, DType::f32, 100).to(kGpu);
    const std::string name = str_cat(shape_str(c.sizes), " dims ", shape_str(c.dims), " (", c.path, ")");
    EXPECT_TRUE(bit_equal(raw::sum(g, c.dims).cpu(), raw::sum(g, c.dims).cpu(), "sum twice " + name));
    EXPECT_TRUE(bit_equal(raw::var(g, c.dims).cpu(), raw::var(g, c.dims).cpu(), "var twice " + name));
  }
}

// ---- matmul ------------------------------------------------------------------------------

TEST(CudaMatmul, MatchesCpuWithinBound) {
  LOWBIT_REQUIRE_CUDA();
  struct Case {
    Shape a, b;
    bool transpose;  // pass a.t() and b.t() of the given (swapped) shapes
    const char* name;
  };
  const Case cases[] = {
      {{33, 17}, {17, 29}, false, "plain"},
      {{17, 33}, {29, 17}, true, "transposed views (trans flags)"},
      {{4, 33, 17}, {17, 29}, false, "batched, broadcast b (batch stride 0)"},
      {{2, 1, 5, 6}, {3, 6, 7}, false, "broadcast batch dims"},
      {{17}, {17, 29}, false, "vector @ matrix"},
      {{33, 17}, {17}, false, "matrix @ vector"},
      {{17}, {17}, false, "dot"},
      {{3, 0}, {0, 4}, false, "k = 0"},
      {{256, 300}, {300, 200}, false, "larger"},
  };
  uint64_t seed = 110;
  for (const Case& c : cases) {
    for (DType t : kFloatDtypes) {
      Tensor a = random_tensor(c.a, t, seed++), b = random_tensor(c.b, t, seed++);
      Tensor ag = a.to(kGpu), bg = b.to(kGpu);
      if (c.transpose) {
        a = a.t(), b = b.t(), ag = ag.t(), bg = bg.t();
      }
      const Tensor want = raw::matmul(a, b), got = raw::matmul(ag, bg);
      EXPECT_EQ(got.device(), kGpu);
      const int64_t k = a.size(-1);
      const double u = t == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
      std::vector<double> tol = raw::matmul(raw::abs(a.to(DType::f64)), raw::abs(b.to(DType::f64))).to_vector<double>();
      for (double& x : tol) x *= 2.0 * static_cast<double>(k + 2) * u;
      EXPECT_TRUE(within(want, got.cpu(), tol, str_cat("matmul ", dtype_name(t), " ", c.name)));
    }
  }
}

// ---- random --------------------------------------------------------------------------------

// Draws with the same (seed, offset) on CPU and CUDA; both generators must advance alike.
template <typename Draw>
std::pair<Tensor, Tensor> draw_both(Draw draw) {
  Generator cpu_gen{1234, 17}, gpu_gen{1234, 17};
  Tensor c = draw(Device::cpu(), &cpu_gen), g = draw(kGpu, &gpu_gen).cpu();
  EXPECT_EQ(cpu_gen.offset, gpu_gen.offset);
  return {c, g};
}

TEST(CudaRandom, UniformRandintBernoulliAreBitIdentical) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kFloatDtypes) {
    for (auto [lo, hi] : {std::pair{-2.0, 3.0}, std::pair{0.0, 1.0}, std::pair{1.0, 1.0000001}}) {
      auto [c, g] = draw_both([&](Device d, Generator* gen) { return uniform({100001}, lo, hi, t, d, gen); });
      EXPECT_TRUE(bit_equal(c, g, str_cat("uniform [", lo, ", ", hi, ") ", dtype_name(t))));
    }
  }
  for (DType t : {DType::i8, DType::i32, DType::i64, DType::f32}) {
    const int64_t lo = t == DType::i8 ? -100 : -1000, hi = t == DType::i8 ? 100 : 1000000;
    auto [c, g] = draw_both([&](Device d, Generator* gen) { return randint({100001}, lo, hi, t, d, gen); });
    EXPECT_TRUE(bit_equal(c, g, str_cat("randint ", dtype_name(t))));
  }
  auto [c64, g64] = draw_both([&](Device d, Generator* gen) {
    return randint({4097}, -(int64_t{1} << 40), int64_t{1} << 50, DType::i64, d, gen);
  });
  EXPECT_TRUE(bit_equal(c64, g64, "randint i64, wide range"));
  for (DType t : {DType::f32, DType::u8, DType::b8}) {
    for (double p : {0.0, 0.3, 1.0}) {
      auto [c, g] = draw_both([&](Device d, Generator* gen) { return bernoulli({100001}, p, t, d, gen); });
      EXPECT_TRUE(bit_equal(c, g, str_cat("bernoulli ", p, " ", dtype_name(t))));
    }
  }
  auto [c1, g1] = draw_both([&](Device d, Generator* gen) { return uniform({1}, 0, 1, DType::f32, d, gen); });
  EXPECT_TRUE(bit_equal(c1, g1, "uniform, one element (odd count)"));
}

// normal: the log and cos of each platform's libm, in double (random.h). Mean 0, so the
// result is a product and its ulp error is the sum of the factors' errors.
TEST(CudaRandom, NormalWithinOneUlpInF32) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kFloatDtypes) {
    auto [c, g] = draw_both([&](Device d, Generator* gen) { return normal({100001}, 0, 2, t, d, gen); });
    EXPECT_TRUE(within_ulp(c, g, t == DType::f32 ? 1 : 8, str_cat("normal ", dtype_name(t))));
  }
}

}  // namespace
}  // namespace lowbit
