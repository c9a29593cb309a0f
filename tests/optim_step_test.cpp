// optim_step kernels (tensor/kernels/optim_step.h), the per-element updates of SGD and
// AdamW: cpu == ref bit for bit on random sizes (many OpenMP blocks, every SIMD target, 1
// and 2 threads, f32 and f64), and the formulas on hand-worked values. The optimizers
// built on them, and their agreement with PyTorch, are tested in optim_test.cpp.
#include "tensor/kernels/optim_step.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_tensor;
using test::ThreadGuard;

// ---- kernels: cpu == ref ----

struct KernelCase {
  DType dtype;
  int64_t n;
  uint64_t seed;
};

// All the arrays of one update, freshly random (second moments >= 0).
struct Arrays {
  Tensor param, grad, buf, exp_avg, exp_avg_sq, max_exp_avg_sq;
};
Arrays random_arrays(const KernelCase& k) {
  Arrays a;
  a.param = random_tensor({k.n}, k.dtype, k.seed, -2, 2);
  a.grad = random_tensor({k.n}, k.dtype, k.seed + 1, -1, 1);
  a.buf = random_tensor({k.n}, k.dtype, k.seed + 2, -1, 1);
  a.exp_avg = random_tensor({k.n}, k.dtype, k.seed + 3, -0.1, 0.1);
  a.exp_avg_sq = random_tensor({k.n}, k.dtype, k.seed + 4, 0, 0.01);
  a.max_exp_avg_sq = random_tensor({k.n}, k.dtype, k.seed + 5, 0, 0.01);
  if (k.n > 3) {  // exact zeros and a -0 gradient
    a.grad.narrow(0, 0, 2).fill_(0);
    a.grad.narrow(0, 2, 1).fill_(-0.0);
  }
  return a;
}

// Every branch of sgd_element: weight decay, momentum (first and later steps),
// dampening, Nesterov, maximize.
std::vector<SgdStepParams> sgd_variants(const KernelCase& k) {
  auto make = [&](double momentum, double dampening, double wd, bool nesterov, bool maximize, bool first) {
    return SgdStepParams{k.dtype, k.n, 0.0123, momentum, dampening, wd, nesterov, maximize, first};
  };
  return {make(0, 0, 0, false, false, false),     make(0, 0, 5e-4, false, true, false),
          make(0.9, 0, 5e-4, false, false, true), make(0.9, 0.1, 5e-4, false, false, false),
          make(0.9, 0, 1e-4, true, false, true),  make(0.85, 0, 1e-4, true, true, false)};
}

std::vector<AdamWStepParams> adamw_variants(const KernelCase& k) {
  std::vector<AdamWStepParams> out;
  for (int v = 0; v < 3; ++v) {
    AdamWStepParams p;
    p.dtype = k.dtype;
    p.numel = k.n;
    p.decay = 1 - 1e-3 * 0.01;
    p.beta1 = v == 2 ? 0.8 : 0.9;
    p.beta2 = 0.999;
    p.bias_correction2_sqrt = std::sqrt(1 - std::pow(p.beta2, 3.0 + v));
    p.eps = 1e-8;
    p.neg_step_size = -(1e-3 / (1 - std::pow(p.beta1, 3.0 + v)));
    p.amsgrad = v >= 1;
    p.maximize = v == 2;
    out.push_back(p);
  }
  return out;
}

