// copy / cast / fill: cpu == ref bit for bit for every dtype pair, on odd, zero-size,
// non-contiguous (source and destination) and broadcast layouts; the conversion rules of
// copy.h against values computed by hand; determinism across thread counts.
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tensor/kernels/copy.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Random values that hit every conversion rule: for floats NaN, +-inf, -0, halfway
// values, values just inside and outside each integer range, and ordinary values; for
// integers the full 64-bit range (so narrowing wraps) mixed with small values.
Tensor conversion_source(const Shape& sizes, DType dt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t n = shape_numel(sizes);
  if (is_floating(dt)) {
    static const double kSpecial[] = {kNaN, kInf, -kInf, -0.0, 0.0, 0.5, -0.5, 2.5, -2.5, 127.5, 128.0, -128.5,
                                      -129.0, 255.5, 256.0, -1.0, 2147483647.5, 2147483648.0, -2147483649.0,
                                      9.3e18, -9.3e18, 1e30, -1e30, 1e-45, 1e-310, 1e300};
    std::uniform_real_distribution<double> ordinary(-300, 300);
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = rng() % 4 == 0 ? kSpecial[rng() % std::size(kSpecial)] : ordinary(rng);
    return from_vector(v, sizes).to(dt);
  }
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng() % 2 ? static_cast<int64_t>(rng()) : static_cast<int64_t>(rng() % 601) - 300;
  return from_vector(v, sizes).to(dt);
}

// A non-contiguous view into a larger random buffer: the buffer is returned too, so a
// test can check that the elements outside the view were left alone.
struct StridedDst {
  Tensor buffer, view;
};
StridedDst strided_dst(const Shape& sizes, DType dt, uint64_t seed) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  if (nd < 2) {
    const Tensor buf = conversion_source({nd == 0 ? 2 : sizes[0] * 2 + 1}, dt, seed);
    return {buf, nd == 0 ? buf.select(0, 1) : buf.slice(0, 1, sizes[0] * 2 + 1, 2)};
  }
  Shape padded = sizes;
  std::swap(padded[nd - 1], padded[nd - 2]);
  padded.back() += 3;
  const Tensor buf = conversion_source(padded, dt, seed);
  return {buf, buf.narrow(nd - 1, 1, sizes[nd - 2]).transpose(nd - 1, nd - 2)};
}

// The same view on an independent copy of the buffer.
StridedDst twin(const StridedDst& d) {
  const Tensor buf = d.buffer.clone();
  return {buf, buf.as_strided(d.view.sizes(), d.view.strides(), d.view.offset())};
}

// dst.copy_(src) once with the fast kernel and once with the reference; both buffers
// (including the elements outside the view) must end up bit-identical.
void expect_copy_parity(const StridedDst& dst, const Tensor& src, const std::string& what) {
  StridedDst fast = twin(dst), ref = twin(dst);
  fast.view.copy_(src);
  {
    ReferenceModeGuard guard(true);
    ref.view.copy_(src);
  }
  EXPECT_TRUE(bit_equal(ref.buffer, fast.buffer, what));
}

const Shape kShapes[] = {{}, {0}, {1}, {3}, {17}, {1001}, {2, 3, 5}, {7, 0, 3}, {33, 65}, {4, 1, 17, 3}};

TEST(CopyParity, AllDTypePairsContiguousAndStrided) {
  uint64_t seed = 1;
  for (DType dst_dt : kAllDTypes)
    for (DType src_dt : kAllDTypes)
      for (const Shape& shape : kShapes) {
        const std::string what = str_cat("copy ", dtype_name(src_dt), " -> ", dtype_name(dst_dt), " ", shape_str(shape));
        const Tensor src = conversion_source(shape, src_dt, ++seed);
        const Tensor src_strided = strided_dst(shape, src_dt, seed + 1000).view;  // used as a source
        const Tensor dst_fresh = empty(shape, dst_dt);
        const StridedDst contiguous{dst_fresh, dst_fresh};
        const StridedDst strided = strided_dst(shape, dst_dt, ++seed);
        expect_copy_parity(contiguous, src, what + " contiguous");
        expect_copy_parity(strided, src, what + " strided dst");
        expect_copy_parity(contiguous, src_strided, what + " strided src");
        expect_copy_parity(strided, src_strided, what + " strided src and dst");
        if (shape.size() >= 2) {
          // A transposed source (its innermost stride is not 1).
          const Tensor src_t = conversion_source({shape[1], shape[0]}, src_dt, seed).t();
          const Shape s2 = {shape[0], shape[1]};
          const Tensor d2 = empty(s2, dst_dt);
          expect_copy_parity({d2, d2}, src_t, what + " transposed src");
          expect_copy_parity(strided_dst(s2, dst_dt, seed), src_t, what + " both strided");
        }
      }
}

