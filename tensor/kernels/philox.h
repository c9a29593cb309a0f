// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
// the counter-based generator behind every random op: the numbers for element i are a
// pure function of (seed, offset, i), so CPU threads and CUDA threads draw the same
// values for the same seed and offset, in any order.
//
// How elements map to counters (the same for every distribution and backend):
//   element i of a draw that starts at `offset` uses the 128-bit block
//   philox(key = seed, counter = offset + i / 2) and the 64 bits in its words
//   (2*(i%2), 2*(i%2)+1). A draw of n elements advances the offset by ceil(n / 2).
#pragma once

#include <cstdint>

#include "tensor/kernels/hostdevice.h"

namespace lowbit {

struct Philox4x32 {
  uint32_t x[4];
};

LOWBIT_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// Ten rounds with the constants of the paper (and of Random123 / cuRAND / PyTorch).
LOWBIT_HD Philox4x32 philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kMul0, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(kMul1, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// The 64 random bits of element i of a draw starting at block `offset`.
LOWBIT_HD uint64_t philox_bits64(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4x32 r = philox4x32_10(offset + i / 2, 0, seed);
  const int w = static_cast<int>(i % 2) * 2;
  return (static_cast<uint64_t>(r.x[w + 1]) << 32) | r.x[w];
}

}  // namespace lowbit
