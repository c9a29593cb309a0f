// MSE observer, QUANT_NUMERICS §4: for each batch (per tensor, or per channel) search the
// candidate clip ranges
//   [min * f_i, max * f_i],  f_i = float32(1 - 0.01 i),  i = 0..94 per tensor, 0..79 per channel
// (min, max: the batch's own), turn each into (s_i, z_i) with choose_qparams (§2, the
// observer's integer range, scheme and power-of-two flag), and keep the candidate with the
// smallest  L_i = sum over the values of d^2,  d = x - fake_quantize(x; s_i, z_i).
//   - Asymmetric schemes scale min and max by the same factor (MQBench's MSEObserver), so
//     the search is along one line, not over all (min, max) pairs.
//   - fake_quantize is the library's (quant/kernels/fake_quantize.h) under options.policy:
//     L_i measures exactly the quantizer that will be used.
//   - d is computed in float32, like the fake-quantized value itself; it is exact (Sterbenz)
//     except where x lies beyond twice its clipped value, and correctly rounded there.
//     d^2 and the sums are in double: element j goes to partial sum j % 16 of its
//     kMseChunk-value chunk, the 16 partials are folded in a fixed tree
//     (tensor/kernels/cpu_sum.h) and the chunks added in order, so L_i is the same for any
//     thread count and SIMD target.
//   - Ties keep the smallest i (the widest range), as MQBench's strict `score < best`.
// Batches are combined as MQBench's MSEObserver does: min_val / max_val are the running
// min / max of every batch's best clip range.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "quant/observer.h"

namespace lowbit::quant {

constexpr int64_t kMseCandidatesPerTensor = 95;
constexpr int64_t kMseCandidatesPerChannel = 80;
constexpr int64_t kMseChunk = 8192;  // values per work item of the search

class MseObserver : public Observer {
 public:
  explicit MseObserver(ObserverOptions options = {});
  int64_t candidates() const { return per_channel() ? kMseCandidatesPerChannel : kMseCandidatesPerTensor; }

 protected:
  void observe_batch(const Batch& batch) override;
};

// Candidate i of the range [min, max]: {min * f_i, max * f_i} in float32.
std::pair<float, float> mse_candidate_range(float min, float max, int64_t i);

// losses[c][i] = L_i of row c of the contiguous [channels, n] array `rows`, with the range
// [min[c], max[c]] and `count` candidates. Parallel over (row, chunk) work items.
std::vector<std::vector<double>> mse_candidate_losses(const float* rows, int64_t channels, int64_t n,
                                                      const std::vector<float>& min, const std::vector<float>& max,
                                                      int64_t count, const ObserverOptions& options);

// One candidate's error sum over x[0, n): L above for (scale, zero_point) under `policy`.
// cpu:: fuses the pytorch policy into one pass (observer_mse_cpu.cpp) and runs the
// library's fake-quant kernel into `scratch` (n floats) for the others; ref:: is a plain
// loop over fq_forward_element (quant/kernels/fake_quantize.h). The two are equal bit for
// bit; mse_candidate_losses uses ref:: in reference mode (tensor/config.h).
namespace ref {
double fq_squared_error(const float* x, int64_t n, float scale, float zero_point, QRange range,
                        const NumericPolicy& policy);
}  // namespace ref
namespace cpu {
double fq_squared_error(const float* x, int64_t n, float scale, float zero_point, QRange range,
                        const NumericPolicy& policy, float* scratch);
}  // namespace cpu

}  // namespace lowbit::quant
