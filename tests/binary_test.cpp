// binary ops: cpu == ref bit for bit (binary.h promises it, NaN and +-0 included) for
// every op and dtype (grad masks included), on every SIMD target of this CPU, with broadcasting, non-contiguous
// inputs, odd sizes and zero-size tensors; integer wrap-around; scalar and in-place
// forms; determinism across thread counts; and the error messages.
#include <hwy/targets.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tensor/kernels/binary.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
struct OpCase {
  BinaryOp op;
  BinaryFn fn;
};
// The grad masks with bounds that the special values of input() hit exactly (-1 and 2),
// and with an infinite bound.
Tensor hardtanh_backward_m1_2(const Tensor& g, const Tensor& x) { return raw::hardtanh_backward(g, x, -1, 2); }
Tensor hardtanh_backward_minf_half(const Tensor& g, const Tensor& x) {
  return raw::hardtanh_backward(g, x, -INFINITY, 0.5);
}
const OpCase kOps[] = {{BinaryOp::add, raw::add}, {BinaryOp::sub, raw::sub},         {BinaryOp::mul, raw::mul},
                       {BinaryOp::div, raw::div}, {BinaryOp::minimum, raw::minimum}, {BinaryOp::maximum, raw::maximum},
                       {BinaryOp::eq, raw::eq},   {BinaryOp::ne, raw::ne},           {BinaryOp::lt, raw::lt},
                       {BinaryOp::le, raw::le},   {BinaryOp::gt, raw::gt},           {BinaryOp::ge, raw::ge},
                       {BinaryOp::relu_backward, raw::relu_backward},
                       {BinaryOp::hardtanh_backward, hardtanh_backward_m1_2},
                       {BinaryOp::hardtanh_backward, hardtanh_backward_minf_half}};

bool legal(BinaryOp op, DType dt) {
  if (dt == DType::b8) return is_comparison(op);
  if (op == BinaryOp::div) return is_floating(dt);
  return true;
}

// Runs fn once per SIMD target that is both compiled into the library (Highway dynamic
// dispatch) and supported by this CPU, so every vector path is checked, not only the
// best one of this machine.
template <typename Fn>
void for_each_simd_target(Fn&& fn) {
  struct Reset {
    ~Reset() { hwy::SetSupportedTargetsForTest(0); }
  } reset;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn();
  }
}

// Values that exercise every branch: for floats NaN, +-inf, +-0, subnormals, overflow,
// small integers (so comparisons and minimum/maximum see ties) and ordinary values; for
// integers small values (ties) and the full 64-bit range (so add/sub/mul wrap).
Tensor input(const Shape& shape, DType dt, uint64_t seed, bool strided = false) {
  std::mt19937_64 rng(seed);
  const int64_t n = shape_numel(shape);
  Tensor values;
  if (is_floating(dt)) {
    static const double kSpecial[] = {std::nan(""), -std::nan(""), INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -1e-310,
                                      1e38, -3e38, 1e300, 1.0, -1.0, 2.0, 0.5};
    std::uniform_real_distribution<double> ordinary(-4, 4);
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = rng() % 4 == 0 ? kSpecial[rng() % std::size(kSpecial)] : ordinary(rng);
    values = from_vector(v, shape).to(dt);
  } else {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = rng() % 2 ? static_cast<int64_t>(rng()) : static_cast<int64_t>(rng() % 11) - 5;
    values = from_vector(v, shape).to(dt);
  }
  if (!strided) return values;
  Tensor view = test::random_strided(shape, dt, seed);
  view.copy_(values);
  return view;
}

// Which NaN comes out of NaN + NaN (or *, -, /) is not ours to choose: x86 returns the
// first operand's NaN, and the compiler may swap the operands of a commutative add or
// mul in either the reference or the SIMD path (observed: ref -nan, cpu +nan for
// add(-nan, +nan)); CUDA returns a canonical NaN. So arithmetic results are compared bit
// for bit except that any NaN matches any NaN. minimum/maximum return one of their
// inputs unchanged and comparisons return 0/1, so those stay strictly bit-exact.
::testing::AssertionResult bit_equal_any_nan(const Tensor& expected, const Tensor& actual, const std::string& what) {
  if (!is_floating(expected.dtype())) return bit_equal(expected, actual, what);
  const DType dt = expected.dtype();
  const Tensor nan_e = raw::ne(expected, expected), nan_a = raw::ne(actual, actual);
  ::testing::AssertionResult same_nans = bit_equal(nan_e, nan_a, what + " (which elements are NaN)");
  if (!same_nans) return same_nans;
  // Replace every NaN by the same value, then compare the rest bit for bit.
  const Tensor zero = scalar_tensor(0, dt);
  return bit_equal(raw::where(nan_e, zero, expected), raw::where(nan_a, zero, actual), what);
}

