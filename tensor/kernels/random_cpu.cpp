// random on the CPU: the per-element formulas of random.h (as random_ref.cpp), with two
// changes that do not touch the bits:
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
        const T below_b = random_largest_below<T>(b);
        fill_pairs(p, out, [=](uint64_t r) { return random_uniform<T>(a, b, below_b, r); });
      }
      return;
    case RandomDist::normal:
      if constexpr (std::is_floating_point_v<T>) fill_pairs(p, out, [=](uint64_t r) { return random_normal<T>(a, b, r); });
      return;
    case RandomDist::randint: {  // bounds exact: the op layer keeps |a|, |b| <= 2^53
      const int64_t lo = static_cast<int64_t>(a);
      const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - lo);
      fill_pairs(p, out, [=](uint64_t r) { return random_randint<T>(lo, range, r); });
      return;
    }
    case RandomDist::bernoulli:
      fill_pairs(p, out, [=](uint64_t r) { return random_bernoulli<T>(a, r); });
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
