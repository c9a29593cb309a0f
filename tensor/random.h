// Random tensors from a counter-based generator (Philox4x32-10, kernels/philox.h).
//
// A Generator is just (seed, offset): each draw of n elements uses Philox blocks
// [offset, offset + ceil(n/2)) and then advances the offset past them. Saving and
// restoring a Generator (two integers) therefore restores the random stream exactly,
// and the same (seed, offset) gives the same numbers on CPU and CUDA for any thread count.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace lowbit {

struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;  // Philox blocks consumed so far
};

Generator& default_generator();        // process-wide, seed 0 until manual_seed()
void manual_seed(uint64_t seed);       // resets the default generator to (seed, 0)

// gen == nullptr uses the default generator.
Tensor uniform(const Shape& sizes, double lo = 0, double hi = 1, DType dtype = DType::f32,
               Device device = Device::cpu(), Generator* gen = nullptr);
Tensor normal(const Shape& sizes, double mean = 0, double std = 1, DType dtype = DType::f32,
              Device device = Device::cpu(), Generator* gen = nullptr);
Tensor randint(const Shape& sizes, int64_t lo, int64_t hi, DType dtype = DType::i64,
               Device device = Device::cpu(), Generator* gen = nullptr);
Tensor bernoulli(const Shape& sizes, double p, DType dtype = DType::f32,
                 Device device = Device::cpu(), Generator* gen = nullptr);
// A random permutation of 0..n-1 (i64): Fisher-Yates driven by the same Philox stream,
// run on the host and copied to `device`, so it is identical on every device.
Tensor randperm(int64_t n, Device device = Device::cpu(), Generator* gen = nullptr);

}  // namespace lowbit
