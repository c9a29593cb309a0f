// CUDA backend against the CPU: transfers, the caching allocator, and every kernel family
// with a CUDA path (copy/fill, binary, unary, where, reduce, matmul, random).
//
// Every test starts with LOWBIT_REQUIRE_CUDA(), so without a GPU (or in a build without
// CUDA) the whole suite is reported as skipped. It uses only the public API, so it
// compiles and links in every build.
//
// What must agree bit for bit (NaN matches any NaN: CUDA arithmetic returns the canonical
// NaN 0x7fffffff where x86 returns its default NaN or the input's payload):
//   transfers, casts, fill, where; binary add sub mul div minimum maximum and the
//   comparisons; unary neg abs sign relu floor ceil round clamp sqrt rsqrt (single IEEE
//   operations, correctly rounded on both); integer and bool sums; max, min, aminmax and
//   argmax (these pick an element, so NaN payloads match too); uniform, randint and
//   bernoulli draws.
// What agrees within a stated bound:
//   exp log tanh sigmoid pow    ulp distance (TranscendentalsWithinUlpBounds): the
//                               documented maximum error of CUDA's function plus that
//                               of the CPU's (Highway's polynomials, glibc for pow)
//   float sum, mean, var        the bound of tests/reduce_test.cpp (two f64
//                               accumulations in different orders)
//   matmul                      2 (k + 2) u (|a| |b|)_ij, u = 2^-24 (f32) or 2^-53 (f64)
//   normal                      1 ulp in f32, 8 ulp in f64
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tensor/device_memory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_tensor;

constexpr DType kAllDtypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};
constexpr DType kIntDtypes[] = {DType::i8, DType::u8, DType::i32, DType::i64};
constexpr DType kFloatDtypes[] = {DType::f32, DType::f64};
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const Device kGpu = Device::cuda(0);

// ---- inputs and comparisons ------------------------------------------------------------

// Random values over the whole range of an integer dtype (so add/mul wrap around), in
// [lo, hi) for floats, where tensors of more than 36 elements also get the special
// values below (NaN, infinities, signed zeros, halves, subnormals, overflow in i8...).
Tensor inputs(DType t, const Shape& sizes, uint64_t seed, double lo = -3, double hi = 3) {
  switch (t) {
    case DType::i8: return random_tensor(sizes, t, seed, -128, 127);
    case DType::u8: return random_tensor(sizes, t, seed, 0, 255);
    case DType::i32: return random_tensor(sizes, t, seed, -2147483648.0, 2147483647.0);
    case DType::i64: return random_tensor(sizes, t, seed, -4.0e18, 4.0e18);
    case DType::b8: return random_tensor(sizes, t, seed);
    default: break;
  }
  std::vector<double> v = random_tensor(sizes, DType::f64, seed, lo, hi).to_vector<double>();
  const double specials[] = {kNaN, kInf, -kInf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5,
                             1e-40, -1e-40, 1e30, -1e30, 300.7, -300.7, 1.0};
  if (v.size() > 2 * std::size(specials))
    for (size_t i = 0; i < std::size(specials); ++i) v[i * 7 % v.size()] = specials[i];
  return from_vector(v, sizes).to(t);
}

// Equal bits, or both NaN; for integer and bool tensors exactly bit_equal.
::testing::AssertionResult same_values(const Tensor& expected, const Tensor& actual, const std::string& what) {
  if (!is_floating(expected.dtype()) || expected.dtype() != actual.dtype() || expected.sizes() != actual.sizes())
    return bit_equal(expected, actual, what);
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();  // exact widening
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    const bool ok = (std::isnan(e[i]) && std::isnan(a[i])) || std::memcmp(&e[i], &a[i], sizeof(double)) == 0;
    if (!ok && bad++ < 5) first << "\n  [" << i << "]: cpu " << e[i] << " cuda " << a[i];
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << e.size() << " elements differ"
                                       << first.str();
}

// Distance in units in the last place of dtype t between two values of t, stored as
// doubles: 0 for equal values (+0 and -0 included) and for two NaNs.
uint64_t ulp_distance(double x, double y, DType t) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y) ? 0 : UINT64_MAX;
  if (x == y) return 0;
  // Map the bit patterns to integers in the order of the values (sign-magnitude to linear).
  auto key = [&](double v) -> int64_t {
    if (t == DType::f32) {
      const float f = static_cast<float>(v);
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      const int64_t mag = bits & 0x7fffffffu;
      return bits >> 31 ? -mag : mag;
    }
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    const int64_t mag = static_cast<int64_t>(bits & 0x7fffffffffffffffull);
    return bits >> 63 ? -mag : mag;
  };
  const int64_t kx = key(x), ky = key(y);
  return kx > ky ? static_cast<uint64_t>(kx) - static_cast<uint64_t>(ky)
                 : static_cast<uint64_t>(ky) - static_cast<uint64_t>(kx);
}

