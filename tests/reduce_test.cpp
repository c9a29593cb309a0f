// reduce: the fast CPU kernels against the reference (tensor/kernels/reduce.h), through
// the raw op API (ReferenceModeGuard picks the kernel) and through direct kernel calls.
//
// What must agree exactly: max, min, aminmax, argmax (including NaN and signed zeros)
// and every integer or bool sum. What may differ by rounding: float sum, mean and var,
// which both backends accumulate in double but in a different order. The bound tested,
// per output with n reduced elements, S = sum |x| and u = 2^-53 (eps_T = 2^-23 for an
// f32 result, 2^-52 for f64):
//   sum   2 (n-1) u S + eps_T |ref|      any order of n-1 double additions is within
//                                        (n-1) u S of the exact sum; then one rounding
//   mean  the sum bound / n + eps_T |ref|
//   var   (2 (n+3) u + eps_T) |ref| + 2 n (u S)^2 / dof
//         (the deviations are rounded twice and summed; a mean that is off by d changes
//          sum (x - m)^2 by only n d^2)
// Determinism: large inputs give the same bits for 1 and 2 threads, on repeated runs and
// on every SIMD target Highway compiled.
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/kernels/reduce.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::bit_equal;
using test::random_strided;
using test::random_tensor;
using test::ThreadGuard;

constexpr DType kAllDtypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// Runs `fn` on the fast kernels (fast = true) or on the reference.
template <typename Fn>
auto run_on(bool fast, Fn&& fn) {
  ReferenceModeGuard mode(!fast);
  return fn();
}

std::string case_name(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return str_cat(op, " of ", describe(x), x.is_contiguous() ? "" : " (strided)", " dims ", shape_str(dims),
                 keepdim ? " keepdim" : "");
}

// Number of elements each output reduces.
int64_t reduced_count(const Tensor& x, const std::vector<int64_t>& dims) {
  if (dims.empty()) return x.numel();
  int64_t n = 1;
  for (int64_t d : dims) n *= x.dim() == 0 ? 1 : x.size(d);
  return n;
}

// expected and actual agree within tol[i] (NaN matches NaN, infinities match exactly).
::testing::AssertionResult within(const Tensor& expected, const Tensor& actual, const std::vector<double>& tol,
                                  const std::string& what) {
  if (expected.sizes() != actual.sizes() || expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << what << ": expected " << describe(expected) << ", got "
                                         << describe(actual);
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i])) ok = std::isnan(e[i]) && std::isnan(a[i]);
    else if (std::isinf(e[i]) || std::isinf(a[i])) ok = e[i] == a[i];
    else ok = std::fabs(a[i] - e[i]) <= tol[i];
    if (!ok && bad++ < 5)
      first << "\n  [" << i << "]: ref " << e[i] << " got " << a[i] << " (bound " << tol[i] << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << " cpu vs ref: " << bad << " of " << e.size()
                                       << " elements differ by more than the bound" << first.str();
}

// The bound of the file header for float sum/mean/var of x over dims; ref is the
// reference result.
std::vector<double> float_bound(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                                int64_t correction, const Tensor& ref) {
  std::vector<double> absx = x.to_vector<double>();
  for (double& v : absx) v = std::fabs(v);
  const Tensor s_t = run_on(false, [&] { return raw::sum(from_vector(absx, x.sizes()), dims, keepdim); });
  const std::vector<double> S = s_t.to_vector<double>(), r = ref.to_vector<double>();
  const double n = static_cast<double>(reduced_count(x, dims)), u = std::ldexp(1.0, -53);
  const double eps = x.dtype() == DType::f32 ? std::ldexp(1.0, -23) : std::ldexp(1.0, -52);
  const double dof = std::max(n - static_cast<double>(correction), 1.0);
  std::vector<double> tol(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    const double sum_err = 2 * std::max(n - 1, 0.0) * u * S[i];
    if (op == ReduceOp::sum) tol[i] = sum_err + eps * std::fabs(r[i]);
    if (op == ReduceOp::mean) tol[i] = sum_err / std::max(n, 1.0) + eps * std::fabs(r[i]);
    if (op == ReduceOp::var) tol[i] = (2 * (n + 3) * u + eps) * std::fabs(r[i]) + 2 * n * (u * S[i]) * (u * S[i]) / dof;
    tol[i] += 2 * (x.dtype() == DType::f32 ? std::numeric_limits<float>::denorm_min()
                                           : std::numeric_limits<double>::denorm_min());
  }
  return tol;
}

