// random on CUDA: one thread per element, r = philox_bits64(seed, offset, i) (philox.h,
// shared with the CPU), and the formulas of random.h written out as random_ref.cpp
// writes them.
//
// Bit-identical to the CPU for uniform, randint and bernoulli: every step is an exact
// integer operation or one IEEE double operation. nvcc would contract a + (b - a) * u
// into an FMA (one rounding instead of two, different bits), so each product and sum is
// spelled with __dmul_rn / __dadd_rn / __dsub_rn, which are never contracted.
// normal calls CUDA's double log and cos, which agree with glibc to within a couple of
// ulp of f64 (CUDA Programming Guide, "Mathematical Functions"); after rounding to f32
// the results match the CPU's or differ by one ulp in rare cases.
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/random.h"

namespace lowbit::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;  // grid-stride loops cover the rest

constexpr double kTwoPi = 6.283185307179586;  // 2 * M_PI, exact (a doubling)
constexpr double k2PowM24 = 0x1p-24, k2PowM32 = 0x1p-32, k2PowM53 = 0x1p-53;

// The largest T strictly below b: uniform's results that reach b are stepped down to it.
template <typename T>
__device__ T largest_below(double b) {
  const T t = static_cast<T>(b);
  if (static_cast<double>(t) < b) return t;
  if constexpr (std::is_same_v<T, float>) return nextafterf(t, -std::numeric_limits<float>::infinity());
  else return nextafter(t, -std::numeric_limits<double>::infinity());
}

// uniform [a, b): u has 24 (f32) or 53 (f64) random bits; v = a + (b - a) * u in double.
template <typename T>
__device__ T uniform_element(double a, double b, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r);
  const double u = std::is_same_v<T, float> ? static_cast<double>(lo >> 8) * k2PowM24   // exact
                                            : static_cast<double>(r >> 11) * k2PowM53;  // exact
  const T v = static_cast<T>(__dadd_rn(a, __dmul_rn(__dsub_rn(b, a), u)));
  return static_cast<double>(v) >= b ? largest_below<T>(b) : v;
}

// normal: Box-Muller, cosine branch, v = a + b * sqrt(-2 log u1) * cos(2 pi u2) in double
// (evaluated left to right like the C++ expression of the CPU: (b * s) * c, then + a).
template <typename T>
__device__ T normal_element(double mean, double std, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r), hi = static_cast<uint32_t>(r >> 32);
  const double u1 = (static_cast<double>(lo) + 1.0) * k2PowM32;  // (0, 1], exact
  const double u2 = static_cast<double>(hi) * k2PowM32;          // [0, 1), exact
  const double s = sqrt(__dmul_rn(-2.0, log(u1)));
  const double c = cos(__dmul_rn(kTwoPi, u2));
  return static_cast<T>(__dadd_rn(mean, __dmul_rn(__dmul_rn(std, s), c)));
}

// randint [a, b): a + floor(r * (b - a) / 2^64), the high half of the 64x64-bit product.
template <typename T>
__device__ T randint_element(double a, double b, uint64_t r) {
  const int64_t lo = static_cast<int64_t>(a);
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - lo);
  const uint64_t step = __umul64hi(r, range);
  return static_cast<T>(lo + static_cast<int64_t>(step));
}

// bernoulli(p = a): 1 with probability a, from the low 32 bits.
template <typename T>
__device__ T bernoulli_element(double p, uint64_t r) {
  const uint32_t lo = static_cast<uint32_t>(r);
  return static_cast<double>(lo) * k2PowM32 < p ? T(1) : T(0);
}

// out is [numel], contiguous. Element i uses the bits philox_bits64(seed, offset, i).
template <typename T>
__global__ void random_kernel(RandomParams p, T* out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.numel;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
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

}  // namespace

void random(const RandomParams& p, void* out) {
  LOWBIT_CHECK(is_floating(p.dtype) || (p.dist != RandomDist::uniform && p.dist != RandomDist::normal),
               "random: uniform and normal need f32 or f64, got ", dtype_name(p.dtype));
  if (p.numel == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const int64_t blocks = (p.numel + kThreads - 1) / kThreads < kMaxBlocks ? (p.numel + kThreads - 1) / kThreads
                                                                             : kMaxBlocks;
    random_kernel<T><<<static_cast<int>(blocks), kThreads>>>(p, static_cast<T*>(out));
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) throw_error(str_cat("random: CUDA kernel launch failed: ", cudaGetErrorString(err)));
  });
}

}  // namespace lowbit::cuda