::testing::AssertionResult within_ulp(const Tensor& expected, const Tensor& actual, uint64_t max_ulp,
                                      const std::string& what) {
  if (expected.sizes() != actual.sizes() || expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << what << ": expected " << describe(expected) << ", got " << describe(actual);
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  int64_t bad = 0;
  uint64_t worst = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    const uint64_t d = ulp_distance(e[i], a[i], expected.dtype());
    if (d > max_ulp) {
      if (bad++ < 5) first << "\n  [" << i << "]: cpu " << e[i] << " cuda " << a[i] << " (" << d << " ulp)";
      worst = std::max(worst, d);
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << e.size() << " elements are more than "
                                       << max_ulp << " ulp apart (worst " << worst << ")" << first.str();
}

// |actual - expected| <= tol[i]; NaN matches NaN, infinities match exactly.
::testing::AssertionResult within(const Tensor& expected, const Tensor& actual, const std::vector<double>& tol,
                                  const std::string& what) {
  if (expected.sizes() != actual.sizes() || expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << what << ": expected " << describe(expected) << ", got " << describe(actual);
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i])) ok = std::isnan(e[i]) && std::isnan(a[i]);
    else if (std::isinf(e[i]) || std::isinf(a[i])) ok = e[i] == a[i];
    else ok = std::fabs(a[i] - e[i]) <= tol[i];
    if (!ok && bad++ < 5) first << "\n  [" << i << "]: cpu " << e[i] << " cuda " << a[i] << " (bound " << tol[i] << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << e.size()
                                       << " elements differ by more than the bound" << first.str();
}

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
using UnaryFn = std::function<Tensor(const Tensor&)>;

// ---- transfers and the caching allocator -------------------------------------------------

TEST(CudaMemory, RoundTripKeepsEveryBit) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const Tensor x = inputs(t, {37, 53}, 1);
    const Tensor g = x.to(kGpu);
    EXPECT_EQ(g.device(), kGpu);
    EXPECT_TRUE(bit_equal(x, g.cpu(), str_cat("to(cuda).to(cpu) ", dtype_name(t))));
  }
  const Tensor strided = test::random_strided({5, 7}, DType::f32, 2);
  EXPECT_TRUE(bit_equal(strided.contiguous(), strided.to(kGpu).cpu(), "strided source"));
  EXPECT_EQ(empty({0, 3}, DType::f32, kGpu).cpu().numel(), 0);
  EXPECT_EQ(scalar_tensor(2.5, DType::f64, kGpu).item(), 2.5);
  EXPECT_EQ(from_vector(std::vector<int32_t>{7, -8}, kGpu).to_vector<int32_t>(), (std::vector<int32_t>{7, -8}));
}

TEST(CudaMemory, FreedBlocksAreReused) {
  LOWBIT_REQUIRE_CUDA();
  const CudaMemoryStats s0 = cuda_memory_stats(0);
  { const Tensor a = empty({1000}, DType::f32, kGpu); }  // 4000 bytes; the block is cached when a dies
  const CudaMemoryStats s1 = cuda_memory_stats(0);
  { const Tensor b = empty({1000}, DType::f32, kGpu); }
  const CudaMemoryStats s2 = cuda_memory_stats(0);
  EXPECT_EQ(s2.num_allocs, s1.num_allocs + 1);
  EXPECT_EQ(s2.num_cache_hits, s1.num_cache_hits + 1) << "the same size again must come from the cache";
  EXPECT_EQ(s2.num_device_mallocs, s1.num_device_mallocs);
  EXPECT_EQ(s2.allocated_bytes, s0.allocated_bytes);
  EXPECT_GE(s2.peak_allocated_bytes, s0.allocated_bytes + 4000);
  EXPECT_GE(s2.reserved_bytes, s2.allocated_bytes + 4000);
}