// Every reduction that applies to x's dtype, fast vs reference, over `dims`.
void check_all_ops(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const bool fl = is_floating(x.dtype());
  auto both = [&](auto&& fn) { return std::make_pair(run_on(false, fn), run_on(true, fn)); };

  auto [sum_ref, sum_cpu] = both([&] { return raw::sum(x, dims, keepdim); });
  if (fl) {
    EXPECT_TRUE(within(sum_ref, sum_cpu, float_bound(ReduceOp::sum, x, dims, keepdim, 0, sum_ref),
                       case_name("sum", x, dims, keepdim)));
    auto [mean_ref, mean_cpu] = both([&] { return raw::mean(x, dims, keepdim); });
    EXPECT_TRUE(within(mean_ref, mean_cpu, float_bound(ReduceOp::mean, x, dims, keepdim, 0, mean_ref),
                       case_name("mean", x, dims, keepdim)));
    for (int64_t correction : {0, 1}) {
      auto [var_ref, var_cpu] = both([&] { return raw::var(x, dims, correction, keepdim); });
      EXPECT_TRUE(within(var_ref, var_cpu, float_bound(ReduceOp::var, x, dims, keepdim, correction, var_ref),
                         case_name(correction ? "var" : "var(correction 0)", x, dims, keepdim)));
    }
  } else {
    EXPECT_TRUE(bit_equal(sum_ref, sum_cpu, case_name("sum", x, dims, keepdim)));
  }
  if (reduced_count(x, dims) == 0) return;  // the rest have no result
  auto [max_ref, max_cpu] = both([&] { return raw::max(x, dims, keepdim); });
  EXPECT_TRUE(bit_equal(max_ref, max_cpu, case_name("max", x, dims, keepdim)));
  auto [min_ref, min_cpu] = both([&] { return raw::min(x, dims, keepdim); });
  EXPECT_TRUE(bit_equal(min_ref, min_cpu, case_name("min", x, dims, keepdim)));
  auto [mm_ref, mm_cpu] = both([&] { return raw::aminmax(x, dims, keepdim); });
  EXPECT_TRUE(bit_equal(mm_ref.first, mm_cpu.first, case_name("aminmax (min)", x, dims, keepdim)));
  EXPECT_TRUE(bit_equal(mm_ref.second, mm_cpu.second, case_name("aminmax (max)", x, dims, keepdim)));
  EXPECT_TRUE(bit_equal(max_ref, mm_cpu.second, case_name("aminmax max == max", x, dims, keepdim)));
  if (dims.size() == 1) {
    auto [am_ref, am_cpu] = both([&] { return raw::argmax(x, dims[0], keepdim); });
    EXPECT_TRUE(bit_equal(am_ref, am_cpu, case_name("argmax", x, dims, keepdim)));
  }
  if (dims.empty()) {
    auto [am_ref, am_cpu] = both([&] { return raw::argmax(x); });
    EXPECT_TRUE(bit_equal(am_ref, am_cpu, case_name("argmax (flat)", x, dims, keepdim)));
  }
}

// Every subset of the dims of an ndim-tensor (the empty one meaning "all"), plus a
// negative and an unordered spelling.
std::vector<std::vector<int64_t>> dim_lists(int64_t ndim) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t mask = 0; mask < (int64_t{1} << ndim); ++mask) {
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < ndim; ++d)
      if (mask >> d & 1) dims.push_back(d);
    out.push_back(dims);
  }
  if (ndim >= 1) out.push_back({-1});
  if (ndim >= 3) out.push_back({2, 0});
  return out;
}

TEST(ReduceParity, RandomShapesAllDtypesAllDims) {
  const std::vector<Shape> shapes = {{},      {1},       {7},           {33},      {1023},      {4097},
                                     {0},     {3, 0},    {0, 5},        {2, 3},    {7, 33},     {33, 7},
                                     {1, 17}, {4, 5, 6}, {3, 1, 5},     {5, 1023}, {1023, 5},   {2, 3, 4, 5},
                                     {2, 0, 3}, {2, 4097, 3}, {3, 1100, 7}};
  uint64_t seed = 1;
  for (const Shape& shape : shapes) {
    for (DType dt : kAllDtypes) {
      for (const auto& dims : dim_lists(static_cast<int64_t>(shape.size()))) {
        for (bool strided : {false, true}) {
          const bool keepdim = (seed & 1) != 0;
          const Tensor x = strided ? random_strided(shape, dt, seed) : random_tensor(shape, dt, seed);
          ++seed;
          check_all_ops(x, dims, keepdim);
          if (::testing::Test::HasFailure()) return;  // one broken case is enough to read
        }
      }
    }
  }
}