::testing::AssertionResult parity(const OpCase& c, const Tensor& a, const Tensor& b, const std::string& what) {
  const Tensor fast = c.fn(a, b);
  Tensor ref;
  {
    ReferenceModeGuard guard(true);
    ref = c.fn(a, b);
  }
  const std::string msg = str_cat(binary_op_name(c.op), " ", describe(a), " with ", describe(b), " ", what);
  // minimum/maximum and the grad masks select one of their inputs (or +0), comparisons
  // return 0/1: no NaN is computed, so those are bit-exact, payloads included.
  const bool strict =
      c.op == BinaryOp::minimum || c.op == BinaryOp::maximum || is_comparison(c.op) || is_grad_mask(c.op);
  return strict ? bit_equal(ref, fast, msg) : bit_equal_any_nan(ref, fast, msg);
}

// Pairs of shapes: same shape (odd sizes for SIMD tails; 65537 > 4 chunks of kChunk =
// 16384 elements, run on several threads), broadcasting in every direction (rows of
// 16385 = two chunks per row), 0-d, and zero-size.
const std::pair<Shape, Shape> kShapePairs[] = {
    {{1}, {1}},          {{3}, {3}},          {{17}, {17}},        {{1001}, {1001}},    {{65537}, {65537}},
    {{33, 65}, {33, 65}}, {{2, 3, 5, 7}, {1, 3, 1, 1}}, {{1, 3, 1, 1}, {2, 3, 5, 7}}, {{17}, {5, 17}},
    {{5, 17}, {17}},     {{}, {1001}},        {{1001}, {}},        {{}, {}},            {{5, 1}, {1, 7}},
    {{2, 16385}, {16385}}, {{16385}, {3, 1}}, {{0}, {0}},          {{3, 0}, {0}},       {{0, 4}, {1, 4}},
    {{}, {0}}};

void check_contiguous_and_broadcast(DType dt) {
  uint64_t seed = 0;
  for (const auto& [sa, sb] : kShapePairs) {
    const Tensor a = input(sa, dt, ++seed), b = input(sb, dt, ++seed);
    for (const OpCase& c : kOps) {
      if (legal(c.op, dt)) {
        ASSERT_TRUE(parity(c, a, b, "contiguous"));
      }
    }
  }
}

void check_non_contiguous(DType dt) {
  uint64_t seed = 100;
  const std::pair<Shape, Shape> pairs[] = {
      {{33, 65}, {33, 65}}, {{7, 1001}, {7, 1001}}, {{2, 3, 5, 7}, {3, 1, 1}}, {{17}, {4, 17}}, {{3, 17}, {}}};
  for (const auto& [sa, sb] : pairs) {
    const Tensor a = input(sa, dt, ++seed), b = input(sb, dt, ++seed);
    const Tensor as = input(sa, dt, ++seed, true), bs = input(sb, dt, ++seed, true);
    const Tensor at = sa.size() == 2 ? input({sa[1], sa[0]}, dt, ++seed).t() : Tensor();
    for (const OpCase& c : kOps) {
      if (!legal(c.op, dt)) continue;
      ASSERT_TRUE(parity(c, as, b, "strided a"));
      ASSERT_TRUE(parity(c, a, bs, "strided b"));
      ASSERT_TRUE(parity(c, as, bs, "both strided"));
      if (at.defined()) {
        ASSERT_TRUE(parity(c, at, a, "transposed a"));
      }
    }
  }
}

