// random on the CPU: the per-element formulas of random.h (the same expressions as
// random_ref.cpp), with two changes that do not touch the bits:
//   - one Philox block is computed per pair of elements (ref computes it for each of
//     the two elements that share it), and the per-draw constants are hoisted;
//   - fixed blocks of kPairsPerBlock pairs run on OpenMP threads. Element i always comes
//     from block offset + i/2, whichever thread computes it, so the output is the same for
//     every thread count and equal to ref:: bit for bit (tests/random_test.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/random.h"

namespace lowbit::cpu {

constexpr int64_t kPairsPerBlock = 2048;        // work item: 4096 elements
constexpr int64_t kParallelThreshold = 16384;  // elements; below, one thread
constexpr double kTwoPi = 6.283185307179586;   // 2 * M_PI, exact
constexpr double k2PowM24 = 0x1p-24, k2PowM32 = 0x1p-32, k2PowM53 = 0x1p-53;

// out[i] = element(r_i) for i in [0, numel), r_i = philox_bits64(seed, offset, i).
// Blocks are whole pairs, so no two threads ever compute or write the same Philox block;
// the last pair of an odd count writes only its first element.
template <typename T, typename Element>
static void fill_pairs(const RandomParams& p, T* out, Element element) {
  const int64_t npairs = (p.numel + 1) / 2;
  const int64_t nblocks = (npairs + kPairsPerBlock - 1) / kPairsPerBlock;
#pragma omp parallel for schedule(static) if (p.numel >= kParallelThreshold)
  for (int64_t block = 0; block < nblocks; ++block) {
    const int64_t end = std::min(npairs, (block + 1) * kPairsPerBlock);
    for (int64_t pair = block * kPairsPerBlock; pair < end; ++pair) {
      // Words (0,1) feed element 2*pair, words (2,3) element 2*pair + 1 (philox.h).
      const Philox4x32 x = philox4x32_10(p.offset + static_cast<uint64_t>(pair), 0, p.seed);
      const uint64_t r0 = (static_cast<uint64_t>(x.x[1]) << 32) | x.x[0];
      const uint64_t r1 = (static_cast<uint64_t>(x.x[3]) << 32) | x.x[2];
      out[2 * pair] = element(r0);
      if (2 * pair + 1 < p.numel) out[2 * pair + 1] = element(r1);
    }
  }
}

template <typename T>
static void random_typed(const RandomParams& p, T* out) {
  const double a = p.a, b = p.b;
  switch (p.dist) {
    case RandomDist::uniform:
      if constexpr (std::is_floating_point_v<T>) {
        // The largest T strictly below b, for results that round up to b.
        T below_b = static_cast<T>(b);
        if (static_cast<double>(below_b) >= b) below_b = std::nextafter(below_b, -std::numeric_limits<T>::infinity());
        fill_pairs(p, out, [=](uint64_t r) {
          // 24 random bits for f32, 53 for f64, scaled into [0, 1) exactly.
          const double u = std::is_same_v<T, float> ? static_cast<double>(static_cast<uint32_t>(r) >> 8) * k2PowM24
                                                    : static_cast<double>(r >> 11) * k2PowM53;
          const T v = static_cast<T>(a + (b - a) * u);
          return static_cast<double>(v) >= b ? below_b : v;
        });
      }
      return;
    case RandomDist::normal:  // Box-Muller, cosine branch, in double
      if constexpr (std::is_floating_point_v<T>) {
        fill_pairs(p, out, [=](uint64_t r) {
          // u1 from the low word, in (0, 1] so the log is finite; u2 from the high word.
          const double u1 = (static_cast<double>(static_cast<uint32_t>(r)) + 1.0) * k2PowM32;
          const double u2 = static_cast<double>(static_cast<uint32_t>(r >> 32)) * k2PowM32;
          return static_cast<T>(a + b * std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
        });
      }
      return;
    case RandomDist::randint: {  // lo + high half of r * (hi - lo); bounds exact (|a|, |b| <= 2^53)
      const int64_t lo = static_cast<int64_t>(a);
      const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - lo);
      fill_pairs(p, out, [=](uint64_t r) {
        const uint64_t step = static_cast<uint64_t>((static_cast<unsigned __int128>(r) * range) >> 64);
        return static_cast<T>(lo + static_cast<int64_t>(step));
      });
      return;
    }
    case RandomDist::bernoulli:  // the low 32 bits against p
      fill_pairs(p, out, [=](uint64_t r) {
        return static_cast<double>(static_cast<uint32_t>(r)) * k2PowM32 < a ? T(1) : T(0);
      });
      return;
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

}  // namespace lowbit::cpu