TEST(ReduceParity, LongRowsAndWideIntegers) {
  // A single row over several blocks, odd lengths around the block size, and integer
  // sums that overflow the input dtype (but not i64).
  for (int64_t n : {8191, 8192, 8193, 100003}) {
    for (DType dt : {DType::f32, DType::f64}) check_all_ops(random_tensor({n}, dt, 100 + n), {}, false);
  }
  check_all_ops(random_tensor({100003}, DType::i32, 7, -1e9, 1e9), {}, false);
  check_all_ops(random_tensor({3, 40000}, DType::i8, 8, -128, 127), {1}, true);
  check_all_ops(random_tensor({40000, 3}, DType::u8, 9, 0, 255), {0}, false);
  check_all_ops(random_tensor({9000, 3}, DType::f32, 10), {0}, false);  // columns over 9 row blocks
}

// Direct kernel calls over a grid of [outer, reduce, inner], both layouts.
TEST(ReduceKernels, CpuMatchesRefOnOddGeometries) {
  const int64_t reduces[] = {1, 2, 7, 15, 16, 17, 33, 1023, 1024, 1025, 3000, 8193};
  const int64_t inners[] = {1, 2, 3, 8, 33, 513, 1100};
  uint64_t seed = 1000;
  for (int64_t reduce : reduces) {
    for (int64_t inner : inners) {
      if (reduce * inner > 1'000'000) continue;
      const int64_t outer = reduce * inner < 4000 ? 3 : 1;
      for (DType dt : {DType::f32, DType::f64, DType::i32}) {
        const Tensor x = random_tensor({outer, reduce, inner}, dt, ++seed);
        for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::argmax, ReduceOp::aminmax}) {
          ReduceParams p;
          p.op = op;
          p.dtype = dt;
          p.outer = outer;
          p.reduce = reduce;
          p.inner = inner;
          const DType odt = reduce_out_dtype(op, dt);
          Tensor r1 = empty({outer, inner}, odt), r2 = empty({outer, inner}, dt);
          Tensor c1 = empty({outer, inner}, odt), c2 = empty({outer, inner}, dt);
          ref::reduce(p, x.data_ptr(), r1.data_ptr(), r2.data_ptr());
          cpu::reduce(p, x.data_ptr(), c1.data_ptr(), c2.data_ptr());
          const std::string what = str_cat(reduce_op_name(op), " ", dtype_name(dt), " [", outer, ",", reduce, ",",
                                           inner, "]");
          // Column sums that fit in one row block add in the reference's order: exact.
          const bool exact = op != ReduceOp::sum || !is_floating(dt) || (inner > 1 && reduce <= 1024);
          if (exact) {
            EXPECT_TRUE(bit_equal(r1, c1, what));
          } else {
            EXPECT_TRUE(within(r1, c1, float_bound(op, x, {1}, false, 0, r1), what));
          }
          if (op == ReduceOp::aminmax) {
            EXPECT_TRUE(bit_equal(r2, c2, what + " (max)"));
          }
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
}

// A float tensor with NaNs (several payloads and signs), infinities and signed zeros
// sprinkled into random values.
Tensor with_specials(const Shape& shape, DType dt, uint64_t seed, double nan_rate) {
  std::vector<double> v = random_tensor(shape, DType::f64, seed).to_vector<double>();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (double& x : v) {
    const double t = u(rng);
    if (t < nan_rate) x = (t < nan_rate / 2) ? kNaN : -kNaN;
    else if (t < nan_rate + 0.01) x = (t < nan_rate + 0.005) ? kInf : -kInf;
    else if (t < nan_rate + 0.03) x = (t < nan_rate + 0.02) ? 0.0 : -0.0;
  }
  Tensor x = from_vector(v, shape).to(dt);
  if (dt == DType::f32) {  // give some NaNs a payload, to check which NaN comes back
    float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (std::isnan(p[i]) && i % 3 == 0) {
        uint32_t bits;
        std::memcpy(&bits, &p[i], 4);
        bits |= static_cast<uint32_t>(i % 1000 + 1);
        std::memcpy(&p[i], &bits, 4);
      }
    }
  }
  return x;
}

TEST(ReduceSpecials, NanInfAndSignedZerosMatchTheReference) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (double rate : {0.0, 1e-4, 0.01}) {
      for (const Shape& shape : {Shape{64, 1000}, Shape{20000}, Shape{3000, 17}, Shape{5, 9000}}) {
        const Tensor x = with_specials(shape, dt, static_cast<uint64_t>(rate * 1e6) + shape[0], rate);
        for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0}, {-1}, {}})
          check_all_ops(x, dims, false);
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