// Float arithmetic has SIMD paths: once per target. Integer, bool and comparison rows
// are scalar loops that do not depend on the target.
TEST(BinaryParity, FloatsContiguousAndBroadcastOnEveryTarget) {
  for_each_simd_target([] {
    for (DType dt : {DType::f32, DType::f64}) check_contiguous_and_broadcast(dt);
  });
}
TEST(BinaryParity, FloatsNonContiguousOnEveryTarget) {
  for_each_simd_target([] {
    for (DType dt : {DType::f32, DType::f64}) check_non_contiguous(dt);
  });
}
TEST(BinaryParity, IntegersAndBool) {
  for (DType dt : {DType::i8, DType::u8, DType::i32, DType::i64, DType::b8}) {
    SCOPED_TRACE(dtype_name(dt));
    check_contiguous_and_broadcast(dt);
    check_non_contiguous(dt);
  }
}

// The value semantics of the formula, checked against hand-computed results.
TEST(BinaryValues, IntegerWrapAround) {
  const auto i8 = [](std::vector<int8_t> v) { return from_vector(v); };
  EXPECT_EQ(raw::add(i8({100, -100, 127}), i8({100, -100, 1})).to_vector<int8_t>(), (std::vector<int8_t>{-56, 56, -128}));
  EXPECT_EQ(raw::mul(i8({16, -128, 3}), i8({16, -1, 50})).to_vector<int8_t>(), (std::vector<int8_t>{0, -128, -106}));
  EXPECT_EQ(raw::sub(from_vector<uint8_t>({3, 200}), from_vector<uint8_t>({5, 100})).to_vector<uint8_t>(),
            (std::vector<uint8_t>{254, 100}));
  EXPECT_EQ(raw::add(from_vector<uint8_t>({200}), from_vector<uint8_t>({100})).to_vector<uint8_t>(),
            (std::vector<uint8_t>{44}));
  const int32_t i32max = std::numeric_limits<int32_t>::max(), i32min = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(raw::mul(from_vector<int32_t>({i32max}), from_vector<int32_t>({2})).to_vector<int32_t>(),
            (std::vector<int32_t>{-2}));
  EXPECT_EQ(raw::sub(from_vector<int32_t>({i32min}), from_vector<int32_t>({1})).to_vector<int32_t>(),
            (std::vector<int32_t>{i32max}));
  const int64_t i64max = std::numeric_limits<int64_t>::max(), i64min = std::numeric_limits<int64_t>::min();
  const Tensor big = from_vector<int64_t>({i64max, i64min, i64min});
  EXPECT_EQ(raw::add(big, from_vector<int64_t>({1, -1, 0})).to_vector<int64_t>(),
            (std::vector<int64_t>{i64min, i64max, i64min}));
  EXPECT_EQ(raw::mul(big, from_vector<int64_t>({2, -1, -1})).to_vector<int64_t>(),
            (std::vector<int64_t>{-2, i64min, i64min}));
  EXPECT_EQ(raw::minimum(i8({-128, 5}), i8({127, -5})).to_vector<int8_t>(), (std::vector<int8_t>{-128, -5}));
  EXPECT_EQ(raw::maximum(from_vector<uint8_t>({0, 255}), from_vector<uint8_t>({1, 3})).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 255}));
}

