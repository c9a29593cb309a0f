// cross_entropy(logits [N, C], target [N]) as torch.nn.functional.cross_entropy with
// class indices, no class weights and no ignore_index. With logp = log_softmax(logits)
// over the classes and eps = label_smoothing:
//   nll_n    = -logp[n, target_n]
//   smooth_n = -(1/C) sum_c logp[n, c]
//   loss_n   = (1 - eps) nll_n + eps smooth_n = -sum_c q[n, c] logp[n, c],
// where q = (1 - eps) one_hot(target) + eps / C is the smoothed target distribution
// (sum_c q[n, c] = 1). Reduced by mean over n (divides by N), sum, or none ([N]).
#include <vector>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

void check_arguments(const Tensor& logits, const Tensor& target, double label_smoothing) {
  LOWBIT_CHECK(logits.defined() && target.defined(), "cross_entropy: undefined ",
               logits.defined() ? "target" : "logits");
  LOWBIT_CHECK(is_floating(logits.dtype()) && logits.dim() == 2,
               "cross_entropy: logits must be a 2-D f32 or f64 tensor [N, C], got ", describe(logits));
  LOWBIT_CHECK(target.dtype() == DType::i64, "cross_entropy: target must hold i64 class indices, got ",
               describe(target), " (logits ", describe(logits),
               "); cast with .to(DType::i64) (class probabilities as targets are not supported)");
  LOWBIT_CHECK(target.dim() == 1 && target.size(0) == logits.size(0), "cross_entropy: target ", describe(target),
               " should be [", logits.size(0), "], one class index per row of the logits ", describe(logits));
  LOWBIT_CHECK(target.device() == logits.device(), "cross_entropy: target and logits are on different devices (target ",
               describe(target), ", logits ", describe(logits), "); move one with .to(device)");
  LOWBIT_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
               label_smoothing);
  // One reduction checks the range; only when it fails are the labels read to name the first bad one.
  const int64_t classes = logits.size(1);
  if (target.numel() == 0) return;
  const auto [lo, hi] = raw::aminmax(target);
  if (lo.item() >= 0 && hi.item() < static_cast<double>(classes)) return;
  const std::vector<int64_t> labels = target.to_vector<int64_t>();
  for (size_t n = 0; n < labels.size(); ++n)
    LOWBIT_CHECK(labels[n] >= 0 && labels[n] < classes, "cross_entropy: target[", n, "] = ", labels[n],
                 " is not a class index for ", classes, " classes (expected 0 <= label < ", classes, "; logits ",
                 describe(logits), ")");
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing, Reduction reduction) {
  check_arguments(logits, target, label_smoothing);
  const int64_t batch = logits.size(0), classes = logits.size(1);
  const double eps = label_smoothing;
  const Tensor logp = log_softmax(detach(logits), 1);  // [N, C], nothing recorded
  const Tensor one_hot = raw::eq(arange(classes, DType::i64, logits.device()).unsqueeze(0), target.unsqueeze(1));
  // loss_n, [N]: the nll term picks logp at the label (where, not q * logp, so that a
  // logit of -inf elsewhere cannot make 0 * -inf); the smoothing term only when eps > 0.
  Tensor loss = raw::neg(raw::sum(raw::where(one_hot, logp, scalar_like(logp, 0)), {1}));
  if (eps > 0)
    loss = raw::add(raw::mul(loss, 1 - eps), raw::mul(raw::mean(logp, {1}), -eps));
  if (reduction == Reduction::mean) loss = raw::mean(loss);
  if (reduction == Reduction::sum) loss = raw::sum(loss);
  if (!any_requires_grad({logits})) return loss;
  // d loss_n / d logits[n, c] = sum_k q[n, k] softmax[n, c] - q[n, c] = softmax[n, c] - q[n, c],
  // times dy_n (none), dy (sum) or dy / N (mean).
  return record("cross_entropy", loss, {logits},
                [batch, classes, eps, reduction, saved_logp = SavedTensor(logp, "cross_entropy"),
                 saved_target = SavedTensor(target, "cross_entropy")](const Tensor& gy) -> Grads {
                  const Tensor& logp = saved_logp.get();
                  const Tensor one_hot = raw::eq(arange(classes, DType::i64, logp.device()).unsqueeze(0),
                                                 saved_target.get().unsqueeze(1));
                  const Tensor q = raw::where(one_hot, scalar_like(logp, 1 - eps + eps / static_cast<double>(classes)),
                                              scalar_like(logp, eps / static_cast<double>(classes)));
                  const Tensor per_sample = reduction == Reduction::none ? gy.unsqueeze(1)
                                            : reduction == Reduction::mean ? raw::div(gy, static_cast<double>(batch))
                                                                           : gy;
                  return {raw::mul(raw::sub(raw::exp(logp), q), per_sample)};
                });
}

}  // namespace lowbit
