// Fixed-order summation shared by the CPU reductions (reduce_cpu.cpp, batch_norm_cpu.cpp):
// element i of a block goes to partial sum i % kSumLanes, and the partials are folded in
// one pairwise tree. The order depends only on the shape, never on the SIMD target or the
// thread count, which is what keeps these sums bit-identical across both (DESIGN.md,
// contract 2).
#pragma once

#include <cstdint>

namespace lowbit::cpu {

constexpr int64_t kSumLanes = 16;  // interleaved partial sums per block

// Folds kSumLanes partial sums in a fixed pairwise tree: ((l0+l8)+(l4+l12))+... .
inline double fold16(double* lanes) {
  for (int64_t w = kSumLanes / 2; w >= 1; w /= 2)
    for (int64_t i = 0; i < w; ++i) lanes[i] += lanes[i + w];
  return lanes[0];
}

// sum over i < n of double(x[i]), or of (double(x[i]) - *mean)^2 when mean is given: element
// i into partial sum i % kSumLanes, folded by fold16(). Highway, in reduce_cpu.cpp.
double row_sum(const float* x, int64_t n, const double* mean);
double row_sum(const double* x, int64_t n, const double* mean);

}  // namespace lowbit::cpu
