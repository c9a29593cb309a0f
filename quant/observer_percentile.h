// Percentile observer, QUANT_NUMERICS §4: the range of a batch is its p_lo-th and p_hi-th
// percentiles (per tensor, or per channel), and batches are combined by the EMA of the
// base (first batch sets it, then r <- (1 - m) r + m r_batch, m = averaging_constant).
//
// Percentile definition ("linear", numpy's default and torch.quantile's
// interpolation='linear' with q = p / 100): with v the n values sorted ascending,
//   h = (n - 1) * p / 100,  k = floor(h),  w = h - k,
//   percentile = v[k] + w * (v[k + 1] - v[k])     (v[k] alone when w = 0),
// h and the interpolation in double, the result rounded once to float32. (torch computes
// h = q * (n - 1) in the input's dtype, so for float32 input its k and w can differ from
// these by that rounding.) p = 0 and p = 100 give the min and the max.
//
// Selection, never a sort: the order statistics v[k] are found by counting.
//   rows of at least kRadixSelectMin values: a two-level radix select on the float's
//     order-preserving 32-bit key: one parallel pass counts the high 16 bits (65536 bins),
//     which locates the bin of each wanted rank; a second pass gathers the keys of those
//     (at most four) bins and counts their low 16 bits, which gives the exact key.
//     Two linear passes whatever the distribution (a constant row included).
//   shorter rows: std::nth_element on a copy (introselect, linear on average).
// Order statistics are exact values, so the result cannot depend on the thread count.
//
// Subsampling: a row (the whole tensor per tensor, one channel per channel) of more than
// subsample_above (100k) values is replaced by ceil(n * subsample_fraction) values (1%):
// the row is cut into m equal strata [k n / m, (k + 1) n / m) and one value is drawn
// uniformly from each, by Philox4x32-10 (tensor/kernels/philox.h) with key = seed and
// counter = (k, batch << 32 | channel), batch being the number of batches observed before.
// The draw is a pure function of (seed, batch, channel, k): the same for any thread count,
// and resumed exactly from a checkpoint (num_batches is a buffer).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/observer.h"

namespace lowbit::quant {

struct PercentileOptions {
  double p_lo = 1, p_hi = 99;        // TorchQuant's defaults; MQBench's quantile: mqbench()
  int64_t subsample_above = 100000;  // rows longer than this are subsampled
  double subsample_fraction = 0.01;  // to ceil(n * fraction) values
  uint64_t seed = 0;
  static PercentileOptions mqbench() { return {.p_lo = 0.01, .p_hi = 99.99}; }
};

class PercentileObserver : public Observer {
 public:
  explicit PercentileObserver(ObserverOptions options = {}, PercentileOptions percentile = {});
  std::string extra_repr() const override;

  const PercentileOptions percentile;

 protected:
  void observe_batch(const Batch& batch) override;
};

constexpr int64_t kRadixSelectMin = 1 << 15;  // rows this long use the radix select

// The linear percentiles (definition above) of x[0, n), one per entry of p (each in
// [0, 100]); x finite, n >= 1. Parallel (OpenMP) for long rows.
std::vector<float> percentiles(const float* x, int64_t n, const std::vector<double>& p);

// How many values the observer keeps of a row of n values, and the stratified sample
// itself (definition above; stream = batch << 32 | channel).
int64_t subsample_size(int64_t n, const PercentileOptions& options);
std::vector<float> subsample(const float* x, int64_t n, int64_t m, uint64_t seed, uint64_t stream);

}  // namespace lowbit::quant
