#include "quant/calibrate.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "nn/batch_norm.h"
#include "quant/conv_bn.h"
#include "quant/state.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

namespace {

// Saves every module's mode and gives it back on destruction.
class ModeGuard {
 public:
  explicit ModeGuard(nn::Module& model) {
    for (auto& [name, m] : model.named_modules()) modes_.emplace_back(m, m->is_training());
  }
  ~ModeGuard() {
    for (auto& [m, training] : modes_) m->train(training);  // parents first: children end with their own
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> modes_;
};

}  // namespace

void calibrate(nn::Module& model, const BatchSource& batch, int64_t count) {
  LOWBIT_CHECK(count > 0, "quant::calibrate: the number of batches must be positive, got ", count);
  LOWBIT_CHECK(!named_quantizers(model).empty(), "quant::calibrate: the model has no quantizers (quant::prepare it)");
  ModeGuard modes(model);
  model.eval();
  set_state(model, QuantState::calibrate);
  NoGradGuard no_grad;
  for (int64_t i = 0; i < count; ++i) model(batch(i));
}

int64_t recalibrate_bn(nn::Module& model, const BatchSource& batch, int64_t count) {
  LOWBIT_CHECK(count > 0, "quant::recalibrate_bn: the number of batches must be positive, got ", count);
  ModeGuard modes(model);
  model.eval();
  std::vector<nn::BatchNorm2d*> bns;
  std::vector<ConvBn2d*> refrozen;
  for (auto& [name, m] : model.named_modules()) {
    if (auto* fused = dynamic_cast<ConvBn2d*>(m)) {
      if (fused->strategy == FoldStrategy::merge || fused->strategy == FoldStrategy::fold_frozen) continue;
      if (fused->bn_frozen()) {
        fused->freeze_bn(false);
        refrozen.push_back(fused);
      }
      fused->train(true);
      bns.push_back(fused->bn.get());
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      if (std::find(bns.begin(), bns.end(), bn) == bns.end()) {
        bn->train(true);
        bns.push_back(bn);
      }
    }
  }
  struct Restore {
    std::vector<nn::BatchNorm2d*>& bns;
    std::vector<ConvBn2d*>& refrozen;
    ~Restore() {
      for (auto* bn : bns) bn->options.cumulative_average = false;
      for (auto* f : refrozen) f->freeze_bn(true);
    }
  } restore{bns, refrozen};
  {
    NoGradGuard no_grad;
    for (auto* bn : bns) {
      bn->running_mean.fill_(0);
      bn->running_var.fill_(1);
      bn->num_batches_tracked.fill_(0);
      bn->options.cumulative_average = true;
    }
    for (int64_t i = 0; i < count; ++i) model(batch(i));
  }
  return static_cast<int64_t>(bns.size());
}

}  // namespace lowbit::quant
