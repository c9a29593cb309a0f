// where: cpu == ref bit for bit (the result is a copy of an input element, NaN payloads
// and -0 included) for every dtype, with broadcasting of all three inputs, non-contiguous
// inputs, odd and zero sizes; hand-computed values; determinism; errors.
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};

// Random values; floats also get NaN (both signs), -0 and infinities.
Tensor values(const Shape& shape, DType dt, uint64_t seed, bool strided) {
  Tensor v = strided ? test::random_strided(shape, dt, seed, -1000, 1000) : test::random_tensor(shape, dt, seed, -1000, 1000);
  if (is_floating(dt) && v.numel() >= 8) {
    Tensor flat = v.dim() == 1 ? v : v.reshape({-1});  // a view when v is contiguous
    if (!v.is_contiguous() && v.dim() > 1) flat = v.select(0, 0).reshape({-1});  // patch the first rows only
    const double specials[] = {std::nan(""), -std::nan(""), -0.0, 0.0, INFINITY, -INFINITY};
    for (int i = 0; i < 6 && i < flat.numel(); ++i) flat.narrow(0, i, 1).fill_(specials[i]);
  }
  return v;
}

::testing::AssertionResult parity(const Tensor& c, const Tensor& a, const Tensor& b, const std::string& what) {
  const Tensor fast = raw::where(c, a, b);
  Tensor ref;
  {
    ReferenceModeGuard guard(true);
    ref = raw::where(c, a, b);
  }
  return bit_equal(ref, fast, str_cat("where(", describe(c), ", ", describe(a), ", ", describe(b), ") ", what));
}

// (cond, a, b) shapes: same shape with odd sizes (65537: several chunks and threads),
// three-way broadcasting in every arrangement, 0-d operands and zero-size results.
const std::tuple<Shape, Shape, Shape> kShapes[] = {
    {{1}, {1}, {1}},
    {{17}, {17}, {17}},
    {{1001}, {1001}, {1001}},
    {{65537}, {65537}, {65537}},
    {{4, 1, 7}, {1, 5, 1}, {7}},
    {{7}, {4, 5, 1}, {1, 5, 7}},
    {{2, 3, 5, 7}, {1, 3, 1, 1}, {}},
    {{}, {3, 17}, {17}},
    {{}, {}, {}},
    {{3, 16385}, {16385}, {3, 1}},
    {{5, 1}, {1, 9}, {5, 9}},
    {{0}, {0}, {0}},
    {{3, 0}, {0}, {1}},
    {{}, {0, 4}, {4}}};

TEST(WhereParity, AllDTypesWithBroadcasting) {
  uint64_t seed = 0;
  for (DType dt : kAllDTypes)
    for (const auto& [sc, sa, sb] : kShapes) {
      const Tensor c = test::random_tensor(sc, DType::b8, ++seed);
      const Tensor a = values(sa, dt, ++seed, false), b = values(sb, dt, ++seed, false);
      ASSERT_TRUE(parity(c, a, b, "contiguous"));
    }
}

TEST(WhereParity, NonContiguousInputs) {
  uint64_t seed = 1000;
  const std::tuple<Shape, Shape, Shape> shapes[] = {
      {{33, 65}, {33, 65}, {33, 65}}, {{6, 1001}, {6, 1001}, {1001}}, {{4, 1, 7}, {5, 1}, {4, 5, 7}}, {{17}, {3, 17}, {}}};
  for (DType dt : kAllDTypes)
    for (const auto& [sc, sa, sb] : shapes)
      for (int mask = 1; mask < 8; ++mask) {  // every combination of strided operands
        const Tensor c = mask & 1 ? test::random_strided(sc, DType::b8, ++seed) : test::random_tensor(sc, DType::b8, ++seed);
        const Tensor a = values(sa, dt, ++seed, mask & 2), b = values(sb, dt, ++seed, mask & 4);
        ASSERT_TRUE(parity(c, a, b, str_cat("strided mask ", mask)));
      }
  // A transposed result layout: every operand transposed.
  const Tensor c = test::random_tensor({65, 33}, DType::b8, 1).t();
  const Tensor a = test::random_tensor({65, 33}, DType::f32, 2).t(), b = test::random_tensor({65, 33}, DType::f32, 3).t();
  ASSERT_TRUE(parity(c, a, b, "transposed"));
}