TEST(ReduceSpecials, HandComputedValues) {
  const Tensor x = from_vector<float>({1, 5, 3, 5, -3, 1}, {2, 3});
  for (bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "cpu" : "ref");
    run_on(fast, [&] {
      EXPECT_EQ(raw::sum(x).item(), 12);
      EXPECT_EQ(raw::sum(x, {1}).to_vector<float>(), (std::vector<float>{9, 3}));
      EXPECT_EQ(raw::mean(x, {0}).to_vector<float>(), (std::vector<float>{3, 1, 2}));
      EXPECT_EQ(raw::var(x, {1}).to_vector<float>(), (std::vector<float>{4, 16}));  // sum (x - m)^2 / (n - 1)
      EXPECT_EQ(raw::var(x, {0}, 0).to_vector<float>(), (std::vector<float>{4, 16, 1}));
      EXPECT_EQ(raw::max(x).item(), 5);
      EXPECT_EQ(raw::min(x, {1}, true).to_vector<float>(), (std::vector<float>{1, -3}));
      EXPECT_EQ(raw::argmax(x).item(), 1);  // the first of the two 5s
      EXPECT_EQ(raw::argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
      EXPECT_EQ(raw::sum(x, {0, 1}, true).sizes(), (Shape{1, 1}));
      // Signed zeros: +0 > -0 for max/min/argmax; max(x) == x[argmax(x)] bit for bit.
      const Tensor z = from_vector<float>({-0.0f, 0.0f, -0.0f}, {3});
      EXPECT_FALSE(std::signbit(raw::max(z).item()));
      EXPECT_TRUE(std::signbit(raw::min(z).item()));
      EXPECT_EQ(raw::argmax(z).item(), 1);
      // NaN: max/min return the first NaN, argmax its index.
      const Tensor n = from_vector<double>({1, kNaN, 7, -kNaN}, {4});
      EXPECT_TRUE(std::isnan(raw::max(n).item()) && !std::signbit(raw::max(n).item()));
      EXPECT_TRUE(std::isnan(raw::min(n).item()));
      EXPECT_EQ(raw::argmax(n).item(), 1);
      EXPECT_TRUE(std::isnan(raw::sum(n).item()));
      // Integer and bool sums are i64 and do not overflow the input dtype.
      const Tensor i8 = full({1000}, 127, DType::i8);
      EXPECT_EQ(raw::sum(i8).dtype(), DType::i64);
      EXPECT_EQ(raw::sum(i8).item(), 127000);
      EXPECT_EQ(raw::sum(from_vector<uint8_t>({1, 0, 1, 1}, {4}).to(DType::b8)).item(), 3);
      EXPECT_EQ(raw::max(from_vector<uint8_t>({0, 1, 0}, {3}).to(DType::b8)).item(), 1);
      // i64 sums wrap around like two's complement.
      const Tensor big = from_vector<int64_t>({std::numeric_limits<int64_t>::max(), 1}, {2});
      EXPECT_EQ(raw::sum(big).to_vector<int64_t>()[0], std::numeric_limits<int64_t>::min());
      return 0;
    });
  }
}

TEST(ReduceSpecials, ArgmaxTiesAndNaNsAcrossBlocks) {
  // Equal maxima in different row blocks (8192 elements each) and columns: the first wins;
  // with NaNs the first NaN wins.
  for (DType dt : {DType::f32, DType::f64, DType::i32}) {
    std::vector<double> v = random_tensor({30000}, DType::f64, 11, -100, 100).to_vector<double>();
    v[20000] = v[9000] = v[100] = 1000;
    const Tensor row = from_vector(v, {30000}).to(dt);
    const Tensor col = row.view({3000, 10});  // 3 row blocks of 1024 per column
    for (bool fast : {false, true}) {
      run_on(fast, [&] {
        EXPECT_EQ(raw::argmax(row).item(), 100) << dtype_name(dt);
        EXPECT_EQ(raw::argmax(col, 0).to_vector<int64_t>()[0], 10) << dtype_name(dt);
        return 0;
      });
    }
    if (dt == DType::i32) continue;
    v[25000] = v[17000] = kNaN;
    const Tensor nan_row = from_vector(v, {30000}).to(dt);
    for (bool fast : {false, true}) {
      run_on(fast, [&] {
        EXPECT_EQ(raw::argmax(nan_row).item(), 17000) << dtype_name(dt);
        EXPECT_EQ(raw::argmax(nan_row.view({3000, 10}), 0).to_vector<int64_t>()[0], 1700) << dtype_name(dt);
        return 0;
      });
    }
  }
}

