// DoReFa-Net quantizers (Zhou et al. 2016), QUANT_NUMERICS §5.5. No learnable parameters.
//
// Weights, variant paper (the default):
//   w~  = tanh(w) / (2 max|tanh(w)|) + 0.5                   in [0, 1]
//   w_q = 2 R((2^b - 1) w~) / (2^b - 1) - 1                  2^b levels in [-1, 1]
// variant mqbench: w~ = tanh(w) / max|tanh(w)| (in [-1, 1]), then the symmetric fake
// quantization of §3.1 on the range [-1, 1] (s = 1 / ((qmax - qmin) / 2), z = 0).
// Activations: clip to [0, 1], then a_q = R((2^b - 1) a) / (2^b - 1).
// R is the policy's rounding with the straight-through gradient (quant/ste.h); every
// other step (tanh, the max, the division, the clip) is differentiated as written, as in
// the DoReFa-Net code (the gradient of the max reaches the weight that attains it).
#pragma once

#include "quant/quantizer.h"

namespace lowbit::quant {

enum class DorefaTensorKind : uint8_t { weight, activation };
enum class DorefaVariant : uint8_t { paper, mqbench };

Tensor dorefa_weight(const Tensor& w, int bits, DorefaVariant variant = DorefaVariant::paper,
                     const NumericPolicy& policy = NumericPolicy::pytorch());
Tensor dorefa_activation(const Tensor& x, int bits, const NumericPolicy& policy = NumericPolicy::pytorch());

struct DorefaOptions {
  DorefaTensorKind tensor = DorefaTensorKind::weight;
  DorefaVariant variant = DorefaVariant::paper;
};

class DorefaQuantizer : public Quantizer {
 public:
  explicit DorefaQuantizer(QuantizerConfig config, DorefaOptions options = {});
  Tensor quantize(const Tensor& x) override;
  // The grid step as the scale: 1 / (2^b - 1) for activations (z = 0: the grid is affine
  // on [0, 2^b - 1]); 2 / (2^b - 1) for paper weights, whose grid -1 + 2k / (2^b - 1) has
  // its zero half a step off every integer code (not an integer-affine grid: z is
  // reported as 0 and output_range gives the true [-1, 1]); mqbench weights: §2's
  // symmetric (s, 0) on [-1, 1].
  PerChannelQParams qparams() const override;
  void output_range(std::vector<float>& lo, std::vector<float>& hi) const override;
  const DorefaOptions options;
};

}  // namespace lowbit::quant
