// random reference: one element at a time, each from its own philox_bits64() call, with
// the formulas of random.h written out literally. random_cpu.cpp and random_cuda.cu must
// reproduce these bits (tests/random_test.cpp checks cpu == ref for every dtype).
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/random.h"

namespace lowbit::ref {

constexpr double kTwoPi = 6.283185307179586;  // 2 * M_PI, exact (a doubling)
constexpr double k2PowM24 = 0x1p-24, k2PowM32 = 0x1p-32, k2PowM53 = 0x1p-53;

// The largest T strictly below b: uniform's results are stepped down to it.
template <typename T>
static T largest_below(double b) {
  const T t = static_cast<T>(b);
  return static_cast<double>(t) < b ? t : std::nextafter(t, -std::numeric_limits<T>::infinity());
}

template <typename T>
static T uniform_element(double a, double b, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r);
  const double u = std::is_same_v<T, float> ? static_cast<double>(lo >> 8) * k2PowM24    // 24 bits
                                            : static_cast<double>(r >> 11) * k2PowM53;  // 53 bits
  const T v = static_cast<T>(a + (b - a) * u);  // u < 1, but the sum or the rounding can reach b
  return static_cast<double>(v) >= b ? largest_below<T>(b) : v;
}

// Box-Muller, cosine branch: u1 in (0, 1] so the log is finite.
template <typename T>
static T normal_element(double mean, double std, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r), hi = static_cast<uint32_t>(r >> 32);
  const double u1 = (static_cast<double>(lo) + 1.0) * k2PowM32;
  const double u2 = static_cast<double>(hi) * k2PowM32;
  return static_cast<T>(mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
}

// a + floor(r * (b - a) / 2^64): the high half of the 64x64-bit product. The op layer
// keeps |a|, |b| <= 2^53, so both are exact integers in double and b - a fits in 64 bits.
template <typename T>
static T randint_element(double a, double b, uint64_t r) {
  const int64_t lo = static_cast<int64_t>(a);
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - lo);
  const uint64_t step = static_cast<uint64_t>((static_cast<unsigned __int128>(r) * range) >> 64);
  return static_cast<T>(lo + static_cast<int64_t>(step));
}

template <typename T>
static T bernoulli_element(double p, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r);
  return static_cast<double>(lo) * k2PowM32 < p ? T(1) : T(0);
}

template <typename T>
static void random_typed(const RandomParams& p, T* out) {
  for (int64_t i = 0; i < p.numel; ++i) {
    const uint64_t r = philox_bits64(p.seed, p.offset, static_cast<uint64_t>(i));
    switch (p.dist) {
      case RandomDist::uniform:
        if constexpr (std::is_floating_point_v<T>) out[i] = uniform_element<T>(p.a, p.b, r);
        break;
      case RandomDist::normal:
        if constexpr (std::is_floating_point_v<T>) out[i] = normal_element<T>(p.a, p.b, r);
        break;
      case RandomDist::randint: out[i] = randint_element<T>(p.a, p.b, r); break;
      case RandomDist::bernoulli: out[i] = bernoulli_element<T>(p.a, r); break;
    }
  }
}

void random(const RandomParams& p, void* out) {
  LOWBIT_CHECK(is_floating(p.dtype) || (p.dist != RandomDist::uniform && p.dist != RandomDist::normal),
               "random: uniform and normal need f32 or f64, got ", dtype_name(p.dtype));
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    random_typed(p, static_cast<T*>(out));
  });
}

}  // namespace lowbit::ref
