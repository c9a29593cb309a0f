// LSQ: Learned Step Size Quantization (Esser et al., ICLR 2020), QUANT_NUMERICS §5.2.
//
// The scale s is a parameter (per tensor, or per output channel for weights); the zero
// point is 0 (LSQ is symmetric: signed ranges for weights and signed activations,
// unsigned for non-negative ones). Forward is §3.1 with the learnable s; the gradients,
// with v = x / s and q = R(v) + z before the clamp:
//   dx = dy [qmin <= q <= qmax]
//   ds = g dy (R(v) - v) inside, g dy (qmin - z) below, g dy (qmax - z) above
//   g  = 1 / sqrt(N qmax), N = the elements one scale covers:
//        weights       the weight count (per channel: one filter)
//        activations   the features of one sample (paper, the default) or of the whole
//                      batch (MQBench), option n_mode
// mask option: pytorch (test q after rounding, the default) or paper (test v before
// rounding, so the half step past each end counts as outside).
// s stays positive: after each optimizer step s <- max(|s|, eps) (quant::after_optimizer_step).
// Initialisation: the Norm rule of QUANT_NUMERICS §4 on the first batch the quantizer
// observes (calibrate or qat), s = 2 mean(|x|) / sqrt(qmax), per channel for per-channel
// quantizers; a quantizer that never observed anything keeps s = 1 and says so in its
// printout ("uninitialised").
// Power-of-two configs round s to 2^rne(log2 s) in the forward; the gradient passes to s
// unchanged (the straight-through exponent of QUANT_NUMERICS §2).
#pragma once

#include "quant/fake_quantize.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

enum class LsqTensorKind : uint8_t { weight, activation };
enum class LsqGradScaleN : uint8_t { paper, mqbench };  // activations only (see above)

struct LsqOptions {
  LsqTensorKind tensor = LsqTensorKind::weight;
  LsqGradScaleN n_mode = LsqGradScaleN::paper;
  LsqMask mask = LsqMask::pytorch;
  DType dtype = DType::f32;  // of the scale parameter and of the tensors quantized
};

class LsqQuantizer : public Quantizer {
 public:
  LsqQuantizer(QuantizerConfig config, LsqOptions options = {});

  void pre_observe(const Tensor& x) override;
  Tensor quantize(const Tensor& x) override;
  PerChannelQParams qparams() const override;
  void after_step() override;
  double grad_scale() const override { return grad_scale_; }
  std::string extra_repr() const override;

  bool initialized() const { return initialized_.item() != 0; }
  // g = 1 / sqrt(N qmax) for an input of x's shape (see above).
  double grad_scale_for(const Tensor& x) const;

  const LsqOptions options;
  Tensor scale;       // parameter: [] per tensor, [channels] per channel
  Tensor zero_point;  // buffer of zeros, same shape (the learnable op's z input; never trained)

 private:
  Tensor initialized_;  // i64 [] buffer: 1 once the Norm initialisation ran
  double grad_scale_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace lowbit::quant
