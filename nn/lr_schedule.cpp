// The closed forms of torch.optim.lr_scheduler (PyTorch 1.13, _get_closed_form_lr of each
// class), written with Python's operations in Python's order so that they round alike:
// `a * b / c` is (a * b) / c, and `x ** k` is the C library's pow (CPython's float_pow).
#include "nn/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "nn/optim.h"
#include "tensor/error.h"

namespace lowbit::nn {
namespace {

std::string list_str(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t k = 0; k < v.size(); ++k) out += (k ? ", " : "") + std::to_string(v[k]);
  return out + "]";
}

}  // namespace

double LrSchedule::lr(int64_t step, double base_lr) const {
  LOWBIT_CHECK(step >= 0, str(), ": step must be >= 0, got ", step);
  return fn_(step, base_lr);
}

void LrSchedule::apply(Optimizer& opt, int64_t step) const {
  for (int64_t g = 0; g < opt.num_groups(); ++g) opt.set_lr(g, lr(step, opt.initial_lr(g)));
}

LrSchedule constant() {
  return LrSchedule("constant()", [](int64_t, double base_lr) { return base_lr; });
}

LrSchedule constant_lr(double factor, int64_t total_iters) {
  LOWBIT_CHECK(factor >= 0 && factor <= 1, "constant_lr: factor must be in [0, 1], got ", factor);
  LOWBIT_CHECK(total_iters >= 0, "constant_lr: total_iters must be >= 0, got ", total_iters);
  // base_lr * (factor + (last_epoch >= total_iters) * (1 - factor))
  return LrSchedule(str_cat("constant_lr(", factor, ", ", total_iters, ")"), [=](int64_t step, double base_lr) {
    return base_lr * (factor + (step >= total_iters ? 1 - factor : 0.0));
  });
}

LrSchedule linear_lr(double start_factor, double end_factor, int64_t total_iters) {
  LOWBIT_CHECK(start_factor >= 0 && start_factor <= 1, "linear_lr: start_factor must be in [0, 1], got ", start_factor);
  LOWBIT_CHECK(end_factor >= 0 && end_factor <= 1, "linear_lr: end_factor must be in [0, 1], got ", end_factor);
  LOWBIT_CHECK(total_iters >= 1, "linear_lr: total_iters must be >= 1, got ", total_iters);
  // base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, last_epoch) / total_iters)
  return LrSchedule(
      str_cat("linear_lr(", start_factor, ", ", end_factor, ", ", total_iters, ")"), [=](int64_t step, double base_lr) {
        const double t = static_cast<double>(std::min(total_iters, step));
        return base_lr * (start_factor + (end_factor - start_factor) * t / static_cast<double>(total_iters));
      });
}

LrSchedule cosine_annealing_lr(int64_t t_max, double eta_min) {
  LOWBIT_CHECK(t_max >= 1, "cosine_annealing_lr: t_max must be >= 1, got ", t_max);
  LOWBIT_CHECK(std::isfinite(eta_min), "cosine_annealing_lr: eta_min must be finite, got ", eta_min);
  // eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * last_epoch / T_max)) / 2
  return LrSchedule(str_cat("cosine_annealing_lr(", t_max, ", ", eta_min, ")"), [=](int64_t step, double base_lr) {
    const double angle = std::numbers::pi * static_cast<double>(step) / static_cast<double>(t_max);
    return eta_min + (base_lr - eta_min) * (1 + std::cos(angle)) / 2;
  });
}

LrSchedule step_lr(int64_t step_size, double gamma) {
  LOWBIT_CHECK(step_size >= 1, "step_lr: step_size must be >= 1, got ", step_size);
  LOWBIT_CHECK(std::isfinite(gamma), "step_lr: gamma must be finite, got ", gamma);
  // base_lr * gamma ** (last_epoch // step_size)
  return LrSchedule(str_cat("step_lr(", step_size, ", ", gamma, ")"), [=](int64_t step, double base_lr) {
    return base_lr * std::pow(gamma, static_cast<double>(step / step_size));
  });
}

LrSchedule multi_step_lr(std::vector<int64_t> milestones, double gamma) {
  LOWBIT_CHECK(std::isfinite(gamma), "multi_step_lr: gamma must be finite, got ", gamma);
  std::sort(milestones.begin(), milestones.end());  // torch: sorted(Counter(milestones).elements())
  const std::string description = str_cat("multi_step_lr(", list_str(milestones), ", ", gamma, ")");
  // base_lr * gamma ** bisect_right(milestones, last_epoch)
  return LrSchedule(description, [=](int64_t step, double base_lr) {
    const auto passed = std::upper_bound(milestones.begin(), milestones.end(), step) - milestones.begin();
    return base_lr * std::pow(gamma, static_cast<double>(passed));
  });
}

LrSchedule sequential_lr(std::vector<LrSchedule> schedules, std::vector<int64_t> milestones) {
  LOWBIT_CHECK(!schedules.empty() && milestones.size() + 1 == schedules.size(),
               "sequential_lr: expected one milestone fewer than schedules, got ", schedules.size(), " schedules and ",
               milestones.size(), " milestones");
  for (size_t k = 0; k < milestones.size(); ++k)
    LOWBIT_CHECK(milestones[k] >= 1 && (k == 0 || milestones[k] > milestones[k - 1]),
                 "sequential_lr: milestones must be strictly increasing and >= 1, got ", list_str(milestones));
  std::string description = "sequential_lr([";
  for (size_t k = 0; k < schedules.size(); ++k) description += (k ? ", " : "") + schedules[k].str();
  description += "], milestones=" + list_str(milestones) + ")";
  // torch's SequentialLR.step(): idx = bisect_right(milestones, last_epoch); at a milestone
  // the next scheduler restarts with step(0) (its closed form at 0), then counts from there.
  return LrSchedule(description, [schedules = std::move(schedules), milestones = std::move(milestones)](
                                     int64_t step, double base_lr) {
    const auto idx = std::upper_bound(milestones.begin(), milestones.end(), step) - milestones.begin();
    const int64_t start = idx == 0 ? 0 : milestones[idx - 1];
    return schedules[idx].lr(step - start, base_lr);
  });
}

}  // namespace lowbit::nn
