#include "quant/kurtosis.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::quant {

Tensor kurtosis(const Tensor& w) {
  LOWBIT_CHECK(w.defined() && (w.dtype() == DType::f32 || w.dtype() == DType::f64) && w.numel() >= 2,
               "kurtosis: w must be f32 or f64 with at least 2 elements, got ", describe(w));
  const Tensor centred = sub(w, mean(w));
  const Tensor var = mean(mul(centred, centred));  // biased
  LOWBIT_CHECK(var.item() > 0, "kurtosis: every element of ", describe(w), " is equal (zero variance)");
  const Tensor z2 = div(mul(centred, centred), var);  // ((w - mean) / std)^2
  return mean(mul(z2, z2));
}

KurtosisRegularizer::KurtosisRegularizer(KurtosisOptions o) : options(o) {
  LOWBIT_CHECK(o.weight >= 0, "KurtosisRegularizer: weight must be >= 0, got ", o.weight);
}

void KurtosisRegularizer::attach(Quantizer& q) {
  ++state_->attached;
  q.add_post_observe_hook([state = state_, target = options.target](const Tensor& y) {
    const Tensor d = sub(kurtosis(y), target);
    const Tensor term = mul(d, d);
    state->sum = state->sum.defined() ? add(state->sum, term) : term;
  });
}

Tensor KurtosisRegularizer::take_loss() {
  Tensor sum = std::move(state_->sum);
  state_->sum = Tensor();
  if (!sum.defined()) return scalar_tensor(0.0);
  return mul(sum, options.weight / static_cast<double>(std::max<int64_t>(1, state_->attached)));
}

}  // namespace lowbit::quant
