// Fixed quantizer (QUANT_NUMERICS §5.1): (s, z) come from an observer (§4: minmax,
// ema_minmax, percentile, mse, kl, norm, meanstd) and are not trained; the backward is the
// straight-through estimator of §3.2.
//
// In calibrate and qat every batch goes to the observer and (s, z) are recomputed from
// it; eval (and qat's forward itself) use the stored (s, z), buffers "scale" and
// "zero_point", so a checkpoint restores exactly the grid the model was evaluated with.
// Before anything was observed, s = 1 and z = 0 (the printout says "unobserved").
#pragma once

#include <memory>
#include <string>

#include "quant/observer.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

// The observer options that match a quantizer's config (range, scheme, power of two,
// channel axis and count, policy).
ObserverOptions observer_options(const QuantizerConfig& config);

class FixedQuantizer : public Quantizer {
 public:
  // observer: a make_observer name (quant/observer.h).
  explicit FixedQuantizer(QuantizerConfig config, const std::string& observer = "minmax");
  FixedQuantizer(QuantizerConfig config, std::shared_ptr<Observer> observer);

  void pre_observe(const Tensor& x) override;
  Tensor quantize(const Tensor& x) override;
  PerChannelQParams qparams() const override;
  std::string extra_repr() const override;

  std::shared_ptr<Observer> observer;  // child "observer": its state is in the state dict
  Tensor scale;                        // f32 [channels] buffer
  Tensor zero_point;                   // i64 [channels] buffer
};

}  // namespace lowbit::quant