TEST(WhereValues, HandComputed) {
  const Tensor c = from_vector<uint8_t>({1, 0, 1, 0}).to(DType::b8);
  const Tensor a = from_vector<float>({1, 2, 3, 4}), b = from_vector<float>({-1, -2, -3, -4});
  EXPECT_EQ(raw::where(c, a, b).to_vector<float>(), (std::vector<float>{1, -2, 3, -4}));
  // Broadcast cond [2,1] against a [3] and a 0-d b.
  const Tensor c2 = from_vector<uint8_t>({0, 1}, {2, 1}).to(DType::b8);
  const Tensor r = raw::where(c2, from_vector<int64_t>({7, 8, 9}), scalar_tensor(-5, DType::i64));
  EXPECT_EQ(r.sizes(), (Shape{2, 3}));
  EXPECT_EQ(r.to_vector<int64_t>(), (std::vector<int64_t>{-5, -5, -5, 7, 8, 9}));
  // The selected element is copied bit for bit: -0 stays -0, a NaN keeps its sign.
  const Tensor special = from_vector<double>({-0.0, -std::nan("")});
  const std::vector<double> picked = raw::where(from_vector<uint8_t>({1, 1}).to(DType::b8), special, zeros({2}, DType::f64))
                                         .to_vector<double>();
  EXPECT_TRUE(std::signbit(picked[0]) && picked[0] == 0);
  EXPECT_TRUE(std::isnan(picked[1]) && std::signbit(picked[1]));
  // Typical use: relu through a comparison.
  const Tensor x = from_vector<float>({-1, 0.5f, -0.25f, 2});
  const Tensor zero = scalar_tensor(0);
  EXPECT_EQ(raw::where(raw::gt(x, zero), x, zero).to_vector<float>(), (std::vector<float>{0, 0.5f, 0, 2}));
  const Tensor b8 = raw::where(c, from_vector<uint8_t>({1, 1, 1, 1}).to(DType::b8), zeros({4}, DType::b8));
  EXPECT_EQ(b8.dtype(), DType::b8);
  EXPECT_EQ(b8.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 0}));
}

TEST(WhereDeterminism, OneVsTwoThreads) {
  const Tensor c = test::random_tensor({1 << 20}, DType::b8, 4);
  const Tensor a = test::random_tensor({1 << 20}, DType::f32, 5), b = test::random_tensor({1024, 1}, DType::f32, 6);
  const Tensor cv = c.view({1024, 1024});
  Tensor one, two;
  {
    test::ThreadGuard threads(1);
    one = raw::where(cv, a.view({1024, 1024}).t(), b);
  }
  {
    test::ThreadGuard threads(2);
    two = raw::where(cv, a.view({1024, 1024}).t(), b);
  }
  EXPECT_TRUE(bit_equal(one, two, "where, 1 vs 2 threads"));
  EXPECT_TRUE(parity(cv, a.view({1024, 1024}).t(), b, "1M elements"));
}

TEST(WhereErrors, MessagesNameTheArguments) {
  const Tensor c = zeros({3}, DType::b8), f = zeros({3}), i = zeros({3}, DType::i32);
  EXPECT_LOWBIT_ERROR(raw::where(f, f, f), "where: cond must be bool, got [3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::where(zeros({3}, DType::u8), i, i), "where: cond must be bool", "u8");
  EXPECT_LOWBIT_ERROR(raw::where(c, i, f), "where: dtype mismatch", "[3] i32 cpu", "[3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::where(c, f, zeros({4})), "where: shapes", "[4]", "cannot be broadcast");
  EXPECT_LOWBIT_ERROR(raw::where(zeros({2, 3}, DType::b8), zeros({4}), zeros({4})), "where: shapes [2,3] and [4]",
                      "cannot be broadcast");
  EXPECT_LOWBIT_ERROR(raw::where(Tensor(), f, f), "where", "undefined");
  EXPECT_LOWBIT_ERROR(raw::where(c, f, Tensor()), "where", "undefined");
}

}  // namespace
}  // namespace lowbit
