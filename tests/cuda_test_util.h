// Helpers shared by the CUDA suites (cuda_test.cpp, cuda_reduce_test.cpp): inputs with
// special values, ulp distances and dtype lists. See cuda_test.cpp for what must agree
// bit for bit and what within a bound.
#pragma once

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

namespace lowbit::cuda_test {


using test::bit_equal;
using test::random_tensor;

constexpr DType kAllDtypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};
constexpr DType kIntDtypes[] = {DType::i8, DType::u8, DType::i32, DType::i64};
constexpr DType kFloatDtypes[] = {DType::f32, DType::f64};
inline const double kNaN = std::numeric_limits<double>::quiet_NaN();
inline const double kInf = std::numeric_limits<double>::infinity();
inline const Device kGpu = Device::cuda(0);

// ---- inputs and comparisons ------------------------------------------------------------

// Random values over the whole range of an integer dtype (so add/mul wrap around), in
// [lo, hi) for floats, where tensors of more than 36 elements also get the special
// values below (NaN, infinities, signed zeros, halves, subnormals, overflow in i8...).
inline Tensor inputs(DType t, const Shape& sizes, uint64_t seed, double lo = -3, double hi = 3) {
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
inline ::testing::AssertionResult same_values(const Tensor& expected, const Tensor& actual, const std::string& what) {
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
inline uint64_t ulp_distance(double x, double y, DType t) {
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

inline ::testing::AssertionResult within_ulp(const Tensor& expected, const Tensor& actual, uint64_t max_ulp,
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
inline ::testing::AssertionResult within(const Tensor& expected, const Tensor& actual, const std::vector<double>& tol,
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

}  // namespace lowbit::cuda_test
