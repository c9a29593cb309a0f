// lr_schedule: the closed forms of nn/lr_schedule.h against torch 1.13's schedulers
// (tests/golden/optim_golden.json, make_optim_golden.py: get_last_lr() after 0..30
// scheduler.step() calls from base lr 0.1), hand-worked values, composition and errors.
//
// torch computes each lr from the previous one (its "chainable form", e.g. StepLR:
// lr * gamma at every multiple of step_size; CosineAnnealingLR: a ratio of two cosines
// times lr - eta_min), so its values drift from the closed form by rounding, about an
// ulp per step. 1e-12 relative (plus 1e-18 absolute, for values that should be 0) is far
// above that drift over 30 steps and far below any difference a wrong formula makes.
#include "nn/lr_schedule.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "nn/optim.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using json = nlohmann::json;

const json& golden() {
  static const json j = test::read_golden_json("optim_golden.json");
  return j;
}

// The schedules make_optim_golden.py's make_scheduler() builds, by name.
nn::LrSchedule schedule(const std::string& name) {
  if (name == "linear") return nn::linear_lr(0.1, 1.0, 5);
  if (name == "cosine") return nn::cosine_annealing_lr(12, 0.001);
  if (name == "step") return nn::step_lr(4, 0.5);
  if (name == "multistep") return nn::multi_step_lr({3, 8, 8, 20}, 0.1);
  if (name == "constant") return nn::constant_lr(0.25, 4);
  if (name == "warmup_cosine")
    return nn::sequential_lr({nn::linear_lr(0.01, 1.0, 5), nn::cosine_annealing_lr(25, 0.0)}, {5});
  throw Error("unknown schedule " + name);
}

TEST(LrScheduleGolden, MatchesTorchWithin1e12Relative) {
  ASSERT_EQ(golden()["schedules"].size(), 6u);
  for (const json& s : golden()["schedules"]) {
    const std::string name = s["name"];
    const nn::LrSchedule sched = schedule(name);
    const double base = s["base_lr"];
    const std::vector<double> torch_lr = s["lr"];
    ASSERT_EQ(torch_lr.size(), 31u);
    double worst = 0;
    for (size_t k = 0; k < torch_lr.size(); ++k) {
      const double ours = sched.lr(static_cast<int64_t>(k), base), theirs = torch_lr[k];
      const double diff = std::fabs(ours - theirs);
      EXPECT_LE(diff, 1e-12 * std::fabs(theirs) + 1e-18)
          << sched.str() << " step " << k << ": torch " << theirs << " ours " << ours;
      if (theirs != 0) worst = std::max(worst, diff / std::fabs(theirs));
    }
    std::cout << "  " << sched.str() << ": largest relative difference from torch " << worst << "\n";
  }
}

TEST(LrSchedule, HandWorkedValues) {
  EXPECT_EQ(nn::constant().lr(1000, 0.3), 0.3);
  const auto c = nn::constant_lr(0.5, 3);
  EXPECT_EQ(c.lr(0, 0.2), 0.1);
  EXPECT_EQ(c.lr(2, 0.2), 0.1);
  EXPECT_EQ(c.lr(3, 0.2), 0.2);

  const auto warm = nn::linear_lr(0.25, 1.0, 3);  // factor 0.25, 0.5, 0.75, 1, 1, ...
  EXPECT_EQ(warm.factor(0), 0.25);
  EXPECT_EQ(warm.factor(1), 0.5);
  EXPECT_EQ(warm.factor(2), 0.75);
  EXPECT_EQ(warm.factor(3), 1.0);
  EXPECT_EQ(warm.factor(100), 1.0);
  EXPECT_EQ(nn::linear_lr(1.0, 0.5, 2).lr(1, 0.4), 0.30000000000000004);  // 0.4 * 0.75 in doubles

  const auto cosine = nn::cosine_annealing_lr(4, 0.01);
  EXPECT_EQ(cosine.lr(0, 0.11), 0.11);
  EXPECT_NEAR(cosine.lr(2, 0.11), 0.06, 1e-17);  // halfway: the mean of base and eta_min
  EXPECT_EQ(cosine.lr(4, 0.11), 0.01);           // cos(pi) = -1 exactly
  EXPECT_NEAR(cosine.lr(6, 0.11), 0.06, 1e-17);  // torch's cosine rises again past t_max
  EXPECT_EQ(cosine.lr(8, 0.11), 0.11);

  const auto decay = nn::step_lr(3, 0.5);
  EXPECT_EQ(decay.lr(2, 1.0), 1.0);
  EXPECT_EQ(decay.lr(3, 1.0), 0.5);
  EXPECT_EQ(decay.lr(9, 1.0), 0.125);

  const auto multi = nn::multi_step_lr({10, 5, 10}, 0.5);  // unsorted, 10 twice
  EXPECT_EQ(multi.lr(4, 1.0), 1.0);
  EXPECT_EQ(multi.lr(5, 1.0), 0.5);
  EXPECT_EQ(multi.lr(9, 1.0), 0.5);
  EXPECT_EQ(multi.lr(10, 1.0), 0.125);
}

