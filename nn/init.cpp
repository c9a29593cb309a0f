#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace lowbit::nn {

namespace {

int64_t receptive_field(const Tensor& w) {
  int64_t r = 1;
  for (int64_t d = 2; d < w.dim(); ++d) r *= w.size(d);
  return r;
}

void check_fans(const char* op, const Tensor& w) {
  LOWBIT_CHECK(w.defined() && w.dim() >= 2, op, ": fan in/out needs a tensor with at least 2 dims, got ",
               w.defined() ? shape_str(w.sizes()) : "undefined");
}

double kaiming_std(const char* op, const Tensor& w, FanMode mode, double negative_slope) {
  const int64_t fan = mode == FanMode::fan_in ? fan_in(w) : fan_out(w);
  LOWBIT_CHECK(fan > 0, op, ": fan is 0 for weight ", shape_str(w.sizes()));
  const double gain = std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
  return gain / std::sqrt(static_cast<double>(fan));
}

// t's values replaced by `values` (same shape), outside every graph.
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
  t.bump_version();
}

}  // namespace

int64_t fan_in(const Tensor& weight) {
  check_fans("fan_in", weight);
  return weight.size(1) * receptive_field(weight);
}

int64_t fan_out(const Tensor& weight) {
  check_fans("fan_out", weight);
  return weight.size(0) * receptive_field(weight);
}

void kaiming_normal_(Tensor& weight, FanMode mode, double negative_slope, Generator* gen) {
  normal_(weight, 0.0, kaiming_std("kaiming_normal_", weight, mode, negative_slope), gen);
}

void kaiming_uniform_(Tensor& weight, FanMode mode, double negative_slope, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std("kaiming_uniform_", weight, mode, negative_slope);
  uniform_(weight, -bound, bound, gen);
}

void uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  assign(t, uniform(t.sizes(), lo, hi, t.dtype(), t.device(), gen));
}

void normal_(Tensor& t, double mean, double std, Generator* gen) {
  assign(t, normal(t.sizes(), mean, std, t.dtype(), t.device(), gen));
}

void zeros_(Tensor& t) {
  NoGradGuard no_grad;
  t.fill_(0);
  t.bump_version();
}

void ones_(Tensor& t) {
  NoGradGuard no_grad;
  t.fill_(1);
  t.bump_version();
}

}  // namespace lowbit::nn