TEST(BinaryValues, FloatSpecialsAndComparisons) {
  const double nan = std::nan("");
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor a = from_vector<double>({nan, 1, nan, -INFINITY, 1, -1, 0}).to(dt);
    const Tensor b = from_vector<double>({1, nan, nan, nan, 0, 0, 0}).to(dt);
    const std::vector<double> mn = raw::minimum(a, b).to_vector<double>(), mx = raw::maximum(a, b).to_vector<double>();
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(mn[i]) && std::isnan(mx[i])) << i;  // NaN propagates
    EXPECT_EQ(mn[4], 0);
    EXPECT_EQ(mx[4], 1);
    const std::vector<double> q = raw::div(a, b).to_vector<double>();
    EXPECT_EQ(q[4], INFINITY);   // 1 / 0
    EXPECT_EQ(q[5], -INFINITY);  // -1 / 0
    EXPECT_TRUE(std::isnan(q[6]));  // 0 / 0

    const Tensor x = from_vector<double>({1, 2, 3, nan}).to(dt), y = from_vector<double>({2, 2, 2, nan}).to(dt);
    const Tensor lt = raw::lt(x, y);
    EXPECT_EQ(lt.dtype(), DType::b8);
    EXPECT_EQ(lt.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0}));
    EXPECT_EQ(raw::le(x, y).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 0}));
    EXPECT_EQ(raw::gt(x, y).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 0}));
    EXPECT_EQ(raw::ge(x, y).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0}));
    EXPECT_EQ(raw::eq(x, y).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 0}));  // NaN != NaN
    EXPECT_EQ(raw::ne(x, y).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1}));
    EXPECT_EQ(raw::eq(from_vector<double>({0.0}).to(dt), from_vector<double>({-0.0}).to(dt)).item(), 1);
  }
  const Tensor b1 = from_vector<uint8_t>({0, 1, 1}).to(DType::b8), b2 = from_vector<uint8_t>({1, 1, 0}).to(DType::b8);
  EXPECT_EQ(raw::eq(b1, b2).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(raw::lt(b1, b2).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(raw::gt(from_vector<int8_t>({-1}), from_vector<int8_t>({-2})).dtype(), DType::b8);
}

TEST(BinaryValues, GradMasks) {
  const double nan = std::nan("");
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    // relu_backward: gy where y > 0; y = +-0, negative or NaN gives +0; gy passes as is
    // (NaN and -0 included) where y > 0.
    const Tensor y = from_vector<double>({1, 0, -0.0, -1, nan, INFINITY, 1e-40, 2}).to(dt);
    const Tensor gy = from_vector<double>({nan, 5, 5, 5, 5, -0.0, 3, -INFINITY}).to(dt);
    const std::vector<double> r = raw::relu_backward(gy, y).to_vector<double>();
    EXPECT_TRUE(std::isnan(r[0]));
    for (int i = 1; i < 5; ++i) EXPECT_TRUE(r[i] == 0 && !std::signbit(r[i])) << i;
    EXPECT_TRUE(r[5] == 0 && std::signbit(r[5]));  // -0 passes
    EXPECT_EQ(r[6], 3);  // a subnormal y > 0 passes (1e-40 is subnormal in f32)
    EXPECT_EQ(r[7], -INFINITY);
    // hardtanh_backward: bounds excluded, NaN x gives 0, infinite bounds work.
    const Tensor x = from_vector<double>({-1, -0.999, 0, 1.999, 2, nan, -INFINITY, INFINITY}).to(dt);
    const Tensor g = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}).to(dt);
    EXPECT_EQ(raw::hardtanh_backward(g, x, -1, 2).to_vector<double>(), (std::vector<double>{0, 2, 3, 4, 0, 0, 0, 0}));
    EXPECT_EQ(raw::hardtanh_backward(g, x, -INFINITY, INFINITY).to_vector<double>(),
              (std::vector<double>{1, 2, 3, 4, 5, 0, 0, 0}));
    EXPECT_EQ(raw::hardtanh_backward(g, x, 0, 0).to_vector<double>(), (std::vector<double>(8, 0.0)));
  }
  // Integers: relu_backward masks; the bounds of hardtanh_backward saturate (copy.h rules).
  EXPECT_EQ(raw::relu_backward(from_vector<int8_t>({7, 7, 7}), from_vector<int8_t>({-1, 0, 1})).to_vector<int8_t>(),
            (std::vector<int8_t>{0, 0, 7}));
  EXPECT_EQ(raw::hardtanh_backward(from_vector<uint8_t>({9, 9, 9}), from_vector<uint8_t>({0, 1, 255}), -5, 1000)
                .to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 9, 0}));  // bounds 0 and 255, excluded
}

// The grad masks are the one-pass form of compare + where, as relu and hardtanh's
// backward used to be written: same bits for every input, NaN and -0 included.
TEST(BinaryValues, GradMasksEqualCompareAndWhere) {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor gy = input({3, 1001}, dt, 7), y = input({3, 1001}, dt, 8), ys = input({3, 1001}, dt, 9, true);
    for (const Tensor& t : {y, ys}) {
      const Tensor zero = scalar_tensor(0, dt);
      EXPECT_TRUE(bit_equal(raw::where(raw::gt(t, zero), gy, zero), raw::relu_backward(gy, t), "relu_backward"));
      const Tensor lo = scalar_tensor(-1, dt), hi = scalar_tensor(2, dt);
      EXPECT_TRUE(bit_equal(raw::where(raw::gt(t, lo), raw::where(raw::lt(t, hi), gy, zero), zero),
                            raw::hardtanh_backward(gy, t, -1, 2), "hardtanh_backward"));
    }
  }
}