// Runs every variant through ref:: or cpu:: on copies of `in` and collects all outputs.
std::vector<Tensor> run_kernels(const KernelCase& k, const Arrays& in, bool fast) {
  std::vector<Tensor> out;
  for (const SgdStepParams& p : sgd_variants(k)) {
    const Tensor param = in.param.clone(), buf = in.buf.clone();
    void* b = p.momentum != 0 ? buf.data_ptr() : nullptr;
    (fast ? cpu::sgd_step : ref::sgd_step)(p, param.data_ptr(), in.grad.data_ptr(), b);
    out.insert(out.end(), {param, buf});
  }
  for (const AdamWStepParams& p : adamw_variants(k)) {
    const Tensor param = in.param.clone(), m = in.exp_avg.clone(), v = in.exp_avg_sq.clone();
    const Tensor vmax = in.max_exp_avg_sq.clone();
    (fast ? cpu::adamw_step : ref::adamw_step)(p, param.data_ptr(), in.grad.data_ptr(), m.data_ptr(), v.data_ptr(),
                                               p.amsgrad ? vmax.data_ptr() : nullptr);
    out.insert(out.end(), {param, m, v, vmax});
  }
  return out;
}

std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> out;
  uint64_t seed = 100;
  for (DType dtype : {DType::f32, DType::f64})
    for (int64_t n : {0, 1, 3, 8, 17, 63, 1000, 16384 + 5, 3 * 16384 + 77, 100003})
      out.push_back({dtype, n, seed += 10});
  return out;
}

void expect_cpu_matches_ref(const std::string& where) {
  for (const KernelCase& k : kernel_cases()) {
    const Arrays in = random_arrays(k);
    const std::vector<Tensor> want = run_kernels(k, in, false), got = run_kernels(k, in, true);
    for (size_t r = 0; r < want.size(); ++r)
      EXPECT_TRUE(bit_equal(want[r], got[r], str_cat(where, ": ", dtype_name(k.dtype), " n=", k.n, " output ", r)));
  }
}

TEST(OptimStepKernels, CpuMatchesReferenceOnOneAndTwoThreads) {
  for (int threads : {1, 2}) {
    ThreadGuard guard(threads);
    expect_cpu_matches_ref(str_cat(threads, " threads"));
  }
}

TEST(OptimStepKernels, CpuMatchesReferenceOnEverySimdTarget) {
  auto use_targets = [](int64_t targets) {
    hwy::SetSupportedTargetsForTest(targets);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  };
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    use_targets(target);
    expect_cpu_matches_ref(hwy::TargetName(target));
  }
  use_targets(0);
}

// The per-element formula on values worked by hand (f64, so the scalars are not rounded).
TEST(OptimStepKernels, FormulasOnHandWorkedValues) {
  SgdStepParams p;
  p.dtype = DType::f64;
  p.numel = 1;
  p.lr = 0.5;
  p.momentum = 0.5;
  p.weight_decay = 0.25;
  p.first_step = true;
  double w = 2, g = 1, buf = 99;
  ref::sgd_step(p, &w, &g, &buf);  // d_p = 1 + 0.25*2 = 1.5; buf = 1.5; w = 2 - 0.5*1.5
  EXPECT_EQ(buf, 1.5);
  EXPECT_EQ(w, 1.25);
  p.first_step = false;
  p.nesterov = true;
  ref::sgd_step(p, &w, &g, &buf);  // d_p = 1 + 0.3125 = 1.3125; buf = 0.75 + 1.3125 = 2.0625
  EXPECT_EQ(buf, 2.0625);          // d_p = 1.3125 + 0.5 * 2.0625 = 2.34375; w = 1.25 - 1.171875
  EXPECT_EQ(w, 0.078125);

  AdamWStepParams a;
  a.dtype = DType::f64;
  a.numel = 1;
  a.decay = 0.5;
  a.beta1 = 0.5;
  a.beta2 = 0.75;
  a.bias_correction2_sqrt = 0.5;
  a.eps = 0;
  a.neg_step_size = -1;
  double x = 4, d = 2, m = 0, v = 0;
  ref::adamw_step(a, &x, &d, &m, &v, nullptr);  // x = 2; m = 1; v = 0.25 * 4 = 1; denom = 1 / 0.5 = 2
  EXPECT_EQ(m, 1);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(x, 1.5);  // 2 - 1 * 1 / 2
}

}  // namespace
}  // namespace lowbit
