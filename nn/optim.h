// Optimizers: SGD and AdamW with parameter groups, numerically identical to PyTorch 1.13's
// torch.optim.SGD and torch.optim.AdamW (default single-tensor path) step for step.
//
//   std::vector<Tensor> decay, no_decay;            // e.g. conv/linear weights vs BN and biases
//   nn::SGD opt({{decay, {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4}},
//                {no_decay, {.lr = 0.1, .momentum = 0.9}}});
//   for (...) { opt.zero_grad(); backward(loss); opt.step(); }
//
// Parameters are leaf tensors (autograd/variable.h); step() updates each one that has a
// gradient in place (the same storage, so every handle and view sees the new values) and
// bumps its version counter. A parameter whose grad is undefined is skipped and keeps its
// state, as in torch. The per-element formulas and the rounding of every scalar are in
// tensor/kernels/optim_step.h; tests/optim_test.cpp checks float32 trajectories against
// torch bit for bit (tests/golden/make_optim_golden.py).
//
// Every group has its own hyper-parameters and learning rate; lr(g) is what the next
// step uses and initial_lr(g) the value the group was created with, which an LR schedule
// scales (nn/lr_schedule.h; torch keeps it as group['initial_lr']).
//
// State for checkpoints: state() is a snapshot (copies) as named tensors, load_state()
// puts it back into an optimizer built with the same parameters and hyper-parameters,
// after which training continues bit-identically. The names:
//   param_groups.<g>.lr, param_groups.<g>.initial_lr        f64 0-d (restored by load_state)
//   param_groups.<g>.<hyper-parameter>                      f64 0-d (i64 0/1 for a flag);
//       load_state checks that they equal this optimizer's (build it with the same options)
//   param_groups.<g>.params.<i>.step                        i64 0-d: updates applied to
//       parameter i of group g (torch keeps AdamW's as a float32 tensor; SGD has none)
//   param_groups.<g>.params.<i>.<slot>                      like the parameter, present iff step > 0:
//       SGD with momentum != 0: momentum_buffer
//       AdamW: exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad
// load_state rejects a missing, unexpected or mis-shaped entry with a lowbit::Error naming
// it, and changes nothing unless the whole state is valid.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// torch.optim.SGD's arguments. lr has no default (torch requires it).
struct SgdOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening == 0
  bool maximize = false;
};

// torch.optim.AdamW's arguments and defaults (decoupled weight decay, Loshchilov & Hutter).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;  // each in [0, 1)
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

struct SgdGroup {
  std::vector<Tensor> params;
  SgdOptions options;
};
struct AdamWGroup {
  std::vector<Tensor> params;
  AdamWOptions options;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter with a defined gradient.
  void step();
  // Zeroes every parameter's gradient in place (torch 1.13's default), or drops it
  // (set_to_none: the next step skips the parameter unless backward gives it a new one).
  void zero_grad(bool set_to_none = false);

  const std::string& name() const { return name_; }  // "SGD", "AdamW"
  int64_t num_groups() const { return static_cast<int64_t>(groups_.size()); }
  const std::vector<Tensor>& params(int64_t group) const;
  double lr(int64_t group) const;
  double initial_lr(int64_t group) const;
  void set_lr(double lr);  // every group
  void set_lr(int64_t group, double lr);
  // Updates applied so far to parameter `index` of `group` (torch's state['step'] for AdamW).
  int64_t step_count(int64_t group, int64_t index) const;

  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 protected:
  // A hyper-parameter as saved in the state: a real number, or a flag saved as i64 0/1.
  struct HyperParameter {
    std::string name;
    double value;
    bool is_flag;
  };

  // groups[g] are the parameters of group g and lrs[g] its learning rate.
  Optimizer(std::string name, std::vector<std::vector<Tensor>> groups, const std::vector<double>& lrs);

  // The state tensors each parameter of `group` carries once updated (shaped like it).
  virtual std::vector<std::string> slot_names(int64_t group) const = 0;
  virtual std::vector<HyperParameter> hyper_parameters(int64_t group) const = 0;
  // Updates `param` in place from `grad` (same shape, dtype and device, contiguous);
  // `step` counts this update (1 on the first), `slots` are zeros before the first one.
  virtual void update(int64_t group, double lr, const Tensor& param, const Tensor& grad, int64_t step,
                      std::vector<Tensor>& slots) = 0;

  void check_group(int64_t group) const;

 private:
  struct ParamState {
    int64_t step = 0;
    std::vector<Tensor> slots;  // empty until the first update
  };
  struct Group {
    std::vector<Tensor> params;
    double lr = 0, initial_lr = 0;
    std::vector<ParamState> state;  // one per parameter
  };

  std::string name_;
  std::vector<Group> groups_;
};

// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
// weight decay: torch.optim.SGD (its docstring has the algorithm, optim_step.h the
// per-element form). The momentum buffer starts as a copy of the first (decayed) gradient.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  explicit SGD(std::vector<SgdGroup> groups);
  // Group `group`'s options, lr being the current one.
  SgdOptions options(int64_t group) const;

 protected:
  std::vector<std::string> slot_names(int64_t group) const override;
  std::vector<HyperParameter> hyper_parameters(int64_t group) const override;
  void update(int64_t group, double lr, const Tensor& param, const Tensor& grad, int64_t step,
              std::vector<Tensor>& slots) override;

 private:
  std::vector<SgdOptions> options_;  // lr lives in the base (options_[g].lr is the initial one)
};

// Adam with decoupled weight decay: torch.optim.AdamW (Loshchilov & Hutter 2019, "Decoupled
// Weight Decay Regularization"; torch's docstring has the algorithm). Each parameter
// counts its own steps for the bias corrections, so a parameter skipped at some step lags.
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  explicit AdamW(std::vector<AdamWGroup> groups);
  AdamWOptions options(int64_t group) const;

 protected:
  std::vector<std::string> slot_names(int64_t group) const override;
  std::vector<HyperParameter> hyper_parameters(int64_t group) const override;
  void update(int64_t group, double lr, const Tensor& param, const Tensor& grad, int64_t step,
              std::vector<Tensor>& slots) override;

 private:
  std::vector<AdamWOptions> options_;
};

}  // namespace lowbit::nn