TEST(BinaryValues, ScalarOverloads) {
  const Tensor x = from_vector<float>({1, -2, 3.5f});
  EXPECT_EQ(raw::add(x, 2.0).to_vector<float>(), (std::vector<float>{3, 0, 5.5f}));
  EXPECT_EQ(raw::sub(x, 0.5).to_vector<float>(), (std::vector<float>{0.5f, -2.5f, 3}));
  EXPECT_EQ(raw::mul(x, -2.0).to_vector<float>(), (std::vector<float>{-2, 4, -7}));
  EXPECT_EQ(raw::div(x, 4.0).to_vector<float>(), (std::vector<float>{0.25f, -0.5f, 0.875f}));
  EXPECT_EQ(raw::add(x, 2.0).dtype(), DType::f32);
  // The scalar takes the tensor's dtype (copy.h rules), so 2.9 is 2 for an integer tensor.
  const Tensor i = from_vector<int32_t>({1, -2, 3});
  EXPECT_EQ(raw::mul(i, 2.9).to_vector<int32_t>(), (std::vector<int32_t>{2, -4, 6}));
  EXPECT_EQ(raw::add(from_vector<int8_t>({120}), 10.0).to_vector<int8_t>(), (std::vector<int8_t>{-126}));
  EXPECT_LOWBIT_ERROR(raw::div(i, 2.0), "div", "f32 or f64", "i32");
  // The scalar on either side through a 0-d tensor.
  const Tensor two = scalar_tensor(2, DType::f32);
  EXPECT_EQ(raw::sub(two, x).to_vector<float>(), (std::vector<float>{1, 4, -1.5f}));
  EXPECT_EQ(raw::sub(two, two).dim(), 0);
}

TEST(BinaryInPlace, ModifiesTheTarget) {
  using InplaceFn = void (*)(Tensor&, const Tensor&);
  const std::pair<InplaceFn, BinaryFn> fns[] = {
      {raw::add_, raw::add}, {raw::sub_, raw::sub}, {raw::mul_, raw::mul}, {raw::div_, raw::div}};
  for (DType dt : {DType::f32, DType::f64, DType::i8, DType::i64})
    for (const auto& [inplace, outofplace] : fns) {
      if (outofplace == static_cast<BinaryFn>(raw::div) && !is_floating(dt)) continue;
      for (const Shape& rhs : {Shape{4, 1001}, Shape{1001}, Shape{4, 1}, Shape{}}) {
        Tensor a = input({4, 1001}, dt, 1);
        const Tensor b = input(rhs, dt, 2);
        const Tensor expected = outofplace(a, b);
        const void* data = a.data_ptr();
        const Tensor alias = a;
        inplace(a, b);
        EXPECT_EQ(a.data_ptr(), data);
        EXPECT_TRUE(a.same_impl(alias));
        EXPECT_TRUE(bit_equal(expected, a, str_cat("in-place ", dtype_name(dt), " rhs ", shape_str(rhs))));
      }
      // A non-contiguous target: the writes land in the base tensor.
      Tensor base = input({6, 9}, dt, 3);
      Tensor view = base.t().narrow(0, 2, 5);  // [5,6], strides [1,9]
      const Tensor expected = outofplace(view, input({6}, dt, 4));
      inplace(view, input({6}, dt, 4));
      EXPECT_TRUE(bit_equal(expected, base.t().narrow(0, 2, 5), "in-place on a strided view"));
    }
  Tensor a = from_vector<int8_t>({100, 1});
  raw::add_(a, a);  // aliasing both operands
  EXPECT_EQ(a.to_vector<int8_t>(), (std::vector<int8_t>{-56, 2}));
}

// An input of n elements in [-2, 2), quick to make (random_tensor would dominate the
// test time): frac(i * step) * 4 - 2, a low-discrepancy sequence for irrational steps.
Tensor large_input(int64_t n, DType dt, double step) {
  const Tensor x = raw::mul(arange(n, DType::f64), step);
  return raw::sub(raw::mul(raw::sub(x, raw::floor(x)), 4.0), 2.0).to(dt);
}

