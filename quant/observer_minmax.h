// MinMax and EMA MinMax observers, QUANT_NUMERICS §4.
//
//   MinMaxObserver     min_val = min over every batch of min(x), max_val likewise
//                      (PyTorch's MinMaxObserver / PerChannelMinMaxObserver).
//   EmaMinMaxObserver  the first batch sets min_val, max_val; each later batch moves them
//                      r <- (1 - m) r + m r_batch, m = options.averaging_constant (0.1).
//                      PyTorch's MovingAverageMinMaxObserver writes the same update as
//                      r + c (r_batch - r) with c = 0.01; TorchQuant's 0.9 (MQBench's
//                      ema_ratio 0.9) is the weight of the old value, 1 - m, so m = 0.1.
//                      The update is computed in double and rounded once to float32.
// Both per tensor and per channel.
#pragma once

#include "quant/observer.h"

namespace lowbit::quant {

class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(ObserverOptions options = {});

 protected:
  void observe_batch(const Batch& batch) override;
};

class EmaMinMaxObserver : public Observer {
 public:
  explicit EmaMinMaxObserver(ObserverOptions options = {});
  std::string extra_repr() const override;

 protected:
  void observe_batch(const Batch& batch) override;
};

}  // namespace lowbit::quant
