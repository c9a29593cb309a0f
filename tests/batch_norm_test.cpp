// batch_norm: training and eval forward, running-stat update, and both backward passes
// (tensor/kernels/batch_norm.h, tensor/ops_nn.h): cpu vs reference, hand-computed
// examples, finite differences, determinism, and every error message.
//
// What must agree bit for bit: eval forward and eval dx (per-element formulas evaluated
// in the same order on both paths, no sums; the eval forward in the dtype, y = x * a + b,
// and with a fused relu/relu6 the bits of relu/clamp applied to it). What may differ by rounding: the
// channel sums, which the CPU takes in another order. Bounds per channel with M values,
// u = 2^-53, eps_T = 2^-23 (f32) or 2^-52 (f64); A = sum |x|, B = sum |dy|,
// D = sum |dy (x - mean)|; every stored result gets 2 eps_T |ref| more for the final
// rounding of both paths (and 2 denorm_min):
//   mean     dm = 2 (M-1) u A / M        two orders of M-1 double additions
//   q        dq = 2 (M+3) u q + 2 M dm^2 (each path's deviations from its own mean, as
//                                         reduce_test.cpp's var bound; var = q / M)
//   invstd   di = invstd (dq / (2 M (var + eps)) + 8 u)   d(v^-1/2) = -dv/(2v) v^-1/2,
//                                         plus the rounding of add, sqrt, divide
//   y        |g| (dm invstd + |x - mean| di) + 8 u (|x - mean| invstd |g| + |b|)
//   running  momentum dm  /  momentum dq / (M-1), plus 4 u |ref|
//   dbeta    2 (M-1) u B
//   dgamma   invstd 2 (M-1) u D + 4 u |ref|
//   dx       |k| (dbeta bound + |xhat| dgamma bound) + 8 u |k| (M |dy| + |sum dy| + |xhat sum dy xhat|),
//            k = invstd g / M
// Determinism: 1 and 2 threads, and every SIMD target Highway compiled, give the same bits.
#include <hwy/targets.h>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/ops_nn.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_strided;
using test::random_tensor;
using test::ThreadGuard;

// Runs `fn` on the fast kernels (fast = true) or on the reference.
template <typename Fn>
auto run_on(bool fast, Fn&& fn) {
  ReferenceModeGuard mode(!fast);
  return fn();
}