TEST(CopyParity, CastThroughToMatchesReference) {
  for (DType src_dt : kAllDTypes)
    for (DType dst_dt : kAllDTypes) {
      const Tensor src = conversion_source({5, 301}, src_dt, 99).t();  // non-contiguous
      const Tensor fast = src.to(dst_dt);
      Tensor ref;
      {
        ReferenceModeGuard guard(true);
        ref = src.to(dst_dt);
      }
      EXPECT_TRUE(bit_equal(ref, fast, str_cat("to ", dtype_name(src_dt), " -> ", dtype_name(dst_dt))));
    }
}

TEST(CopyParity, BroadcastSource) {
  for (DType dt : {DType::f32, DType::i8, DType::i64, DType::b8}) {
    const StridedDst dst = strided_dst({4, 5, 6}, dt, 5);
    expect_copy_parity(dst, conversion_source({5, 1}, DType::f64, 6), "copy_ [5,1] -> [4,5,6]");
    expect_copy_parity(dst, conversion_source({6}, DType::i32, 7), "copy_ [6] -> [4,5,6]");
    expect_copy_parity(dst, conversion_source({1, 5, 1}, dt, 8), "copy_ [1,5,1] -> [4,5,6]");
    expect_copy_parity(dst, scalar_tensor(-3.75), "copy_ 0-d -> [4,5,6]");
  }
  Tensor x = zeros({3, 4}, DType::i32);
  x.copy_(from_vector<float>({1.9f, -2.9f, 3, 4}));
  EXPECT_EQ(x.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 4, 1, -2, 3, 4, 1, -2, 3, 4}));
  x.t().copy_(from_vector<int32_t>({7, 8, 9}));  // rows of the transpose = columns of x
  EXPECT_EQ(x.select(0, 1).to_vector<int32_t>(), (std::vector<int32_t>{8, 8, 8, 8}));
}

// Direct kernel calls: a reversed (negative stride) copy through make_layout.
TEST(CopyParity, NegativeStrideThroughKernels) {
  std::vector<float> src(1001);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.5f - 3;
  const Shape sizes = {1001}, dst_strides = {1}, src_strides = {-1};
  CopyParams p;
  p.dst_dtype = DType::f64;
  p.src_dtype = DType::f32;
  p.layout = make_layout(sizes, {&dst_strides, &src_strides});
  std::vector<double> out_ref(1001), out_cpu(1001);
  ref::copy(p, out_ref.data(), src.data() + 1000);
  cpu::copy(p, out_cpu.data(), src.data() + 1000);
  for (size_t i = 0; i < 1001; ++i) ASSERT_EQ(out_ref[i], static_cast<double>(src[1000 - i])) << i;
  EXPECT_EQ(out_ref, out_cpu);
}

// ---- the conversion rules of copy.h, value by value -------------------------------

// Casts `in` (a tensor of From's dtype) to `to` with both backends and compares with
// `expected` (stored in To, the C++ type of `to`), bit for bit.
template <typename From, typename To>
void expect_cast(const std::vector<From>& in, const std::vector<To>& expected, DType to, const std::string& what) {
  const Tensor src = from_vector(in);
  const Tensor want = from_host(expected.data(), {static_cast<int64_t>(expected.size())}, to);
  EXPECT_TRUE(bit_equal(want, src.to(to), what + " (cpu)"));
  ReferenceModeGuard guard(true);
  EXPECT_TRUE(bit_equal(want, src.to(to), what + " (ref)"));
}

