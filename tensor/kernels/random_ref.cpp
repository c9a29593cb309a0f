// random reference: one element at a time, each from its own philox_bits64() call, with
// the formulas of random.h written out literally. random_cpu.cpp and random_cuda.cu must
// reproduce these bits (tests/random_test.cpp checks cpu == ref for every dtype).
//
// Every step below is exact or one IEEE operation in double (no FMA: the build uses
// -ffp-contract=off), which is what lets another backend reproduce the bits: the integer
// to double conversions and the power-of-two scalings are exact; a + (b - a) * u is a
// subtract, a multiply and an add, each correctly rounded; only normal's log, cos and sqrt
// come from a maths library.
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

// The largest T strictly below b: uniform's results are stepped down to it. When b is not
// representable (0.1 in f32), T(b) may lie above b and the step is from T(b) downwards.
template <typename T>
static T largest_below(double b) {
  const T t = static_cast<T>(b);
  return static_cast<double>(t) < b ? t : std::nextafter(t, -std::numeric_limits<T>::infinity());
}

// u takes every value k * 2^-24 (f32) or k * 2^-53 (f64) in [0, 1) with equal probability:
// as many bits as the mantissa, so that for [0, 1) every u is exactly representable in T.
template <typename T>
static T uniform_element(double a, double b, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r);
  const double u = std::is_same_v<T, float> ? static_cast<double>(lo >> 8) * k2PowM24    // 24 bits
                                            : static_cast<double>(r >> 11) * k2PowM53;  // 53 bits
  const T v = static_cast<T>(a + (b - a) * u);  // u < 1, but the sum or the rounding can reach b
  return static_cast<double>(v) >= b ? largest_below<T>(b) : v;
}

// Box-Muller, cosine branch (the sine branch of the same pair is not used, so element i
// depends on r_i alone). u1 in (0, 1] keeps the log finite; |z| never exceeds
// sqrt(-2 log 2^-32) = 6.66, cutting off a tail of probability about 3e-11.
template <typename T>
static T normal_element(double mean, double std, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r), hi = static_cast<uint32_t>(r >> 32);
  const double u1 = (static_cast<double>(lo) + 1.0) * k2PowM32;
  const double u2 = static_cast<double>(hi) * k2PowM32;
  return static_cast<T>(mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
}

// a + floor(r * (b - a) / 2^64): the high half of the 64x64-bit product. The op layer
// keeps |a|, |b| <= 2^53, so both are exact integers in double and b - a fits in 64 bits.
// Each value gets floor or ceil of 2^64 / (b - a) of the 2^64 inputs: a relative bias of
// at most (b - a) / 2^64: 2^-10 for the widest range allowed (2^54), far less for usual
// ones. The result lies in [a, b), which the op layer has checked fits T exactly.
template <typename T>
static T randint_element(double a, double b, uint64_t r) {
  const int64_t lo = static_cast<int64_t>(a);
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - lo);
  const uint64_t step = static_cast<uint64_t>((static_cast<unsigned __int128>(r) * range) >> 64);
  return static_cast<T>(lo + static_cast<int64_t>(step));
}

// P(1) = ceil(p * 2^32) / 2^32: p is resolved to 32 bits; p = 0 and p = 1 are exact.
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
