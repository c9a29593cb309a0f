// Random tensors: argument checks, the generator bookkeeping and the call into
// tensor/kernels/random.h; randperm is a host-side Fisher-Yates shuffle on the same stream.
//
// The checks reject what the kernel formulas cannot honour rather than clamping it: an
// empty or infinite range, a negative std, a probability outside [0, 1], integer bounds
// that the output dtype (or the double-valued RandomParams) cannot hold exactly.
#include "tensor/random.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/kernels/random.h"

namespace lowbit {

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator() = Generator{seed, 0}; }

namespace {

// The largest integer magnitude randint accepts: RandomParams carries its bounds as
// doubles, which hold every integer up to 2^53 exactly (f32 outputs: 2^24).
constexpr int64_t kMaxExactInteger = int64_t{1} << 53;
constexpr int64_t kMaxF32Integer = int64_t{1} << 24;

void check_sizes(const char* op, const Shape& sizes) {
  for (int64_t s : sizes) LOWBIT_CHECK(s >= 0, op, ": negative size in ", shape_str(sizes));
}

// Fills a new contiguous tensor from the generator's stream, then advances the stream
// past the ceil(numel / 2) Philox blocks the draw used.
Tensor draw(RandomParams p, const Shape& sizes, Device device, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor out = empty(sizes, p.dtype, device);
  p.numel = out.numel();
  p.seed = g.seed;
  p.offset = g.offset;
  if (p.numel > 0) random(device, p, out.data_ptr());
  g.offset += static_cast<uint64_t>((p.numel + 1) / 2);
  return out;
}

}  // namespace

// [lo, hi) must be finite in the dtype: (hi - lo) * u must not overflow, nor the result.
Tensor uniform(const Shape& sizes, double lo, double hi, DType dtype, Device device, Generator* gen) {
  check_sizes("uniform", sizes);
  LOWBIT_CHECK(is_floating(dtype), "uniform: dtype must be f32 or f64, got ", dtype_name(dtype),
               " (use randint for integers)");
  LOWBIT_CHECK(lo < hi, "uniform: expected lo < hi, got lo=", lo, " hi=", hi);
  const double limit = dtype == DType::f32 ? FLT_MAX : DBL_MAX;
  LOWBIT_CHECK(std::fabs(lo) <= limit && std::fabs(hi) <= limit && std::isfinite(hi - lo), "uniform: the range [", lo,
               ", ", hi, ") is not finite in ", dtype_name(dtype));
  RandomParams p;
  p.dist = RandomDist::uniform;
  p.dtype = dtype;
  p.a = lo;
  p.b = hi;
  return draw(p, sizes, device, gen);
}

Tensor normal(const Shape& sizes, double mean, double std, DType dtype, Device device, Generator* gen) {
  check_sizes("normal", sizes);
  LOWBIT_CHECK(is_floating(dtype), "normal: dtype must be f32 or f64, got ", dtype_name(dtype));
  LOWBIT_CHECK(std::isfinite(mean), "normal: mean must be finite, got ", mean);
  LOWBIT_CHECK(std >= 0 && std::isfinite(std), "normal: std must be finite and >= 0, got ", std);
  RandomParams p;
  p.dist = RandomDist::normal;
  p.dtype = dtype;
  p.a = mean;
  p.b = std;
  return draw(p, sizes, device, gen);
}

// [lo, hi) must fit the dtype, so the kernel's conversion never wraps or rounds.
Tensor randint(const Shape& sizes, int64_t lo, int64_t hi, DType dtype, Device device, Generator* gen) {
  check_sizes("randint", sizes);
  LOWBIT_CHECK(dtype != DType::b8, "randint: dtype bool is not supported (use bernoulli for random bools)");
  LOWBIT_CHECK(lo < hi, "randint: expected lo < hi, got lo=", lo, " hi=", hi);
  LOWBIT_CHECK(lo >= -kMaxExactInteger && hi <= kMaxExactInteger, "randint: bounds lo=", lo, " hi=", hi,
               " exceed 2^53 in magnitude");
  if (dtype == DType::f32) {
    // Every integer in [lo, hi) must be exact in f32, or results could round up to hi.
    LOWBIT_CHECK(lo >= -kMaxF32Integer && hi <= kMaxF32Integer, "randint: bounds lo=", lo, " hi=", hi,
                 " exceed 2^24, where f32 stops holding every integer; use f64 or an integer dtype");
  } else if (dtype != DType::f64) {
    int64_t min = 0, max = 0;
    switch (dtype) {
      case DType::i8: min = INT8_MIN; max = INT8_MAX; break;
      case DType::u8: min = 0; max = UINT8_MAX; break;
      case DType::i32: min = INT32_MIN; max = INT32_MAX; break;
      default: min = INT64_MIN; max = INT64_MAX; break;
    }
    LOWBIT_CHECK(lo >= min && hi - 1 <= max, "randint: [", lo, ", ", hi, ") does not fit in ", dtype_name(dtype),
                 " (", min, "..", max, ")");
  }
  RandomParams p;
  p.dist = RandomDist::randint;
  p.dtype = dtype;
  p.a = static_cast<double>(lo);
  p.b = static_cast<double>(hi);
  return draw(p, sizes, device, gen);
}

// Any dtype: the kernel writes T(1) or T(0) (0/1 bytes for bool). NaN fails the check.
Tensor bernoulli(const Shape& sizes, double prob, DType dtype, Device device, Generator* gen) {
  check_sizes("bernoulli", sizes);
  LOWBIT_CHECK(prob >= 0 && prob <= 1, "bernoulli: probability must be in [0, 1], got ", prob);
  RandomParams p;
  p.dist = RandomDist::bernoulli;
  p.dtype = dtype;
  p.a = prob;
  return draw(p, sizes, device, gen);
}

// Fisher-Yates, from the top: position i swaps with j uniform in [0, i]. Draw t (element t
// of the stream, t = n-1-i) picks j as the high half of r_t * (i + 1), whose bias is at
// most (i + 1) / 2^64 per position. The stream advances by ceil(n / 2) blocks, as for a
// draw of n elements.
Tensor randperm(int64_t n, Device device, Generator* gen) {
  LOWBIT_CHECK(n >= 0, "randperm: n must be >= 0, got ", n);
  Generator& g = gen ? *gen : default_generator();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t r = philox_bits64(g.seed, g.offset, static_cast<uint64_t>(n - 1 - i));
    const auto j = static_cast<int64_t>((static_cast<unsigned __int128>(r) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  g.offset += static_cast<uint64_t>((n + 1) / 2);
  return from_vector(perm, Shape{n}).to(device);
}

}  // namespace lowbit
