// dropout (inverted, as torch.nn.functional.dropout): in training each element is kept
// with probability 1 - p and scaled by 1 / (1 - p), so the expected value is unchanged
// and eval needs no rescaling. The mask comes from bernoulli(1 - p) on the given
// generator: the same (seed, offset) gives the same mask on every device.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace lowbit {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  raw::check_float("dropout", x);
  LOWBIT_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p, " (input ", describe(x), ")");
  if (!training || p == 0) return x;  // identity: the same tensor, no numbers drawn
  // mask = bernoulli(1 - p) / (1 - p), all zeros for p = 1 (nothing drawn).
  const Tensor mask = p < 1 ? raw::mul(bernoulli(x.sizes(), 1 - p, x.dtype(), x.device(), gen), 1 / (1 - p))
                           : zeros(x.sizes(), x.dtype(), x.device());
  Tensor y = raw::mul(x, mask);
  if (!any_requires_grad({x})) return y;
  // d(x * mask)/dx = mask
  return record("dropout", y, {x}, [saved_mask = SavedTensor(mask, "dropout")](const Tensor& gy) -> Grads {
    return {raw::mul(gy, saved_mask.get())};
  });
}

}  // namespace lowbit