// expected and actual agree within tol[i] (+ the final rounding of both, see the header).
::testing::AssertionResult within(const Tensor& expected, const Tensor& actual, std::vector<double> tol,
                                  const std::string& what) {
  if (expected.sizes() != actual.sizes() || expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << what << ": expected " << describe(expected) << ", got " << describe(actual);
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  const bool f32 = expected.dtype() == DType::f32;
  const double eps_t = f32 ? 0x1p-23 : 0x1p-52;
  const double tiny = f32 ? std::numeric_limits<float>::denorm_min() : std::numeric_limits<double>::denorm_min();
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    const double bound = tol[i] + 2 * eps_t * std::fabs(e[i]) + 2 * tiny;
    if (!(std::fabs(a[i] - e[i]) <= bound) && bad++ < 5)
      first << "\n  [" << i << "]: ref " << e[i] << " got " << a[i] << " (bound " << bound << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << " cpu vs ref: " << bad << " of " << e.size()
                                       << " elements differ by more than the bound" << first.str();
}

constexpr double u = 0x1p-53;

// Per-channel quantities of the bounds, computed in double from the inputs.
struct ChannelStats {
  double M = 0, A = 0, mean = 0, q = 0, var = 0, invstd = 0, dm = 0, dq = 0, di = 0;
};
std::vector<ChannelStats> channel_stats(const Tensor& x, double eps) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
  const std::vector<double> v = x.to_vector<double>();
  std::vector<ChannelStats> st(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    ChannelStats& s = st[c];
    s.M = static_cast<double>(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s.A += std::fabs(v[(n * C + c) * S + i]), s.mean += v[(n * C + c) * S + i];
    s.mean /= s.M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s.q += (v[(n * C + c) * S + i] - s.mean) * (v[(n * C + c) * S + i] - s.mean);
    s.var = s.q / s.M;
    s.invstd = 1 / std::sqrt(s.var + eps);
    s.dm = 2 * (s.M - 1) * u * s.A / s.M;
    s.dq = 2 * (s.M + 3) * u * s.q + 2 * s.M * s.dm * s.dm;
    s.di = s.invstd * (s.dq / (2 * s.M * (s.var + eps)) + 8 * u);
  }
  return st;
}

// The values of a [C] tensor, or C copies of `otherwise` when it is undefined.
std::vector<double> values_or(const Tensor& t, int64_t C, double otherwise) {
  return t.defined() ? t.to_vector<double>() : std::vector<double>(static_cast<size_t>(C), otherwise);
}

// One parity case: the input, its optional tensors as values, and the bounds' statistics.
struct Case {
  Tensor x, gamma, beta, rm0, rv0, dy;
  std::vector<double> xv, dyv, g, b, rm, rv;
  std::vector<ChannelStats> st;
  int64_t C = 0, S = 1;
  double eps = 1e-5, momentum = 0.1;
  std::string what;
  int64_t channel_of(size_t i) const { return static_cast<int64_t>(i) / S % C; }
};

Case make_case(const Tensor& x, bool affine, uint64_t seed) {
  Case k;
  const DType dt = x.dtype();
  k.x = x;
  k.C = x.size(1);
  k.S = x.numel() / std::max<int64_t>(1, x.size(0) * k.C);
  k.gamma = affine ? random_tensor({k.C}, dt, seed + 1, 0.5, 2) : Tensor();
  k.beta = affine ? random_tensor({k.C}, dt, seed + 2) : Tensor();
  k.rm0 = random_tensor({k.C}, dt, seed + 3);
  k.rv0 = random_tensor({k.C}, dt, seed + 4, 0.5, 2);
  k.dy = random_tensor(x.sizes(), dt, seed + 5);
  k.xv = x.to_vector<double>();
  k.dyv = k.dy.to_vector<double>();
  k.g = values_or(k.gamma, k.C, 1);
  k.b = values_or(k.beta, k.C, 0);
  k.rm = k.rm0.to_vector<double>();
  k.rv = k.rv0.to_vector<double>();
  k.st = channel_stats(x, k.eps);
  k.what = str_cat(describe(x), x.is_contiguous() ? "" : " (strided)", affine ? " affine" : "");
  return k;
}

// Training forward (and the running update when `track`): cpu vs ref. Returns the
// reference's output.
raw::BatchNormOutput check_train_forward(const Case& k, bool track) {
  Tensor rm[2], rv[2];
  raw::BatchNormOutput out[2];
  for (int fast = 0; fast < 2; ++fast) {
    rm[fast] = track ? k.rm0.clone() : Tensor();
    rv[fast] = track ? k.rv0.clone() : Tensor();
    out[fast] = run_on(
        fast, [&] { return raw::batch_norm_train(k.x, k.gamma, k.beta, rm[fast], rv[fast], k.momentum, k.eps); });
  }
  const std::vector<double> mean = out[0].mean.to_vector<double>();
  std::vector<double> tol_mean(k.C), tol_invstd(k.C), tol_rm(k.C), tol_rv(k.C), tol_y(k.xv.size());
  for (int64_t c = 0; c < k.C; ++c) {
    const ChannelStats& s = k.st[c];
    tol_mean[c] = s.dm;
    tol_invstd[c] = s.di;
    tol_rm[c] = k.momentum * s.dm + 4 * u * (std::fabs(k.rm[c]) + std::fabs(mean[c]));
    tol_rv[c] = k.momentum * s.dq / (s.M - 1) + 4 * u * (std::fabs(k.rv[c]) + 2 * s.var);
  }
  for (size_t i = 0; i < k.xv.size(); ++i) {
    const int64_t c = k.channel_of(i);
    const ChannelStats& s = k.st[c];
    const double g = std::fabs(k.g[c]), xmu = std::fabs(k.xv[i] - s.mean);
    tol_y[i] = g * (s.dm * s.invstd + xmu * s.di) + 8 * u * (xmu * s.invstd * g + std::fabs(k.b[c]));
  }
  EXPECT_TRUE(within(out[0].mean, out[1].mean, tol_mean, "batch_norm_train mean of " + k.what));
  EXPECT_TRUE(within(out[0].invstd, out[1].invstd, tol_invstd, "batch_norm_train invstd of " + k.what));
  EXPECT_TRUE(within(out[0].y, out[1].y, tol_y, "batch_norm_train y of " + k.what));
  if (track) {
    EXPECT_TRUE(within(rm[0], rm[1], tol_rm, "running_mean of " + k.what));
    EXPECT_TRUE(within(rv[0], rv[1], tol_rv, "running_var of " + k.what));
  }
  return out[0];
}

// dgamma and dbeta from statistics (mean, invstd) given to both paths alike: terms equal,
// only the order of the sums differs. Fills tol_dgamma, tol_dbeta.
void grad_param_bounds(const Case& k, const std::vector<double>& mean, const std::vector<double>& invstd,
                       const raw::BatchNormGrads& ref, std::vector<double>& tol_dgamma,
                       std::vector<double>& tol_dbeta) {
  std::vector<double> B(k.C, 0.0), D(k.C, 0.0);  // sum |dy|, sum |dy (x - mean)|
  for (size_t i = 0; i < k.xv.size(); ++i) {
    const int64_t c = k.channel_of(i);
    B[c] += std::fabs(k.dyv[i]);
    D[c] += std::fabs(k.dyv[i] * (k.xv[i] - mean[c]));
  }
  const std::vector<double> dgamma = ref.dgamma.to_vector<double>();
  tol_dgamma.assign(k.C, 0.0);
  tol_dbeta.assign(k.C, 0.0);
  for (int64_t c = 0; c < k.C; ++c) {
    const double M = k.st[c].M;
    tol_dbeta[c] = 2 * (M - 1) * u * B[c];
    tol_dgamma[c] = invstd[c] * 2 * (M - 1) * u * D[c] + 4 * u * std::fabs(dgamma[c]);
  }
}

// Training backward from the reference's saved statistics, then eval forward/backward.
void check_backward_and_eval(const Case& k, const raw::BatchNormOutput& saved) {
  auto bwd = [&] { return raw::batch_norm_backward(k.dy, k.x, k.gamma, saved.mean, saved.invstd); };
  const raw::BatchNormGrads ref = run_on(false, bwd), cpu = run_on(true, bwd);
  const std::vector<double> mean = saved.mean.to_vector<double>(), invstd = saved.invstd.to_vector<double>();
  std::vector<double> tol_dgamma, tol_dbeta, tol_dx(k.xv.size());
  grad_param_bounds(k, mean, invstd, ref, tol_dgamma, tol_dbeta);
  const std::vector<double> dgamma = ref.dgamma.to_vector<double>(), dbeta = ref.dbeta.to_vector<double>();
  for (size_t i = 0; i < k.xv.size(); ++i) {
    const int64_t c = k.channel_of(i);
    const double M = k.st[c].M, scale = std::fabs(invstd[c] * k.g[c] / M);
    const double xhat = std::fabs((k.xv[i] - mean[c]) * invstd[c]);
    tol_dx[i] = scale * (tol_dbeta[c] + xhat * tol_dgamma[c]) +
                8 * u * scale * (M * std::fabs(k.dyv[i]) + std::fabs(dbeta[c]) + xhat * std::fabs(dgamma[c]));
  }
  EXPECT_TRUE(within(ref.dx, cpu.dx, tol_dx, "batch_norm_backward dx of " + k.what));
  EXPECT_TRUE(within(ref.dgamma, cpu.dgamma, tol_dgamma, "batch_norm_backward dgamma of " + k.what));
  EXPECT_TRUE(within(ref.dbeta, cpu.dbeta, tol_dbeta, "batch_norm_backward dbeta of " + k.what));

  // Eval: y and dx are per-element formulas in the same order: bit for bit.
  auto eval = [&] { return raw::batch_norm_eval(k.x, k.gamma, k.beta, k.rm0, k.rv0, k.eps); };
  EXPECT_TRUE(bit_equal(run_on(false, eval), run_on(true, eval), "batch_norm_eval y of " + k.what));
  auto eval_bwd = [&] { return raw::batch_norm_eval_backward(k.dy, k.x, k.gamma, k.rm0, k.rv0, k.eps); };
  const raw::BatchNormGrads e_ref = run_on(false, eval_bwd), e_cpu = run_on(true, eval_bwd);
  EXPECT_TRUE(bit_equal(e_ref.dx, e_cpu.dx, "batch_norm_eval_backward dx of " + k.what));
  std::vector<double> run_invstd(k.C);
  for (int64_t c = 0; c < k.C; ++c) run_invstd[c] = 1 / std::sqrt(k.rv[c] + k.eps);
  grad_param_bounds(k, k.rm, run_invstd, e_ref, tol_dgamma, tol_dbeta);
  EXPECT_TRUE(within(e_ref.dgamma, e_cpu.dgamma, tol_dgamma, "batch_norm_eval_backward dgamma of " + k.what));
  EXPECT_TRUE(within(e_ref.dbeta, e_cpu.dbeta, tol_dbeta, "batch_norm_eval_backward dbeta of " + k.what));
}

TEST(BatchNormParity, RandomShapesBothDtypes) {
  // Odd planes around the 16-element partial-sum blocks, 2-D [N, C] and 5-D inputs, one
  // value per plane, a plane of 1 per channel with N = 2, and sizes that run parallel.
  const std::vector<Shape> shapes = {{2, 3, 5, 7},    {4, 16, 9, 9}, {1, 5, 3, 3},  {8, 4},     {3, 2, 1, 1},
                                     {2, 3, 4, 5, 2}, {2, 3, 4, 4},  {3, 2, 17, 1}, {2, 1, 33}, {16, 8, 17, 13}};
  uint64_t seed = 1;
  for (const Shape& shape : shapes) {
    for (DType dt : {DType::f32, DType::f64}) {
      for (int variant = 0; variant < 3; ++variant) {
        // Variant 2: a mean far from zero relative to the spread (cancellation in x - mean).
        const bool strided = variant == 1;
        const double lo = variant == 2 ? 100 : -2, hi = variant == 2 ? 101 : 3;
        const Tensor x = strided ? random_strided(shape, dt, seed, lo, hi) : random_tensor(shape, dt, seed, lo, hi);
        const Case k = make_case(x, /*affine=*/variant != 1, seed * 10);
        check_backward_and_eval(k, check_train_forward(k, /*track=*/variant != 2));
        ++seed;
        if (::testing::Test::HasFailure()) return;  // one broken case is enough to read
      }
    }
  }
}

// ---- hand-computed examples (both paths) ----

TEST(BatchNormExamples, TwoValuesKnownMeanVarAndRunningUpdate) {
  // One channel holding {1, 3}: mean 2, biased var 1, unbiased var 2.
  for (bool fast : {false, true}) {
    const Tensor x = from_vector<double>({1, 3}, {2, 1, 1, 1});
    Tensor rm = from_vector<double>({0}), rv = from_vector<double>({1});
    const auto out = run_on(fast, [&] {
      return raw::batch_norm_train(x, from_vector<double>({2}), from_vector<double>({0.5}), rm, rv, 0.1, 0.0);
    });
    EXPECT_EQ(out.mean.item(), 2.0);
    EXPECT_EQ(out.invstd.item(), 1.0);                                       // 1 / sqrt(1 + 0)
    EXPECT_EQ(out.y.to_vector<double>(), (std::vector<double>{-1.5, 2.5}));  // 2 * (-1, 1) + 0.5
    // running = 0.9 * running + 0.1 * statistic, with the unbiased variance 2.
    EXPECT_DOUBLE_EQ(rm.item(), 0.2);
    EXPECT_DOUBLE_EQ(rv.item(), 1.1);
    // With eps = 1e-5 the variance is padded: invstd = 1 / sqrt(1.00001); f32 rounds once.
    const Tensor x32 = from_vector<float>({1, 3}, {2, 1});
    const auto o32 = run_on(fast, [&] { return raw::batch_norm_train(x32, Tensor(), Tensor(), Tensor(), Tensor()); });
    EXPECT_EQ(o32.invstd.to_vector<float>()[0], static_cast<float>(1 / std::sqrt(1.00001)));
    EXPECT_EQ(o32.y.to_vector<float>()[1], static_cast<float>(1 / std::sqrt(1.00001)));
  }
}

TEST(BatchNormExamples, BackwardThreeValues) {
  // x = {0, 1, 2}: mean 1, var 2/3, eps 0, invstd = sqrt(1.5), xhat = (-1, 0, 1) sqrt(1.5).
  // dy = (1, 0, 0), gamma 1: dbeta = 1, dgamma = -sqrt(1.5),
  // dx = invstd/3 (3 dy - 1 - xhat dgamma) = invstd/3 (0.5, -1, 0.5).
  const Tensor x = from_vector<double>({0, 1, 2}, {3, 1});
  const Tensor dy = from_vector<double>({1, 0, 0}, {3, 1});
  for (bool fast : {false, true}) {
    const auto out =
        run_on(fast, [&] { return raw::batch_norm_train(x, Tensor(), Tensor(), Tensor(), Tensor(), 0.1, 0); });
    const auto g = run_on(fast, [&] { return raw::batch_norm_backward(dy, x, Tensor(), out.mean, out.invstd); });
    const double is = std::sqrt(1.5);
    EXPECT_NEAR(out.invstd.item(), is, 1e-15);
    EXPECT_NEAR(g.dbeta.item(), 1, 1e-15);
    EXPECT_NEAR(g.dgamma.item(), -is, 1e-15);
    const std::vector<double> dx = g.dx.to_vector<double>();
    EXPECT_NEAR(dx[0], is / 6, 1e-15);
    EXPECT_NEAR(dx[1], -is / 3, 1e-15);
    EXPECT_NEAR(dx[2], is / 6, 1e-15);
  }
}

// The eval forward against the training formula evaluated in double in the test: they
// differ by the roundings of a, b, x * a and the sum, |err| <= 4 eps_T (|x a| + |b|).
TEST(BatchNormEval, AffineFormMatchesTheNormalisationFormula) {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = random_tensor({3, 5, 7, 9}, dt, 110), g = random_tensor({5}, dt, 111);
    const Tensor b = random_tensor({5}, dt, 112), rm = random_tensor({5}, dt, 113);
    const Tensor rv = random_tensor({5}, dt, 114, 0.1, 3);
    for (bool fast : {false, true}) {
      const std::vector<double> y = run_on(fast, [&] { return raw::batch_norm_eval(x, g, b, rm, rv, 1e-3); })
                                        .to_vector<double>();
      const std::vector<double> xs = x.to_vector<double>(), gs = g.to_vector<double>(), bs = b.to_vector<double>();
      const std::vector<double> ms = rm.to_vector<double>(), vs = rv.to_vector<double>();
      const double eps_t = dt == DType::f32 ? 0x1p-23 : 0x1p-52;
      for (size_t i = 0; i < xs.size(); ++i) {
        const size_t c = i / 63 % 5;
        const double invstd = 1 / std::sqrt(vs[c] + 1e-3), a = gs[c] * invstd, shift = bs[c] - ms[c] * a;
        const double expected = (xs[i] - ms[c]) * invstd * gs[c] + bs[c];
        ASSERT_NEAR(y[i], expected, 4 * eps_t * (std::fabs(xs[i] * a) + std::fabs(shift)) + 1e-300)
            << "element " << i << (fast ? " cpu " : " ref ") << dtype_name(dt);
      }
    }
  }
}

