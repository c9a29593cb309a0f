// Kurtosis regularisation (Shkolnik et al., "Robust Quantization: One Model to Rule Them
// All", NeurIPS 2020): pushes weight distributions towards a uniform one (kurtosis 1.8),
// which quantizes with less error than the bell shape training gives. The example of a
// post_observe step (QUANT_NUMERICS §5): it sees each quantized weight in qat and adds
//   weight / L * sum_l (Kurt(w_l) - target)^2,   Kurt(w) = mean(((w - mean w) / std w)^4)
// (std the biased one) to a loss the training loop adds to its own.
//
//   quant::KurtosisRegularizer reg({.target = 1.8, .weight = 1.0});
//   for (auto* q : weight_quantizers) reg.attach(*q);
//   Tensor loss = cross_entropy(model(x), y) + reg.take_loss();   // every step
#pragma once

#include <memory>

#include "quant/quantizer.h"

namespace lowbit::quant {

// Kurt(w) over all elements, differentiable (f32/f64, at least 2 elements, not constant).
Tensor kurtosis(const Tensor& w);

struct KurtosisOptions {
  double target = 1.8;  // the kurtosis of a uniform distribution
  double weight = 1.0;  // lambda
};

class KurtosisRegularizer {
 public:
  explicit KurtosisRegularizer(KurtosisOptions options = {});
  // Adds a post_observe hook to q: each qat forward adds (Kurt(y) - target)^2.
  void attach(Quantizer& q);
  // weight / L * the sum collected since the last call (L = attached quantizers), and
  // starts a new sum; a zero scalar if nothing was collected.
  Tensor take_loss();
  int64_t attached() const { return state_->attached; }

  const KurtosisOptions options;

 private:
  struct State {
    Tensor sum;  // undefined until a hook adds to it
    int64_t attached = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();  // shared with the hooks
};

}  // namespace lowbit::quant
