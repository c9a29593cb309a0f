// random reference: one element at a time, each from its own philox_bits64() call and
// the element formulas of random.h. random_cpu.cpp and random_cuda.cu must reproduce these
// bits (tests/random_test.cpp checks cpu == ref for every dtype).
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

template <typename T>
static void random_typed(const RandomParams& p, T* out) {
  const int64_t lo = static_cast<int64_t>(p.a);  // randint: the op layer keeps |a|, |b| <= 2^53
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(p.b) - lo);
  for (int64_t i = 0; i < p.numel; ++i) {
    const uint64_t r = philox_bits64(p.seed, p.offset, static_cast<uint64_t>(i));
    switch (p.dist) {
      case RandomDist::uniform:
        if constexpr (std::is_floating_point_v<T>) out[i] = random_uniform<T>(p.a, p.b, random_largest_below<T>(p.b), r);
        break;
      case RandomDist::normal:
        if constexpr (std::is_floating_point_v<T>) out[i] = random_normal<T>(p.a, p.b, r);
        break;
      case RandomDist::randint: out[i] = random_randint<T>(lo, range, r); break;
      case RandomDist::bernoulli: out[i] = random_bernoulli<T>(p.a, r); break;
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