// A fused relu / relu6 gives exactly relu(y) / clamp(y, 0, 6) of the unfused y, on both
// paths, including NaN inputs and results of -0 (relu makes them +0, clamp keeps -0).
TEST(BatchNormEval, FusedActivationEqualsTheActivationOp) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = random_tensor({2, 3, 5, 37}, dt, 120, -16, 16);  // y crosses 0 and 6
    // Channel 1 has a = 1, b = -0: x = +0 gives 0 + -0 = +0, but x = -0 gives -0 * 1 + -0 = -0.
    const Tensor g = from_vector<double>({1.0, 1.0, -2.0}, {3}).to(dt);
    const Tensor b = from_vector<double>({0.5, -0.0, 3.0}, {3}).to(dt);
    const Tensor rm = zeros({3}, dt), rv = full({3}, 1.0, dt);
    std::vector<double> xv = x.to_vector<double>();
    xv[5] = std::nan("");
    xv[185 + 3] = -0.0;  // channel 1
    xv[185 + 4] = 0.0;
    x = from_vector<double>(xv, x.sizes()).to(dt);
    for (bool fast : {false, true}) {
      const Tensor y = run_on(fast, [&] { return raw::batch_norm_eval(x, g, b, rm, rv, 0.0 + 1e-300); });
      const Tensor relu = run_on(fast, [&] {
        return raw::batch_norm_eval(x, g, b, rm, rv, 0.0 + 1e-300, BatchNormAct::relu);
      });
      const Tensor relu6 = run_on(fast, [&] {
        return raw::batch_norm_eval(x, g, b, rm, rv, 0.0 + 1e-300, BatchNormAct::relu6);
      });
      EXPECT_TRUE(bit_equal(raw::relu(y), relu, "fused relu"));
      EXPECT_TRUE(bit_equal(raw::clamp(y, 0, 6), relu6, "fused relu6"));
      EXPECT_TRUE(std::signbit(y.to_vector<double>()[185 + 3])) << "-0 * 1 + -0 is -0";
      EXPECT_FALSE(std::signbit(relu.to_vector<double>()[185 + 3]));
      EXPECT_TRUE(std::signbit(relu6.to_vector<double>()[185 + 3]));
      EXPECT_TRUE(std::isnan(relu.to_vector<double>()[5]) && std::isnan(relu6.to_vector<double>()[5]));
    }
  }
}