TEST(ReduceSpecials, ZeroDimAndEmpty) {
  const Tensor s = scalar_tensor(2.5, DType::f32);
  for (bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "cpu" : "ref");
    run_on(fast, [&] {
      EXPECT_EQ(raw::sum(s).dim(), 0);
      EXPECT_EQ(raw::sum(s).item(), 2.5);  // sum of a 0-d tensor is itself
      EXPECT_EQ(raw::sum(s, {0}).item(), 2.5);
      EXPECT_EQ(raw::max(s, {-1}, true).dim(), 0);
      EXPECT_EQ(raw::mean(s).item(), 2.5);
      EXPECT_TRUE(std::isnan(raw::var(s).item()));  // 0 / 0 with correction 1
      EXPECT_EQ(raw::var(s, {}, 0).item(), 0);
      EXPECT_EQ(raw::argmax(s).item(), 0);
      EXPECT_EQ(raw::argmax(s, 0).item(), 0);
      const Tensor e = zeros({0, 3});
      EXPECT_EQ(raw::sum(e).item(), 0);
      EXPECT_EQ(raw::sum(e, {0}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
      EXPECT_TRUE(std::isnan(raw::mean(e, {0}).to_vector<float>()[2]));
      EXPECT_EQ(raw::max(e, {1}).sizes(), (Shape{0}));  // nothing to reduce over, nothing to output
      EXPECT_EQ(raw::sum(e, {1}, true).sizes(), (Shape{0, 1}));
      return 0;
    });
  }
}

TEST(ReduceDeterminism, SameBitsForOneAndTwoThreadsAndRepeatedRuns) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  // One long row (128 blocks), many rows of two blocks, columns over four row blocks.
  const Case cases[] = {{{1 << 20}, {}}, {{64, 16384}, {1}}, {{4096, 256}, {0}}};
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Case& c : cases) {
      const Tensor x = random_tensor(c.shape, dt, 77, -3, 5);
      const std::vector<std::function<Tensor()>> ops = {
          [&] { return raw::sum(x, c.dims); },
          [&] { return raw::mean(x, c.dims); },
          [&] { return raw::var(x, c.dims); },
          [&] { return raw::aminmax(x, c.dims).first; },
          [&] { return raw::aminmax(x, c.dims).second; },
          [&] { return c.dims.empty() ? raw::argmax(x) : raw::argmax(x, c.dims[0]); }};
      for (size_t k = 0; k < ops.size(); ++k) {
        const std::string what = str_cat("op ", k, " on ", describe(x));
        Tensor one, two, again;
        {
          ThreadGuard g(1);
          one = run_on(true, ops[k]);
        }
        {
          ThreadGuard g(2);
          two = run_on(true, ops[k]);
          again = run_on(true, ops[k]);
        }
        EXPECT_TRUE(bit_equal(one, two, what + ": 1 vs 2 threads"));
        EXPECT_TRUE(bit_equal(two, again, what + ": repeated run"));
      }
      // And close to the reference (a sum of 1M values, a long way from a short sum).
      const Tensor sref = run_on(false, [&] { return raw::sum(x, c.dims); });
      const Tensor scpu = run_on(true, [&] { return raw::sum(x, c.dims); });
      EXPECT_TRUE(within(sref, scpu, float_bound(ReduceOp::sum, x, c.dims, false, 0, sref), "large sum"));
    }
  }
}

TEST(ReduceDeterminism, SameBitsOnEverySimdTarget) {
  // Highway compiled several targets (SSE4, AVX2, ...); the 16-lane blocking makes the
  // result independent of which one runs.
  // (f64 rows: a different order of the additions shows in the last bits.)
  const Tensor row32 = random_tensor({100003}, DType::f32, 5), row64 = random_tensor({100003}, DType::f64, 5);
  const Tensor cols = random_tensor({3000, 37}, DType::f32, 6);
  auto results = [&] {
    return std::vector<Tensor>{raw::sum(row64), raw::var(row64), raw::sum(row32), raw::aminmax(row32).first,
                               raw::sum(cols, {0}), raw::var(cols, {0}), raw::aminmax(cols, {0}).second};
  };
  const std::vector<Tensor> best = run_on(true, results);
  // SetSupportedTargetsForTest alone does not re-pick the target HWY_DYNAMIC_DISPATCH
  // calls; Update does.
  auto use_targets = [](int64_t targets) {
    hwy::SetSupportedTargetsForTest(targets);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  };
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    use_targets(target);
    const std::vector<Tensor> got = run_on(true, results);
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_TRUE(bit_equal(best[k], got[k], str_cat("result ", k, " on ", hwy::TargetName(target))));
  }
  use_targets(0);
}