TEST(ConversionRules, FloatToIntTruncatesSaturatesAndMapsNaNToZero) {
  const std::vector<double> in = {kNaN, kInf, -kInf, 2.9, -2.9, -0.5, -0.0, 300.7, -300.7, 1e10, -1e10, 127.99, -128.99};
  expect_cast(in, std::vector<int8_t>{0, 127, -128, 2, -2, 0, 0, 127, -128, 127, -128, 127, -128}, DType::i8, "f64->i8");
  expect_cast(in, std::vector<uint8_t>{0, 255, 0, 2, 0, 0, 0, 255, 0, 255, 0, 127, 0}, DType::u8, "f64->u8");
  const int32_t i32max = std::numeric_limits<int32_t>::max(), i32min = std::numeric_limits<int32_t>::min();
  expect_cast(in, std::vector<int32_t>{0, i32max, i32min, 2, -2, 0, 0, 300, -300, i32max, i32min, 127, -128}, DType::i32,
              "f64->i32");
  expect_cast(std::vector<double>{2147483647.9, 2147483648.0, -2147483648.9, -2147483649.0},
              std::vector<int32_t>{i32max, i32max, i32min, i32min}, DType::i32, "f64->i32 bounds");
  const int64_t i64max = std::numeric_limits<int64_t>::max(), i64min = std::numeric_limits<int64_t>::min();
  expect_cast(std::vector<double>{kNaN, 9.3e18, 0x1p63, -0x1p63, -1e19, 0x1p62, -1e10, 1e10},
              std::vector<int64_t>{0, i64max, i64max, i64min, i64min, int64_t{1} << 62, -10000000000, 10000000000},
              DType::i64, "f64->i64");
  expect_cast(std::vector<float>{NAN, INFINITY, -INFINITY, 0x1p31f, -0x1p31f, 0x1p63f, -0x1p63f, 16777217.0f, -1.5f},
              std::vector<int32_t>{0, i32max, i32min, i32max, i32min, i32max, i32min, 16777216, -1}, DType::i32, "f32->i32");
  expect_cast(std::vector<float>{0x1p63f, -0x1p63f, 0x1p62f, NAN},
              std::vector<int64_t>{i64max, i64min, int64_t{1} << 62, 0}, DType::i64, "f32->i64");
  expect_cast(std::vector<float>{255.9f, 256.0f, -0.9f, -1.0f}, std::vector<uint8_t>{255, 255, 0, 0}, DType::u8, "f32->u8");
}

TEST(ConversionRules, IntToIntWrapsAround) {
  expect_cast(std::vector<int32_t>{300, -1, 200, 256, -129, 255}, std::vector<uint8_t>{44, 255, 200, 0, 127, 255},
              DType::u8, "i32->u8");
  expect_cast(std::vector<int32_t>{300, -1, 200, 256, -129, 128}, std::vector<int8_t>{44, -1, -56, 0, 127, -128},
              DType::i8, "i32->i8");
  expect_cast(std::vector<int64_t>{(int64_t{1} << 40) + 5, -2147483649LL, 2147483648LL, -1},
              std::vector<int32_t>{5, 2147483647, std::numeric_limits<int32_t>::min(), -1}, DType::i32, "i64->i32");
  expect_cast(std::vector<uint8_t>{200, 127, 128, 255}, std::vector<int8_t>{-56, 127, -128, -1}, DType::i8, "u8->i8");
  expect_cast(std::vector<int8_t>{-1, -128, 127}, std::vector<uint8_t>{255, 128, 127}, DType::u8, "i8->u8");
  expect_cast(std::vector<int8_t>{-1, -128, 127}, std::vector<int64_t>{-1, -128, 127}, DType::i64, "i8->i64");
  expect_cast(std::vector<uint8_t>{255, 0}, std::vector<int32_t>{255, 0}, DType::i32, "u8->i32");
}

TEST(ConversionRules, BoolNormalisation) {
  expect_cast(std::vector<double>{0.0, -0.0, 0.5, kNaN, kInf, -3, 1e-310}, std::vector<uint8_t>{0, 0, 1, 1, 1, 1, 1},
              DType::b8, "f64->bool");
  expect_cast(std::vector<float>{0.0f, -0.0f, -1e-45f, NAN}, std::vector<uint8_t>{0, 0, 1, 1}, DType::b8, "f32->bool");
  // 256 and 512 are nonzero: normalising must not wrap them to 0.
  expect_cast(std::vector<int32_t>{0, 256, -1, 512, 7}, std::vector<uint8_t>{0, 1, 1, 1, 1}, DType::b8, "i32->bool");
  expect_cast(std::vector<int64_t>{int64_t{1} << 40, 0}, std::vector<uint8_t>{1, 0}, DType::b8, "i64->bool");
  expect_cast(std::vector<uint8_t>{0, 2, 255}, std::vector<uint8_t>{0, 1, 1}, DType::b8, "u8->bool");
  const Tensor b = from_vector<uint8_t>({0, 1, 1}).to(DType::b8);
  for (DType dt : kAllDTypes) EXPECT_EQ(b.to(dt).to_vector<double>(), (std::vector<double>{0, 1, 1})) << dtype_name(dt);
}