TEST(LrSchedule, SequentialRestartsEachScheduleAtItsMilestone) {
  const auto seq = nn::sequential_lr({nn::linear_lr(0.5, 1.0, 2), nn::step_lr(1, 0.5), nn::constant()}, {2, 4});
  const std::vector<double> want = {0.5, 0.75, 1.0, 0.5, 1.0, 1.0};  // linear 0,1 | step 0,1 | constant
  for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(seq.factor(static_cast<int64_t>(k)), want[k]) << k;
  EXPECT_EQ(seq.str(), "sequential_lr([linear_lr(0.5, 1, 2), step_lr(1, 0.5), constant()], milestones=[2, 4])");
}

TEST(LrSchedule, ApplyScalesEachGroupsInitialLr) {
  Tensor a = ones({2}), b = ones({3});
  set_requires_grad(a);
  set_requires_grad(b);
  nn::SGD opt({{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.02}}});
  const auto sched = nn::linear_lr(0.5, 1.0, 2);
  sched.apply(opt, 0);
  EXPECT_EQ(opt.lr(0), 0.05);
  EXPECT_EQ(opt.lr(1), 0.01);
  sched.apply(opt, 7);  // resuming is calling it again at the new step
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.lr(1), 0.02);
  EXPECT_EQ(opt.initial_lr(0), 0.1);
}

TEST(LrScheduleErrors, Arguments) {
  EXPECT_LOWBIT_ERROR(nn::linear_lr(1.5), "linear_lr: start_factor must be in [0, 1], got 1.5");
  EXPECT_LOWBIT_ERROR(nn::linear_lr(0.1, -1), "linear_lr: end_factor must be in [0, 1], got -1");
  EXPECT_LOWBIT_ERROR(nn::linear_lr(0.1, 1, 0), "linear_lr: total_iters must be >= 1, got 0");
  EXPECT_LOWBIT_ERROR(nn::constant_lr(2), "constant_lr: factor must be in [0, 1], got 2");
  EXPECT_LOWBIT_ERROR(nn::cosine_annealing_lr(0), "cosine_annealing_lr: t_max must be >= 1, got 0");
  EXPECT_LOWBIT_ERROR(nn::step_lr(0), "step_lr: step_size must be >= 1, got 0");
  EXPECT_LOWBIT_ERROR(nn::sequential_lr({nn::constant()}, {3}), "expected one milestone fewer than schedules",
                      "1 schedules and 1 milestones");
  EXPECT_LOWBIT_ERROR(nn::sequential_lr({nn::constant(), nn::constant(), nn::constant()}, {5, 5}),
                      "strictly increasing", "[5, 5]");
  EXPECT_LOWBIT_ERROR(nn::step_lr(2).lr(-1, 0.1), "step_lr(2, 0.1): step must be >= 0, got -1");
}

}  // namespace
}  // namespace lowbit
