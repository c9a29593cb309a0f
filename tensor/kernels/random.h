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

#include <cstdint>

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
