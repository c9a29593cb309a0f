// random on CUDA: one thread per element, r = philox_bits64(seed, offset, i) (philox.h)
// and the element formulas of random.h, the same functions random_ref.cpp and
// random_cpu.cpp call.
//
// Bit-identical to the CPU for uniform, randint and bernoulli: every step is an exact
// integer operation or one IEEE double operation, and the build passes --fmad=false so
// nvcc cannot contract a + (b - a) * u into an FMA (one rounding instead of two).
// normal calls CUDA's double log and cos, which agree with glibc to within a couple of
// ulp of f64 (CUDA Programming Guide, "Mathematical Functions"); after rounding to f32
// the results match the CPU's or differ by one ulp in rare cases.
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "tensor/kernels/cuda_loops.cuh"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/random.h"

namespace lowbit::cuda {

namespace {

// out is [numel], contiguous. Element i uses the bits philox_bits64(seed, offset, i).
template <typename T>
__global__ void random_kernel(RandomParams p, T below_b, T* out) {
  const int64_t lo = static_cast<int64_t>(p.a);  // randint: |a|, |b| <= 2^53 (op layer)
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(p.b) - lo);
  for (int64_t i = first_index(); i < p.numel; i += grid_stride()) {
    const uint64_t r = philox_bits64(p.seed, p.offset, static_cast<uint64_t>(i));
    switch (p.dist) {
      case RandomDist::uniform:
        if constexpr (std::is_floating_point_v<T>) out[i] = random_uniform<T>(p.a, p.b, below_b, r);
        break;
      case RandomDist::normal:
        if constexpr (std::is_floating_point_v<T>) out[i] = random_normal<T>(p.a, p.b, r);
        break;
      case RandomDist::randint: out[i] = random_randint<T>(lo, range, r); break;
      case RandomDist::bernoulli: out[i] = random_bernoulli<T>(p.a, r); break;
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
    T below_b = T(0);
    if constexpr (std::is_floating_point_v<T>) below_b = random_largest_below<T>(p.b);
    random_kernel<T><<<static_cast<int>(num_blocks(p.numel)), kThreads>>>(p, below_b, static_cast<T*>(out));
    check_launch("random");
  });
}

}  // namespace lowbit::cuda
