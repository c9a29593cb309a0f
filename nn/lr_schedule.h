// Learning-rate schedules as pure functions of the step index: lr(step, base_lr).
//
// Each schedule is the closed form of a torch.optim.lr_scheduler class (its
// _get_closed_form_lr, with the same operations in the same order), so it needs no state:
// resuming at step k is calling lr(k, ...) again. They compose: sequential_lr runs one
// schedule after another, as torch's SequentialLR does.
//
//   auto sched = nn::sequential_lr({nn::linear_lr(0.01, 1.0, 5), nn::cosine_annealing_lr(95)}, {5});
//   for (int64_t epoch = 0; epoch < 100; ++epoch) {
//     sched.apply(opt, epoch);          // every group: lr = sched.lr(epoch, initial_lr(group))
//     train_one_epoch(opt);
//   }
//
// Steps and torch's scheduler.step() calls: lr(k, base) is the learning rate torch's
// scheduler gives after k calls of scheduler.step() (its last_epoch == k; k = 0 right after
// construction). torch's loop "for e: train(); scheduler.step()" trains epoch e with
// lr(e, base). Whether a step is an epoch or an iteration is the caller's choice, exactly
// as it is in torch: call apply(opt, epoch) once per epoch for a per-epoch schedule, or
// apply(opt, iteration) before every optimizer step for a per-iteration one (then T_max,
// total_iters, step_size and milestones count iterations).
//
// Against torch's chainable form (what scheduler.step() computes: the previous lr times a
// ratio, e.g. StepLR's lr * gamma, CosineAnnealingLR's ratio of two cosines) the closed
// forms differ by rounding only, as the recursion picks up about an ulp per step; over
// 30 steps of each schedule tests/lr_schedule_test.cpp measures at most 3.4e-16
// relative (it allows 1e-12). These doubles then become float32 in the kernels, where
// such differences almost never show: the golden SGD / AdamW cases driven by torch's
// scheduler give the same bits with ours.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::nn {

class Optimizer;

class LrSchedule {
 public:
  using Fn = std::function<double(int64_t step, double base_lr)>;
  LrSchedule(std::string description, Fn fn) : description_(std::move(description)), fn_(std::move(fn)) {}

  // The learning rate at `step` (>= 0) for a group whose initial lr is base_lr.
  double lr(int64_t step, double base_lr) const;
  // The multiplier on base_lr (exact for every schedule but cosine_annealing_lr with eta_min != 0).
  double factor(int64_t step) const { return lr(step, 1.0); }
  // Sets every group's lr to lr(step, opt.initial_lr(group)).
  void apply(Optimizer& opt, int64_t step) const;
  // "sequential_lr([linear_lr(0.01, 1, 5), cosine_annealing_lr(95, 0)], milestones=[5])"
  const std::string& str() const { return description_; }

 private:
  std::string description_;
  Fn fn_;
};

// base_lr at every step (no schedule).
LrSchedule constant();
// torch ConstantLR: base_lr * factor for step < total_iters, then base_lr. factor in [0, 1].
LrSchedule constant_lr(double factor = 1.0 / 3, int64_t total_iters = 5);
// torch LinearLR (linear warm-up): the factor goes from start_factor at step 0 to
// end_factor at step total_iters, linearly, then stays. Factors in [0, 1], total_iters >= 1.
LrSchedule linear_lr(double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
// torch CosineAnnealingLR: eta_min + (base_lr - eta_min) * (1 + cos(pi * step / t_max)) / 2.
// Like torch's, it does not stop at t_max: past it the cosine rises again (period 2 t_max).
LrSchedule cosine_annealing_lr(int64_t t_max, double eta_min = 0);
// torch StepLR: base_lr * gamma^(step / step_size) (integer division).
LrSchedule step_lr(int64_t step_size, double gamma = 0.1);
// torch MultiStepLR: base_lr * gamma^(number of milestones <= step); a milestone listed
// twice counts twice, order does not matter.
LrSchedule multi_step_lr(std::vector<int64_t> milestones, double gamma = 0.1);
// torch SequentialLR: schedules[j] runs from milestones[j-1] (0 for j = 0), restarted
// at its own step 0 there: lr(step) = schedules[j].lr(step - milestones[j-1], base_lr).
// milestones are strictly increasing and >= 1, one fewer than the schedules.
LrSchedule sequential_lr(std::vector<LrSchedule> schedules, std::vector<int64_t> milestones);

}  // namespace lowbit::nn
