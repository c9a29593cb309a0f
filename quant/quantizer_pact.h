// PACT: Parameterized Clipping Activation (Choi et al. 2018), QUANT_NUMERICS §5.4.
//
// A learnable clip level alpha replaces the activation's range:
//   unsigned (the paper, after ReLU)   y = fq(clip(x, 0, alpha)),   s = alpha / qmax, z = 0
//   signed (MQBench's extension)       y = fq(clip(x, -alpha, alpha)), s from §2's symmetric
//                                      rule on [-alpha, alpha] (alpha / 127.5 for int8)
// with fq the fake quantization of §3.1 (the policy's rounding). Gradients:
//   dx     = dy where the clip passes x (0 <= x < alpha; signed: -alpha < x < alpha)
//   dalpha = sum dy where x >= alpha   (signed: minus sum dy where x <= -alpha)
// (the paper's straight-through gradient: the rounding inside the range is ignored).
// alpha starts at 6 (MQBench) and is an ordinary parameter: give it L2 decay through the
// optimizer's weight decay, as the paper does. PACT quantizes activations, per tensor.
#pragma once

#include "quant/quantizer.h"

namespace lowbit::quant {

struct PactOptions {
  double init_alpha = 6.0;
  DType dtype = DType::f32;  // of alpha and of the tensors quantized
};

// The functional form: x any shape, alpha a one-element tensor of x's dtype (> 0).
// `range` unsigned -> the paper's clip to [0, alpha]; signed -> [-alpha, alpha].
Tensor pact(const Tensor& x, const Tensor& alpha, QRange range, const NumericPolicy& policy = NumericPolicy::pytorch());

// The elements PACT passes (its STE mask): 0 <= x < alpha, signed -alpha < x < alpha (bool).
Tensor pact_passes(const Tensor& x, double alpha, bool is_signed);

class PactQuantizer : public Quantizer {
 public:
  explicit PactQuantizer(QuantizerConfig config, PactOptions options = {});
  Tensor quantize(const Tensor& x) override;
  PerChannelQParams qparams() const override;

  const PactOptions options;
  Tensor alpha;  // parameter []
};

}  // namespace lowbit::quant
