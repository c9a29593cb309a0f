// Grad mode: whether differentiable ops record graph nodes (on by default).
//
// Per thread. NoGradGuard turns recording off for a scope (evaluation, optimizer steps,
// the engine itself while it runs backward) and restores the previous mode on exit.
#pragma once

namespace lowbit {

struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace lowbit
