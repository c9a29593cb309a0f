// random: fills a contiguous output from Philox bits (philox.h), one element at a time.
//
// Formulas for element i with 64 random bits r = philox_bits64(seed, offset, i),
// lo = low 32 bits of r, hi = high 32 bits:
//   uniform   [a, b):   u = (lo >> 8) * 2^-24 for f32, (r >> 11) * 2^-53 for f64;
//                       v = a + (b - a) * u computed in double, rounded to the dtype,
//                       and stepped down to the largest value below b if it rounds to b.
//   normal    mean a, std b (Box-Muller, cosine branch, computed in double):
//                       u1 = (lo + 1) * 2^-32 in (0, 1], u2 = hi * 2^-32,
//                       v = a + b * sqrt(-2 log u1) * cos(2 pi u2)
//   randint   [a, b):   v = a + floor(r * (b - a) / 2^64)  (the high half of a 64x64 product)
//   bernoulli p = a:    v = (lo * 2^-32 < a) ? 1 : 0
// uniform, randint and bernoulli are bit-identical on every backend; normal uses libm
// (host) or CUDA's log/cos/sqrt in double, which agree to within 1 ulp of f64 before the
// final rounding, so f32 normals match CPU bit for bit except in rare double-rounding cases.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/philox.h"

namespace lowbit {

enum class RandomDist : uint8_t { uniform, normal, randint, bernoulli };

struct RandomParams {
  RandomDist dist = RandomDist::uniform;
  DType dtype = DType::f32;  // output
  int64_t numel = 0;         // output is contiguous
  uint64_t seed = 0;
  uint64_t offset = 0;       // first Philox block
  double a = 0, b = 1;       // see the formulas above
};

// ---- the per-element formulas, shared by ref, cpu and cuda ----
// Every step is exact or one IEEE double operation (the build forbids FMA contraction:
// -ffp-contract=off on the host, --fmad=false in nvcc), which is what makes uniform,
// randint and bernoulli bit-identical across backends.

namespace random_detail {
constexpr double kTwoPi = 6.283185307179586;  // 2 * M_PI, exact (a doubling)
constexpr double k2PowM24 = 0x1p-24, k2PowM32 = 0x1p-32, k2PowM53 = 0x1p-53;

// High 64 bits of the 128-bit product a * b.
LOWBIT_HD uint64_t mulhi64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
}
}  // namespace random_detail

// The largest T strictly below b (host; computed once per draw and passed to
// random_uniform). When b is not representable (0.1 in f32), T(b) may lie above b.
template <typename T>
T random_largest_below(double b) {
  const T t = static_cast<T>(b);
  return static_cast<double>(t) < b ? t : std::nextafter(t, -std::numeric_limits<T>::infinity());
}

// uniform [a, b): u takes every value k * 2^-24 (f32) or k * 2^-53 (f64) in [0, 1) with
// equal probability; v = a + (b - a) * u rounds to T and, if it reaches b, steps down.
template <typename T>
LOWBIT_HD T random_uniform(double a, double b, T below_b, uint64_t r) {
  using namespace random_detail;
  const double u = std::is_same_v<T, float> ? static_cast<double>(static_cast<uint32_t>(r) >> 8) * k2PowM24
                                            : static_cast<double>(r >> 11) * k2PowM53;
  const T v = static_cast<T>(a + (b - a) * u);
  return static_cast<double>(v) >= b ? below_b : v;
}

// Box-Muller, cosine branch (element i depends on r_i alone). u1 in (0, 1] keeps the log
// finite; |z| never exceeds sqrt(-2 log 2^-32) = 6.66, a tail of probability ~3e-11.
template <typename T>
LOWBIT_HD T random_normal(double mean, double std, uint64_t r) {
  using namespace random_detail;
  const double u1 = (static_cast<double>(static_cast<uint32_t>(r)) + 1.0) * k2PowM32;
  const double u2 = static_cast<double>(static_cast<uint32_t>(r >> 32)) * k2PowM32;
  return static_cast<T>(mean + std * ::sqrt(-2.0 * ::log(u1)) * ::cos(kTwoPi * u2));
}

// randint [lo, lo + range): lo + floor(r * range / 2^64). Each value gets floor or ceil of
// 2^64 / range of the 2^64 inputs: a relative bias of at most range / 2^64.
template <typename T>
LOWBIT_HD T random_randint(int64_t lo, uint64_t range, uint64_t r) {
  return static_cast<T>(lo + static_cast<int64_t>(random_detail::mulhi64(r, range)));
}

// bernoulli: P(1) = ceil(p * 2^32) / 2^32, from the low 32 bits; p = 0 and 1 are exact.
template <typename T>
LOWBIT_HD T random_bernoulli(double p, uint64_t r) {
  return static_cast<double>(static_cast<uint32_t>(r)) * random_detail::k2PowM32 < p ? T(1) : T(0);
}

namespace ref { void random(const RandomParams& p, void* out); }
namespace cpu { void random(const RandomParams& p, void* out); }
namespace cuda { void random(const RandomParams& p, void* out); }

inline void random(Device device, const RandomParams& p, void* out) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::random(p, out);
    case Backend::cpu: return cpu::random(p, out);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::random(p, out);
#else
      throw_no_cuda("random");
#endif
  }
}

}  // namespace lowbit