TEST(CudaMemory, SteadyStateNeedsNoDeviceMalloc) {
  LOWBIT_REQUIRE_CUDA();
  const Tensor x = random_tensor({256, 1024}, DType::f32, 3).to(kGpu);
  auto step = [&] {
    const Tensor y = raw::mul(raw::add(x, x), x);
    const Tensor s = raw::sum(y, {1});
    const Tensor v = raw::var(y);  // a global two-pass reduction: workspaces too
    return raw::add(s, v);
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up fills the pool
  const CudaMemoryStats before = cuda_memory_stats(0);
  for (int i = 0; i < 10; ++i) step();
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.num_device_mallocs, before.num_device_mallocs) << cuda_memory_summary(0);
  EXPECT_GT(after.num_cache_hits, before.num_cache_hits);
  EXPECT_EQ(after.num_cache_hits - before.num_cache_hits, after.num_allocs - before.num_allocs);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
}

TEST(CudaMemory, EmptyCacheReturnsCachedBlocks) {
  LOWBIT_REQUIRE_CUDA();
  { const Tensor a = empty({1 << 20}, DType::f32, kGpu); }  // 4 MiB, cached afterwards
  const CudaMemoryStats before = cuda_memory_stats(0);
  EXPECT_GE(before.reserved_bytes, before.allocated_bytes + (4u << 20));
  cuda_empty_cache();
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.reserved_bytes, after.allocated_bytes);
  EXPECT_GT(after.num_device_frees, before.num_device_frees);
  const std::string summary = cuda_memory_summary(0);
  EXPECT_NE(summary.find("cuda:0"), std::string::npos) << summary;
  EXPECT_NE(summary.find("cudaMalloc"), std::string::npos) << summary;
}

TEST(CudaMemory, Errors) {
  LOWBIT_REQUIRE_CUDA();
  EXPECT_LOWBIT_ERROR(empty({2}, DType::f32, Device::cuda(1000)), "cuda:1000 is not available");
  EXPECT_LOWBIT_ERROR(cuda_alloc(16, 1000), "cuda_alloc", "cuda:1000 is not available");
  EXPECT_LOWBIT_ERROR(cuda_memory_stats(-1), "cuda_memory_stats", "not available");
  EXPECT_LOWBIT_ERROR(raw::add(ones({2}), ones({2}, DType::f32, kGpu)), "add: inputs are on different devices");
}

// ---- copy, cast, fill ----------------------------------------------------------------

TEST(CudaCopy, CastsMatchCpuForEveryDtypePair) {
  LOWBIT_REQUIRE_CUDA();
  for (DType src : kAllDtypes) {
    const Tensor x = inputs(src, {13, 29}, 4, -300, 300);  // floats saturate and wrap in i8 / u8
    const Tensor g = x.to(kGpu);
    for (DType dst : kAllDtypes)
      EXPECT_TRUE(same_values(x.to(dst), g.to(dst).cpu(), str_cat("cast ", dtype_name(src), " -> ", dtype_name(dst))));
  }
}

TEST(CudaCopy, StridedViewsAndBroadcast) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const std::string name = dtype_name(t);
    const Tensor h = inputs(t, {6, 7, 9}, 5);
    const Tensor g = h.to(kGpu);
    // A permuted view made contiguous on the GPU: the general strided kernel.
    EXPECT_TRUE(same_values(h.permute({2, 0, 1}).contiguous(), g.permute({2, 0, 1}).contiguous().cpu(),
                            "permute + contiguous " + name));
    // Every third element: the 1-D kernel with a stride.
    EXPECT_TRUE(same_values(h.reshape({-1}).slice(0, 1, 378, 3).clone(), g.reshape({-1}).slice(0, 1, 378, 3).clone().cpu(),
                            "1-D slice " + name));
    // copy_ into a transposed destination from a broadcast row, with a cast to f64.
    Tensor dh = zeros({9, 6}, DType::f64), dg = zeros({9, 6}, DType::f64, kGpu);
    Tensor vh = dh.t(), vg = dg.t();  // [6, 9] views with strides (1, 6)
    vh.copy_(h.select(0, 2).select(0, 3));
    vg.copy_(g.select(0, 2).select(0, 3));
    EXPECT_TRUE(same_values(dh, dg.cpu(), "broadcast copy_ into a transposed view " + name));
  }
}

TEST(CudaCopy, FillMatchesCpu) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    for (double v : {0.0, 2.5, -1.0, 300.0, -1e10, kNaN, kInf}) {
      EXPECT_TRUE(same_values(full({5, 7}, v, t), full({5, 7}, v, t, kGpu).cpu(),
                              str_cat("full ", v, " ", dtype_name(t))));
    }
    Tensor h = zeros({8, 10}, t), g = zeros({8, 10}, t, kGpu);
    h.slice(1, 0, 10, 3).fill_(7.5);
    g.slice(1, 0, 10, 3).fill_(7.5);
    EXPECT_TRUE(same_values(h, g.cpu(), str_cat("strided fill_ ", dtype_name(t))));
  }
}