TEST(BatchNormExamples, EvalUsesRunningStatistics) {
  // running mean 1, var 3, eps 1: invstd 0.5; x = 5 -> xhat 2 -> y = 2 gamma + beta = 7.
  for (bool fast : {false, true}) {
    const Tensor x = full({1, 1, 1, 1}, 5.0);
    const Tensor rm = full({1}, 1.0), rv = full({1}, 3.0), g = full({1}, 3.0), b = full({1}, 1.0);
    EXPECT_EQ(run_on(fast, [&] { return raw::batch_norm_eval(x, g, b, rm, rv, 1.0); }).item(), 7.0);
    const auto grads = run_on(fast, [&] {
      return raw::batch_norm_eval_backward(full({1, 1, 1, 1}, 2.0), x, g, rm, rv, 1.0);
    });
    EXPECT_EQ(grads.dx.item(), 3.0);      // dy gamma invstd = 2 * 3 * 0.5
    EXPECT_EQ(grads.dgamma.item(), 4.0);  // dy xhat
    EXPECT_EQ(grads.dbeta.item(), 2.0);
  }
}

TEST(BatchNormExamples, NonContiguousRunningStatsAreUpdated) {
  const Tensor x = from_vector<float>({1, 3, 5, 9}, {2, 2});  // channel 0: {1, 5}, channel 1: {3, 9}
  Tensor buf = zeros({4});
  Tensor rm = buf.slice(0, 0, 4, 2), rv = ones({2});  // rm: every other element of buf
  const uint64_t v0 = rm.storage()->version();
  raw::batch_norm_train(x, Tensor(), Tensor(), rm, rv, 0.5);
  EXPECT_EQ(buf.to_vector<float>(), (std::vector<float>{1.5, 0, 3, 0}));  // 0.5 * (3, 6)
  EXPECT_EQ(rv.to_vector<float>(), (std::vector<float>{0.5f + 0.5f * 8, 0.5f + 0.5f * 18}));
  EXPECT_GT(rm.storage()->version(), v0);
}

