// DSQ: Differentiable Soft Quantization (Gong et al., ICCV 2019), QUANT_NUMERICS §5.6.
//
// With alpha = 0.4 (the paper's characteristic value), k_s = 1 / (1 - alpha) and
// k = ln((k_s + 1) / (k_s - 1)):
//   u = clamp(x / s + z, qmin, qmax)                         (the policy's scale application)
//   phi = floor(u) + 0.5 + 0.5 k_s tanh(k (u - floor(u) - 0.5))   a soft staircase: phi
//         equals u at every integer and at every half step, and is continuous
//   y = (R(phi) - z) s                                        forward: the hard codes
// The backward goes through phi (R straight through): dy/dx = phi'(u) inside the clamp,
// 0 outside. (s, z) are not learned: they come from the MeanStd range mean +- 2.6 std
// (§4), refreshed from every batch in calibrate and qat.
#pragma once

#include <memory>

#include "quant/observer.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

// The functional form, per tensor: x f32/f64, (s, z) the grid, alpha in (0, 1).
Tensor dsq(const Tensor& x, double scale, int64_t zero_point, QRange range, double alpha = 0.4,
           const NumericPolicy& policy = NumericPolicy::pytorch());

struct DsqOptions {
  double alpha = 0.4;
  double meanstd_k = 2.6;
};

class DsqQuantizer : public Quantizer {
 public:
  explicit DsqQuantizer(QuantizerConfig config, DsqOptions options = {});
  void pre_observe(const Tensor& x) override;
  Tensor quantize(const Tensor& x) override;
  PerChannelQParams qparams() const override;

  const DsqOptions options;
  std::shared_ptr<Observer> observer;  // child "observer": MeanStd, refreshed every batch
  Tensor scale;                        // f32 [1] buffer
  Tensor zero_point;                   // i64 [1] buffer
};

}  // namespace lowbit::quant