// ---- elementwise -----------------------------------------------------------------------

// Operand layouts: same shape, per-channel broadcast, scalar, outer product, and
// transposed (non-contiguous) views on the GPU.
struct Layout {
  Shape a, b;
  bool transpose;  // use x.t() of [b, a]-shaped 2-D tensors
  const char* name;
};
const Layout kLayouts[] = {
    {{37, 53}, {37, 53}, false, "same shape"},
    {{4, 3, 5, 6}, {1, 3, 1, 1}, false, "per-channel broadcast"},
    {{1000}, {}, false, "scalar"},
    {{7, 1}, {1, 9}, false, "outer"},
    {{53, 37}, {53, 37}, true, "transposed views"},
};

// Runs fn on CPU and CUDA copies of the same operands and compares.
void check_binary(const char* name, const BinaryFn& fn, DType t) {
  uint64_t seed = 10;
  for (const Layout& l : kLayouts) {
    Tensor ah = inputs(t, l.a, seed++), bh = inputs(t, l.b, seed++);
    Tensor ag = ah.to(kGpu), bg = bh.to(kGpu);
    if (l.transpose) {
      ah = ah.t(), bh = bh.t(), ag = ag.t(), bg = bg.t();
    }
    EXPECT_TRUE(same_values(fn(ah, bh), fn(ag, bg).cpu(), str_cat(name, " ", dtype_name(t), " ", l.name)));
  }
}