// ---- finite differences (f64): the backward formulas are the derivatives ----

TEST(BatchNormBackward, MatchesFiniteDifferences) {
  const Tensor x = random_tensor({3, 2, 2, 2}, DType::f64, 11);
  const Tensor gamma = random_tensor({2}, DType::f64, 12, 0.5, 2), beta = random_tensor({2}, DType::f64, 13);
  const Tensor rm = random_tensor({2}, DType::f64, 14), rv = random_tensor({2}, DType::f64, 15, 0.5, 2);
  const Tensor w = random_tensor(x.sizes(), DType::f64, 16);  // L = sum w * y, so dy = w
  for (bool training : {true, false}) {
    auto loss = [&](const Tensor& xx, const Tensor& gg, const Tensor& bb) {
      const Tensor y =
          training ? raw::batch_norm_train(xx, gg, bb, Tensor(), Tensor()).y : raw::batch_norm_eval(xx, gg, bb, rm, rv);
      return raw::sum(raw::mul(y, w)).item();
    };
    raw::BatchNormGrads grads;
    if (training) {
      const auto out = raw::batch_norm_train(x, gamma, beta, Tensor(), Tensor());
      grads = raw::batch_norm_backward(w, x, gamma, out.mean, out.invstd);
    } else {
      grads = raw::batch_norm_eval_backward(w, x, gamma, rm, rv);
    }
    // Central differences on every element of x, gamma and beta.
    const double h = 1e-6;
    auto numeric = [&](int which, int64_t i) {
      Tensor t[3] = {x.clone(), gamma.clone(), beta.clone()};
      std::vector<double> v = t[which].to_vector<double>();
      v[i] += h;
      t[which] = from_vector(v, t[which].sizes());
      const double up = loss(t[0], t[1], t[2]);
      v[i] -= 2 * h;
      t[which] = from_vector(v, t[which].sizes());
      return (up - loss(t[0], t[1], t[2])) / (2 * h);
    };
    const Tensor analytic[3] = {grads.dx, grads.dgamma, grads.dbeta};
    const char* names[3] = {"dx", "dgamma", "dbeta"};
    for (int which = 0; which < 3; ++which) {
      const std::vector<double> a = analytic[which].to_vector<double>();
      for (int64_t i = 0; i < static_cast<int64_t>(a.size()); ++i)
        EXPECT_NEAR(a[i], numeric(which, i), 1e-6) << names[which] << "[" << i << "], training " << training;
    }
  }
}

