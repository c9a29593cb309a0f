// MSE observer, QUANT_NUMERICS §4: the line search over clip ranges described in
// observer_mse.h. Work items are (row, chunk of kMseChunk values); each item sums the
// squared fake-quantization error of its chunk for every candidate, so the chunk is read
// from cache once per candidate instead of from memory.
#include "quant/observer_mse.h"

#include <omp.h>

#include <algorithm>

#include "quant/kernels/fake_quantize.h"
#include "tensor/config.h"
#include "tensor/error.h"
#include "tensor/kernels/cpu_sum.h"

namespace lowbit::quant {

double ref::fq_squared_error(const float* x, int64_t n, float scale, float zero_point, QRange range,
                             const NumericPolicy& policy) {
  const FqChannel<float> ch = fq_channel(scale, zero_point, range.qmin, range.qmax);
  double lanes[lowbit::cpu::kSumLanes] = {};
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - fq_forward_element(x[i], ch, policy);  // float32, as the kernel's y
    lanes[i % lowbit::cpu::kSumLanes] += static_cast<double>(d) * static_cast<double>(d);
  }
  return lowbit::cpu::fold16(lanes);
}

std::pair<float, float> mse_candidate_range(float min, float max, int64_t i) {
  // float32 factor, float32 products: what MQBench's x_min * (1.0 - i * 0.01) gives on a
  // float32 tensor.
  const float f = static_cast<float>(1.0 - 0.01 * static_cast<double>(i));
  return {min * f, max * f};
}

std::vector<std::vector<double>> mse_candidate_losses(const float* rows, int64_t channels, int64_t n,
                                                      const std::vector<float>& min, const std::vector<float>& max,
                                                      int64_t count, const ObserverOptions& options) {
  // (s_i, z_i) of every candidate of every row, as the kernel's float32 arrays.
  std::vector<float> scale(static_cast<size_t>(channels * count)), zero(scale.size());
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < count; ++i) {
      const auto [lo, hi] = mse_candidate_range(min[c], max[c], i);
      const QParams q = choose_qparams(lo, hi, options.range, options.scheme, options.power_of_two);
      scale[c * count + i] = q.scale;
      zero[c * count + i] = static_cast<float>(q.zero_point);
    }
  const int64_t chunks = (n + kMseChunk - 1) / kMseChunk, items = channels * chunks;
  std::vector<double> parts(static_cast<size_t>(items * count));  // [item][candidate]
  const bool reference = reference_mode();
#pragma omp parallel if (items > 1 && n * channels * count >= (int64_t{1} << 18))
  {
    std::vector<float> scratch(static_cast<size_t>(std::min(n, kMseChunk)));  // non-pytorch policies
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t c = item / chunks, start = (item % chunks) * kMseChunk, len = std::min(kMseChunk, n - start);
      const float* x = rows + c * n + start;
      for (int64_t i = 0; i < count; ++i) {
        const size_t k = static_cast<size_t>(c * count + i);
        parts[static_cast<size_t>(item * count + i)] =
            reference ? ref::fq_squared_error(x, len, scale[k], zero[k], options.range, options.policy)
                      : cpu::fq_squared_error(x, len, scale[k], zero[k], options.range, options.policy, scratch.data());
      }
    }
  }
  // Chunks added in order: the same sum for any thread count.
  std::vector<std::vector<double>> losses(static_cast<size_t>(channels), std::vector<double>(count, 0.0));
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t b = 0; b < chunks; ++b)
      for (int64_t i = 0; i < count; ++i) losses[c][i] += parts[static_cast<size_t>((c * chunks + b) * count + i)];
  return losses;
}

MseObserver::MseObserver(ObserverOptions options) : Observer("MseObserver", options) {
  // The fake-quant kernel keeps codes exact in float32 (|qmin|, |qmax| <= 2^23).
  LOWBIT_CHECK(options.range.qmin >= -(int64_t{1} << 23) && options.range.qmax <= (int64_t{1} << 23),
               "MseObserver: the integer range [", options.range.qmin, ", ", options.range.qmax,
               "] is beyond fake quantization's [-2^23, 2^23]");
  register_range_buffers();
}

void MseObserver::observe_batch(const Batch& batch) {
  const Tensor rows = batch.rows();
  const int64_t channels = rows.size(0), n = rows.size(1), count = candidates();
  const std::vector<std::vector<double>> losses =
      mse_candidate_losses(rows.data<float>(), channels, n, batch.min, batch.max, count, options);
  std::vector<float> lo(static_cast<size_t>(channels)), hi(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    int64_t best = 0;
    for (int64_t i = 1; i < count; ++i)
      if (losses[c][i] < losses[c][best]) best = i;  // strict: ties keep the widest range
    std::tie(lo[c], hi[c]) = mse_candidate_range(batch.min[c], batch.max[c], best);
  }
  update_running(lo, hi);
}

}  // namespace lowbit::quant