TEST(BinaryDeterminism, OneVsTwoThreadsOnStreamingSizes) {
  // >= 32 MiB outputs take the non-temporal store path (kStreamBytes in binary_cpu.cpp).
  const std::pair<DType, int64_t> cases[] = {{DType::f64, (int64_t{4} << 20) + 1001}, {DType::f32, (int64_t{8} << 20) + 17}};
  for (const auto& [dt, n] : cases) {
    ASSERT_GE(n * static_cast<int64_t>(dtype_size(dt)), int64_t{32} << 20);
    const Tensor a = large_input(n, dt, 0.6180339887498949), b = large_input(n, dt, 0.7548776662466927);
    const std::string what = str_cat(dtype_name(dt), " n=", n);
    Tensor one, two, ref, one_s, two_s, one_m, two_m;
    {
      test::ThreadGuard threads(1);
      one = raw::div(a, b);
      one_s = raw::mul(a, 0.75);
      one_m = raw::relu_backward(a, b);
    }
    {
      test::ThreadGuard threads(2);
      two = raw::div(a, b);
      two_s = raw::mul(a, 0.75);
      two_m = raw::relu_backward(a, b);
    }
    {
      ReferenceModeGuard guard(true);
      ref = raw::div(a, b);
    }
    EXPECT_TRUE(bit_equal(one, two, "div " + what + " 1 vs 2 threads"));
    EXPECT_TRUE(bit_equal(ref, two, "div " + what + " ref vs cpu"));
    EXPECT_TRUE(bit_equal(one_s, two_s, "tensor * scalar " + what + " 1 vs 2 threads"));
    EXPECT_TRUE(bit_equal(one_m, two_m, "relu_backward " + what + " 1 vs 2 threads"));
  }
}

TEST(BinaryErrors, MessagesNameTheOpShapesAndDTypes) {
  const Tensor f = zeros({2, 3}), d = zeros({2, 3}, DType::f64), i = zeros({2, 3}, DType::i32);
  EXPECT_LOWBIT_ERROR(raw::add(f, zeros({4})), "add: shapes [2,3] and [4] cannot be broadcast", "dim -1: 3 vs 4");
  EXPECT_LOWBIT_ERROR(raw::lt(zeros({5, 2}), zeros({3, 1, 3})), "lt", "[5,2]", "[3,1,3]", "cannot be broadcast");
  EXPECT_LOWBIT_ERROR(raw::mul(f, d), "mul: dtype mismatch", "[2,3] f32 cpu", "[2,3] f64 cpu", ".to(dtype)");
  EXPECT_LOWBIT_ERROR(raw::eq(i, f), "eq: dtype mismatch", "i32", "f32");
  EXPECT_LOWBIT_ERROR(raw::div(i, i), "div: expected an f32 or f64 tensor", "[2,3] i32 cpu");
  const Tensor b = zeros({2, 3}, DType::b8);
  for (BinaryFn fn : {BinaryFn(raw::add), BinaryFn(raw::sub), BinaryFn(raw::mul), BinaryFn(raw::minimum),
                      BinaryFn(raw::maximum), BinaryFn(raw::relu_backward), BinaryFn(hardtanh_backward_m1_2)})
    EXPECT_LOWBIT_ERROR(fn(b, b), "arithmetic on bool tensors is not supported", "[2,3] bool cpu");
  EXPECT_LOWBIT_ERROR(raw::div(b, b), "div", "bool");
  Tensor small = zeros({3});
  EXPECT_LOWBIT_ERROR(raw::add_(small, f), "add_: the result shape [2,3] does not match the in-place target [3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::mul_(small, zeros({3}, DType::f64)), "mul", "dtype mismatch");
  Tensor ii = zeros({3}, DType::i32);
  EXPECT_LOWBIT_ERROR(raw::div_(ii, ii), "div", "f32 or f64");
  EXPECT_LOWBIT_ERROR(raw::add(Tensor(), f), "add: undefined input");
  EXPECT_LOWBIT_ERROR(raw::relu_backward(f, d), "relu_backward: dtype mismatch", "[2,3] f32 cpu", "[2,3] f64 cpu");
  EXPECT_LOWBIT_ERROR(raw::hardtanh_backward(f, zeros({4}), -1, 1), "hardtanh_backward: shapes [2,3] and [4]");
}

}  // namespace
}  // namespace lowbit