// ---- determinism ----

TEST(BatchNormDeterminism, SameBitsOnThreadCountsAndSimdTargets) {
  const Tensor x = random_tensor({8, 16, 17, 17}, DType::f32, 21);  // parallel: > 32768 values
  const Tensor dy = random_tensor(x.sizes(), DType::f32, 22);
  const Tensor g = random_tensor({16}, DType::f32, 23), b = random_tensor({16}, DType::f32, 24);
  const Tensor x64 = random_tensor({4, 8, 9, 31}, DType::f64, 25);
  auto all = [&] {
    Tensor rm = zeros({16}), rv = ones({16});
    const auto out = raw::batch_norm_train(x, g, b, rm, rv);
    const auto grads = raw::batch_norm_backward(dy, x, g, out.mean, out.invstd);
    const auto out64 = raw::batch_norm_train(x64, Tensor(), Tensor(), Tensor(), Tensor());
    return std::vector<Tensor>{out.y,    out.mean,     out.invstd,  rm,      rv,
                               grads.dx, grads.dgamma, grads.dbeta, out64.y, out64.invstd};
  };
  std::vector<Tensor> one, two;
  {
    ThreadGuard guard(1);
    one = run_on(true, all);
  }
  {
    ThreadGuard guard(2);
    two = run_on(true, all);
  }
  for (size_t k = 0; k < one.size(); ++k)
    EXPECT_TRUE(bit_equal(one[k], two[k], str_cat("result ", k, ": 1 vs 2 threads")));
  // The 16-partial blocking makes the bits independent of the SIMD target too.
  auto use_targets = [](int64_t targets) {
    hwy::SetSupportedTargetsForTest(targets);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  };
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    use_targets(target);
    const std::vector<Tensor> got = run_on(true, all);
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_TRUE(bit_equal(one[k], got[k], str_cat("result ", k, " on ", hwy::TargetName(target))));
  }
  use_targets(0);
}