TEST(ConversionRules, FloatToFloatAndIntToFloatRoundToNearest) {
  expect_cast(std::vector<double>{1e300, -1e300, 1e-50, -1e-50, 0.1, -0.0, 3.4028235e38},
              std::vector<float>{INFINITY, -INFINITY, 0.0f, -0.0f, 0.1f, -0.0f, 3.4028234663852886e38f}, DType::f32,
              "f64->f32");
  // Exactly halfway between two floats: ties to even.
  expect_cast(std::vector<double>{1.0 + 0x1p-24, 1.0 + 3 * 0x1p-24}, std::vector<float>{1.0f, 1.0f + 0x1p-22f}, DType::f32,
              "f64->f32 ties");
  expect_cast(std::vector<float>{0.1f, -0.0f, 1e-45f, INFINITY}, std::vector<double>{0.1f, -0.0, 1e-45f, kInf}, DType::f64,
              "f32->f64");
  expect_cast(std::vector<int64_t>{(int64_t{1} << 53) + 1, (int64_t{1} << 53) + 3, std::numeric_limits<int64_t>::max()},
              std::vector<double>{0x1p53, 0x1p53 + 4, 0x1p63}, DType::f64, "i64->f64");
  expect_cast(std::vector<int32_t>{16777217, 16777219, -16777217}, std::vector<float>{16777216.0f, 16777220.0f, -16777216.0f},
              DType::f32, "i32->f32");
  expect_cast(std::vector<uint8_t>{255, 0}, std::vector<float>{255.0f, 0.0f}, DType::f32, "u8->f32");
  // NaN stays NaN through float casts (compared by isnan: the payload is not specified).
  const Tensor nan = from_vector<double>({kNaN}).to(DType::f32).to(DType::f64);
  EXPECT_TRUE(std::isnan(nan.item()));
}

// ---- fill -------------------------------------------------------------------------

TEST(Fill, StridedViewsMatchReferenceAndLeaveTheRestAlone) {
  for (DType dt : kAllDTypes)
    for (double value : {0.0, -0.0, 1.0, -2.75, 300.0, kNaN, kInf}) {
      for (const Shape& shape : kShapes) {
        const StridedDst dst = strided_dst(shape, dt, 11);
        StridedDst fast = twin(dst), ref = twin(dst);
        fast.view.fill_(value);
        {
          ReferenceModeGuard guard(true);
          ref.view.fill_(value);
        }
        const std::string what = str_cat("fill ", dtype_name(dt), " ", shape_str(shape), " with ", value);
        ASSERT_TRUE(bit_equal(ref.buffer, fast.buffer, what));
        // The view holds the converted value; everything else is as before.
        const Tensor expected_value = from_vector<double>({value}).to(dt);
        const Tensor untouched = dst.buffer.clone();
        untouched.as_strided(dst.view.sizes(), dst.view.strides(), dst.view.offset()).copy_(expected_value.reshape({}));
        ASSERT_TRUE(bit_equal(untouched, fast.buffer, what + " vs expected"));
      }
    }
  EXPECT_EQ(full({2}, kNaN, DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(full({2}, 300, DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 255}));
  EXPECT_EQ(full({1}, -0.0, DType::b8).item(), 0);
  EXPECT_TRUE(std::signbit(full({1}, -0.0, DType::f32).item()));
}

// ---- determinism -------------------------------------------------------------------

TEST(CopyDeterminism, OneVsTwoThreadsOnAPermutedCopy) {
  const Tensor src = test::random_tensor({64, 130, 129}, DType::f32, 21, -200, 200).permute({2, 0, 1});  // 1.07M
  ASSERT_GE(src.numel(), 1 << 20);
  for (DType dt : {DType::f32, DType::i8, DType::f64}) {
    Tensor one, two, ref;
    {
      test::ThreadGuard threads(1);
      one = src.to(dt).contiguous();
    }
    {
      test::ThreadGuard threads(2);
      two = src.to(dt).contiguous();
    }
    {
      ReferenceModeGuard guard(true);
      ref = src.to(dt).contiguous();
    }
    EXPECT_TRUE(bit_equal(one, two, str_cat("permuted copy to ", dtype_name(dt), ", 1 vs 2 threads")));
    EXPECT_TRUE(bit_equal(ref, two, str_cat("permuted copy to ", dtype_name(dt), ", ref vs cpu")));
  }
}

}  // namespace
}  // namespace lowbit
