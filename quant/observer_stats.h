// Statistics observers, QUANT_NUMERICS §4: ranges (or a scale) from moments of x instead of
// its extremes. Both per tensor and per channel; batches combine by the base's EMA (first
// batch sets it, then r <- (1 - m) r + m r_batch, m = averaging_constant; m = 1 keeps the
// latest batch only, DSQ's "refreshed every training step").
//
//   NormObserver     LSQ's initial step size (Esser et al. 2020): s = 2 mean(|x|) / sqrt(qmax),
//                    directly a scale, not a range. qparams() gives (max(s, eps), 0), with
//                    the power-of-two rounding if asked (§2); range() reports the range that
//                    scale represents, [s qmin, s qmax]. Symmetric schemes only (z = 0):
//                    an asymmetric scheme is refused at construction.
//   MeanStdObserver  [mean - k std, mean + k std], k = 3 (LSQ+, Bhalgat et al. 2020) or 2.6
//                    (DSQ, Gong et al. 2019); std with Bessel's correction (torch.std), 0 for a
//                    single value per channel. The range then goes through choose_qparams (§2).
// mean, mean(|x|) and var are the library's reductions (raw::mean, raw::var): accumulated in
// double in a fixed order, the same for any thread count.
#pragma once

#include "quant/observer.h"

namespace lowbit::quant {

class NormObserver : public Observer {
 public:
  explicit NormObserver(ObserverOptions options = {});
  ObserverRange range() const override;
  PerChannelQParams qparams() const override;
  void reset() override;
  std::string extra_repr() const override;

  Tensor scale;  // f32 [channels]: the EMA of 2 mean(|x|) / sqrt(qmax)

 protected:
  void observe_batch(const Batch& batch) override;
};

struct MeanStdOptions {
  double k = 3;  // LSQ+; DSQ uses 2.6
};

class MeanStdObserver : public Observer {
 public:
  explicit MeanStdObserver(ObserverOptions options = {}, MeanStdOptions meanstd = {});
  std::string extra_repr() const override;

  const MeanStdOptions meanstd;

 protected:
  void observe_batch(const Batch& batch) override;
};

}  // namespace lowbit::quant