// ---- errors ----

TEST(BatchNormErrors, MessagesNameTheOpAndTheTensors) {
  const Tensor x = zeros({2, 4, 3, 3});
  const Tensor c4 = zeros({4}), c3 = zeros({3});
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(zeros({5}), Tensor(), Tensor(), Tensor(), Tensor()), "batch_norm_train",
                      "at least 2 dims [N, C, ...]", "[5] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_eval(zeros({5}), Tensor(), Tensor(), c4, c4), "batch_norm_eval",
                      "at least 2 dims");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(zeros({2, 4}, DType::i64), Tensor(), Tensor(), Tensor(), Tensor()),
                      "batch_norm_train", "f32 or f64", "[2,4] i64 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(zeros({1, 4, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor()),
                      "batch_norm_train", "expected more than 1 value per channel when training", "[1,4,1,1] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(zeros({1, 4}), Tensor(), Tensor(), Tensor(), Tensor()),
                      "more than 1 value per channel");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(x, c3, Tensor(), Tensor(), Tensor()), "batch_norm_train",
                      "gamma [3] f32 cpu should be [4]", "[2,4,3,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(x, Tensor(), zeros({4, 1}), Tensor(), Tensor()), "batch_norm_train",
                      "beta [4,1] f32 cpu should be [4]");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(x, Tensor(), Tensor(), c3, c4), "batch_norm_train", "running_mean [3]");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_eval(x, Tensor(), Tensor(), c4, c3), "batch_norm_eval", "running_var [3]");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(x, zeros({4}, DType::f64), Tensor(), Tensor(), Tensor()),
                      "batch_norm_train", "gamma is f64 but the input is f32", "[4] f64 cpu", "[2,4,3,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_eval(x, Tensor(), Tensor(), c4, zeros({4}, DType::f64)), "batch_norm_eval",
                      "running_var is f64 but the input is f32");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_train(x, Tensor(), Tensor(), c4, Tensor()), "batch_norm_train",
                      "running_mean and running_var must be given together");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_eval(x, Tensor(), Tensor(), c4, Tensor()), "batch_norm_eval",
                      "running_var is undefined", "[2,4,3,3] f32 cpu");
  // Backward.
  EXPECT_LOWBIT_ERROR(raw::batch_norm_backward(zeros({2, 4, 3, 2}), x, Tensor(), c4, c4), "batch_norm_backward",
                      "grad_out [2,4,3,2] f32 cpu does not match the input [2,4,3,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_backward(zeros({2, 4, 3, 3}, DType::f64), x, Tensor(), c4, c4),
                      "batch_norm_backward", "dtype mismatch");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_backward(x, x, Tensor(), c4, Tensor()), "batch_norm_backward",
                      "save_invstd is undefined");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_backward(x, x, c3, c4, c4), "batch_norm_backward", "gamma [3] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::batch_norm_eval_backward(x, x, Tensor(), c4, c3), "batch_norm_eval_backward",
                      "running_var [3] f32 cpu should be [4]");
}

}  // namespace
}  // namespace lowbit