TEST(CudaElementwise, BinaryMatchesCpuBitForBit) {
  LOWBIT_REQUIRE_CUDA();
  const std::pair<const char*, BinaryFn> arith[] = {
      {"add", [](const Tensor& a, const Tensor& b) { return raw::add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return raw::sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return raw::mul(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return raw::minimum(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return raw::maximum(a, b); }},
  };
  const std::pair<const char*, BinaryFn> compare[] = {
      {"eq", [](const Tensor& a, const Tensor& b) { return raw::eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return raw::ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return raw::lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return raw::le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return raw::gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return raw::ge(a, b); }},
  };
  for (DType t : kAllDtypes) {
    for (const auto& [name, fn] : compare) check_binary(name, fn, t);
    if (t == DType::b8) continue;  // no arithmetic on bool
    for (const auto& [name, fn] : arith) check_binary(name, fn, t);
    if (is_floating(t)) check_binary("div", [](const Tensor& a, const Tensor& b) { return raw::div(a, b); }, t);
  }
  // In place: a += b with a broadcast b.
  Tensor ah = inputs(DType::f32, {6, 8}, 20), bh = inputs(DType::f32, {8}, 21);
  Tensor ag = ah.to(kGpu), bg = bh.to(kGpu);
  raw::add_(ah, bh);
  raw::add_(ag, bg);
  EXPECT_TRUE(same_values(ah, ag.cpu(), "add_ in place"));
}

TEST(CudaElementwise, ExactUnaryOpsMatchCpuBitForBit) {
  LOWBIT_REQUIRE_CUDA();
  const std::pair<const char*, UnaryFn> any_dtype[] = {
      {"neg", [](const Tensor& x) { return raw::neg(x); }},
      {"abs", [](const Tensor& x) { return raw::abs(x); }},
      {"sign", [](const Tensor& x) { return raw::sign(x); }},
      {"relu", [](const Tensor& x) { return raw::relu(x); }},
      {"clamp(-1.25, 100)", [](const Tensor& x) { return raw::clamp(x, -1.25, 100); }},
      {"clamp(-1000, 50)", [](const Tensor& x) { return raw::clamp(x, -1000, 50); }},  // saturates in i8 / u8
  };
  const std::pair<const char*, UnaryFn> float_only[] = {
      {"floor", [](const Tensor& x) { return raw::floor(x); }},
      {"ceil", [](const Tensor& x) { return raw::ceil(x); }},
      {"round", [](const Tensor& x) { return raw::round(x); }},
      {"sqrt", [](const Tensor& x) { return raw::sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return raw::rsqrt(x); }},
  };
  for (DType t : kAllDtypes) {
    if (t == DType::b8) continue;  // unary ops reject bool
    const Tensor h = inputs(t, {61, 67}, 30);
    const Tensor g = h.to(kGpu), gt = h.t().to(kGpu).t();  // gt: same values, transposed storage
    for (const auto& [name, fn] : any_dtype) {
      EXPECT_TRUE(same_values(fn(h), fn(g).cpu(), str_cat(name, " ", dtype_name(t))));
      EXPECT_TRUE(same_values(fn(h), fn(gt).cpu(), str_cat(name, " ", dtype_name(t), " strided")));
    }
    if (!is_floating(t)) continue;
    for (const auto& [name, fn] : float_only) {
      EXPECT_TRUE(same_values(fn(h), fn(g).cpu(), str_cat(name, " ", dtype_name(t))));
      EXPECT_TRUE(same_values(fn(h), fn(gt).cpu(), str_cat(name, " ", dtype_name(t), " strided")));
    }
  }
}

// Largest ulp distance allowed between CPU and CUDA: CUDA's documented maximum error
// (CUDA Programming Guide, "Mathematical Functions": expf 2, logf 1, tanhf 2, powf 4;
// double exp, log, tanh 1, pow 2) plus the CPU's (unary_cpu.cpp: Highway exp 1, log 4,
// tanh 4; pow is glibc's, under 1), rounded up; sigmoid adds the rounding of 1 + exp(-x).
struct UlpBound {
  const char* name;
  UnaryFn fn;
  double lo, hi;  // input range
  uint64_t f32, f64;
};

TEST(CudaElementwise, TranscendentalsWithinUlpBounds) {
  LOWBIT_REQUIRE_CUDA();
  const UlpBound cases[] = {
      {"exp", [](const Tensor& x) { return raw::exp(x); }, -20, 20, 4, 3},
      {"log", [](const Tensor& x) { return raw::log(x); }, 0, 100, 6, 6},
      {"tanh", [](const Tensor& x) { return raw::tanh(x); }, -6, 6, 7, 6},
      {"sigmoid", [](const Tensor& x) { return raw::sigmoid(x); }, -20, 20, 8, 6},
      {"pow 2.5", [](const Tensor& x) { return raw::pow(x, 2.5); }, 0, 8, 6, 4},
      {"pow -1.5", [](const Tensor& x) { return raw::pow(x, -1.5); }, 0, 8, 6, 4},
      {"pow 3", [](const Tensor& x) { return raw::pow(x, 3); }, -8, 8, 6, 4},
      {"pow 0.5", [](const Tensor& x) { return raw::pow(x, 0.5); }, 0, 8, 6, 4},
  };
  for (const UlpBound& c : cases) {
    for (DType t : kFloatDtypes) {
      const Tensor h = random_tensor({100, 103}, t, 40, c.lo, c.hi);
      const uint64_t bound = t == DType::f32 ? c.f32 : c.f64;
      EXPECT_TRUE(within_ulp(c.fn(h), c.fn(h.to(kGpu)).cpu(), bound, str_cat(c.name, " ", dtype_name(t))));
      // The C99 / IEEE special cases (NaN, +-inf, +-0) give the same values on both (the
      // sign of a zero result may differ: 0 ulp apart).
      const Tensor s = from_vector(std::vector<double>{kNaN, kInf, -kInf, 0.0, -0.0}).to(t);
      EXPECT_TRUE(within_ulp(c.fn(s), c.fn(s.to(kGpu)).cpu(), 0, str_cat(c.name, " ", dtype_name(t), " special values")));
    }
  }
}

TEST(CudaElementwise, WhereMatchesCpu) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const Tensor ch = random_tensor({6, 1, 5}, DType::b8, 50), ah = inputs(t, {6, 4, 5}, 51), bh = inputs(t, {}, 52);
    EXPECT_TRUE(same_values(raw::where(ch, ah, bh), raw::where(ch.to(kGpu), ah.to(kGpu), bh.to(kGpu)).cpu(),
                            str_cat("where broadcast ", dtype_name(t))));
    const Tensor c2 = random_tensor({300}, DType::b8, 53), a2 = inputs(t, {300}, 54), b2 = inputs(t, {300}, 55);
    EXPECT_TRUE(same_values(raw::where(c2, a2, b2), raw::where(c2.to(kGpu), a2.to(kGpu), b2.to(kGpu)).cpu(),
                            str_cat("where 1-D ", dtype_name(t))));
    const Tensor c3 = random_tensor({9, 11}, DType::b8, 56), a3 = inputs(t, {9, 11}, 57), b3 = inputs(t, {9, 11}, 58);
    EXPECT_TRUE(same_values(raw::where(c3.t(), a3.t(), b3.t()),
                            raw::where(c3.to(kGpu).t(), a3.to(kGpu).t(), b3.to(kGpu).t()).cpu(),
                            str_cat("where transposed ", dtype_name(t))));
  }
}

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