TEST(ReduceErrors, MessagesNameTheOpAndTheTensor) {
  const Tensor xi = zeros({2, 3}, DType::i32);
  const Tensor xb = zeros({4}, DType::b8);
  const Tensor xf = zeros({2, 3});
  EXPECT_LOWBIT_ERROR(raw::mean(xi), "mean", "f32 or f64", "[2,3] i32 cpu");
  EXPECT_LOWBIT_ERROR(raw::var(xb), "var", "f32 or f64", "[4] bool cpu");
  EXPECT_LOWBIT_ERROR(raw::var(xf, {}, -1), "var", "correction");
  EXPECT_LOWBIT_ERROR(raw::max(zeros({0, 3}), {0}), "max", "zero elements", "[0,3] f32 cpu", "dims [0]");
  EXPECT_LOWBIT_ERROR(raw::min(zeros({0})), "min", "zero elements");
  EXPECT_LOWBIT_ERROR(raw::aminmax(zeros({2, 0}), {1}), "aminmax", "zero elements");
  EXPECT_LOWBIT_ERROR(raw::argmax(zeros({0})), "argmax", "zero elements");
  EXPECT_LOWBIT_ERROR(raw::sum(xf, {1, -1}), "sum", "dim -1 appears more than once", "[1,-1]", "[2,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::sum(xf, {2}), "sum", "dim 2 is out of range");
  EXPECT_LOWBIT_ERROR(raw::max(scalar_tensor(1.0), {0, -1}), "max", "appears more than once", "[] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::var(xf, {-3}), "var", "dim -3 is out of range");
  EXPECT_LOWBIT_ERROR(raw::argmax(xf, 5), "argmax", "dim 5 is out of range");
  EXPECT_LOWBIT_ERROR(raw::sum(Tensor()), "sum", "undefined");
  // The kernels refuse too, when called directly.
  ReduceParams p;
  p.op = ReduceOp::max;
  p.reduce = 0;
  float out = 0;
  EXPECT_LOWBIT_ERROR(ref::reduce(p, nullptr, &out, nullptr), "max", "zero elements");
  EXPECT_LOWBIT_ERROR(cpu::reduce(p, nullptr, &out, nullptr), "max", "zero elements");
}

TEST(ReduceShapes, OutputShapesAndDtypes) {
  const Tensor x = random_tensor({2, 3, 4}, DType::i8, 3);
  EXPECT_EQ(raw::sum(x, {1}).sizes(), (Shape{2, 4}));
  EXPECT_EQ(raw::sum(x, {1}).dtype(), DType::i64);
  EXPECT_EQ(raw::sum(x, {0, 2}, true).sizes(), (Shape{1, 3, 1}));
  EXPECT_EQ(raw::max(x, {-1}).dtype(), DType::i8);
  EXPECT_EQ(raw::argmax(x, 1, true).sizes(), (Shape{2, 1, 4}));
  EXPECT_EQ(raw::argmax(x).sizes(), Shape{});
  EXPECT_EQ(raw::sum(x).sizes(), Shape{});
  EXPECT_EQ(raw::sum(x, {}, true).sizes(), (Shape{1, 1, 1}));
  // {2, 0} and {0, -1} are the same reduction.
  EXPECT_TRUE(bit_equal(raw::sum(x, {2, 0}), raw::sum(x, {0, -1}), "dims order"));
  // A contiguous input (free view) and a strided one (permuted copy) agree.
  const Tensor c = random_tensor({6, 7, 8}, DType::f32, 4), s = random_strided({6, 7, 8}, DType::f32, 4);
  EXPECT_TRUE(bit_equal(raw::max(c, {1, 2}), raw::max(s, {1, 2}), "max, view vs copy"));
  EXPECT_TRUE(all_close(raw::sum(c, {0}), raw::sum(s, {0}), 1e-6, 1e-6, "sum, view vs copy"));
}

}  // namespace
}  // namespace lowbit
