// The quantizer algorithms of QUANT_NUMERICS §5 other than LSQ (tests/quantizer_test.cpp):
// Fixed (§5.1), LSQ+ (§5.3), PACT (§5.4), DoReFa (§5.5), DSQ (§5.6) and the kurtosis
// regulariser, each against the paper's formula evaluated here element by element (never
// through the library's code path), forward and gradients, plus their module behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "autograd/autograd.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "quant/kurtosis.h"
#include "quant/quantizer_dorefa.h"
#include "quant/quantizer_dsq.h"
#include "quant/quantizer_fixed.h"
#include "quant/quantizer_lsq_plus.h"
#include "quant/quantizer_pact.h"
#include "quant/state.h"
#include "tensor/ops.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using quant::QuantizerConfig;
using quant::QuantState;
using test::random_tensor;

QuantizerConfig config(int bits, quant::IntKind kind = quant::IntKind::signed_full,
                       quant::QScheme scheme = quant::QScheme::symmetric) {
  QuantizerConfig c;
  c.bits = bits;
  c.kind = kind;
  c.scheme = scheme;
  return c;
}

// y = f(x), then the gradient of sum(y * dy) with respect to x (and `extra`, if defined).
struct Grads2 {
  std::vector<double> y, dx, dextra;
};
template <typename F>
Grads2 run(const Tensor& x0, const Tensor& dy, F&& f, Tensor extra = Tensor()) {
  Tensor x = x0.contiguous();
  set_requires_grad(x);
  const Tensor y = f(x);
  backward(sum(mul(y, dy)));
  Grads2 r{y.to_vector<double>(), grad(x).to_vector<double>(), {}};
  if (extra.defined()) r.dextra = grad(extra).to_vector<double>();
  return r;
}

// ---- PACT (§5.4) ----

void check_pact(bool is_signed) {
  const double alpha = 2.0;
  Tensor a = full({}, alpha, DType::f64);
  set_requires_grad(a);
  std::vector<double> xv = random_tensor({200}, DType::f64, 10, -4, 4).to_vector<double>();
  xv[0] = alpha;  // exactly at the clip level: clipped (dalpha counts it, dx does not)
  xv[1] = 0.0;
  xv[2] = -alpha;
  const Tensor x = from_vector<double>(xv);
  const Tensor dy = random_tensor({200}, DType::f64, 11);
  const quant::QRange range = is_signed ? quant::QRange{-128, 127} : quant::QRange{0, 15};
  const Grads2 r = run(x, dy, [&](const Tensor& t) { return quant::pact(t, a, range); }, a);
  const float s = is_signed ? static_cast<float>(alpha) / 127.5f : static_cast<float>(alpha) / 15.0f;
  const std::vector<double> dys = dy.to_vector<double>();
  double dalpha = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double lo = is_signed ? -alpha : 0.0;
    const double c = std::min(alpha, std::max(lo, xv[i]));
    const double code = std::min<double>(range.qmax, std::max<double>(range.qmin, std::nearbyint(c * (1.0f / s))));
    ASSERT_EQ(r.y[i], code * static_cast<double>(s)) << i;
    const bool passes = (is_signed ? xv[i] > -alpha : xv[i] >= 0) && xv[i] < alpha;
    ASSERT_EQ(r.dx[i], passes ? dys[i] : 0.0) << i;
    if (xv[i] >= alpha) dalpha += dys[i];
    if (is_signed && xv[i] <= -alpha) dalpha -= dys[i];
  }
  EXPECT_NEAR(r.dextra[0], dalpha, 1e-12);
  EXPECT_EQ(r.dx[0], 0.0);
  EXPECT_EQ(r.dx[1], is_signed ? dys[1] : dys[1]);  // 0 passes in both
}

TEST(Pact, UnsignedClipToAlpha) { check_pact(false); }
TEST(Pact, SignedClipToPlusMinusAlpha) { check_pact(true); }

TEST(Pact, QuantizerParameterAndClipFraction) {
  quant::PactQuantizer q(config(4, quant::IntKind::unsigned_full));
  EXPECT_EQ(q.alpha.item(), 6.0);
  ASSERT_EQ(q.parameters().size(), 1u);
  EXPECT_EQ(q.named_parameters()[0].first, "alpha");
  EXPECT_FLOAT_EQ(q.qparams().scale[0], 6.0f / 15);
  q.set_state(QuantState::qat);
  q.set_collect_stats(true);
  const Tensor x = from_vector<float>({-1, 0, 1, 5, 6, 7, 8, 2});
  q(x);
  EXPECT_DOUBLE_EQ(q.stats().clip_fraction, 4.0 / 8);  // -1, 6, 7, 8
  EXPECT_LOWBIT_ERROR(quant::PactQuantizer(config(4, quant::IntKind::unsigned_full), {.init_alpha = 0}),
                      "init_alpha");
  EXPECT_LOWBIT_ERROR(quant::pact(x, full({}, -1.0), {0, 15}), "pact", "alpha must be positive");
}

// Learnable quantizer parameters are ordinary parameters: alpha in its own optimizer
// group gets its own weight decay (PACT's L2 on alpha), and a checkpoint written through
// safetensors restores alpha and the state.
TEST(Pact, AlphaHasItsOwnWeightDecayAndIsCheckpointed) {
  quant::PactQuantizer q(config(4, quant::IntKind::unsigned_full));
  nn::SGD opt({nn::SgdGroup{{q.alpha}, nn::SgdOptions{.lr = 0.1, .weight_decay = 0.01}}});
  q.set_state(QuantState::qat);
  backward(sum(q(from_vector<float>({1.0f, 2.0f}))));  // nothing clipped: dalpha = 0
  opt.step();
  EXPECT_FLOAT_EQ(static_cast<float>(q.alpha.item()), 6.0f - 0.1f * 0.01f * 6.0f);
  const std::string bytes = nn::safetensors_bytes(q.state_dict());
  quant::PactQuantizer restored(config(4, quant::IntKind::unsigned_full));
  restored.load_state_dict(nn::parse_safetensors(bytes, "memory"));
  EXPECT_EQ(restored.alpha.item(), q.alpha.item());
  EXPECT_EQ(restored.state(), QuantState::qat);
}

// ---- DoReFa (§5.5) ----

TEST(Dorefa, WeightsPaperFormulaAndGradient) {
  const int bits = 3;
  const double levels = 7;
  const Tensor w = random_tensor({5, 9}, DType::f64, 12, -1.5, 1.5);
  const Tensor dy = random_tensor({5, 9}, DType::f64, 13);
  const Grads2 r = run(w, dy, [&](const Tensor& t) { return quant::dorefa_weight(t, bits); });
  const std::vector<double> wv = w.to_vector<double>(), dys = dy.to_vector<double>();
  double m = 0;
  size_t arg = 0;
  for (size_t i = 0; i < wv.size(); ++i)
    if (std::fabs(std::tanh(wv[i])) > m) m = std::fabs(std::tanh(wv[i])), arg = i;
  for (size_t i = 0; i < wv.size(); ++i) {
    const double unit = std::tanh(wv[i]) / (2 * m) + 0.5;
    ASSERT_NEAR(r.y[i], 2 * std::nearbyint(levels * unit) / levels - 1, 1e-15) << i;
    // Straight through the rounding: d/dw_i of 2 unit - 1 = tanh(w_i) / m, m constant for
    // every element but the one attaining the max.
    if (i != arg) {
      ASSERT_NEAR(r.dx[i], dys[i] * (1 - std::tanh(wv[i]) * std::tanh(wv[i])) / m, 1e-14) << i;
    }
  }
  // The output is on the 2^b-level grid of [-1, 1].
  for (double v : r.y) EXPECT_NEAR(std::fmod((v + 1) * levels / 2 + 1e-9, 1.0), 0.0, 1e-8);
}

TEST(Dorefa, WeightsMqbenchVariant) {
  const Tensor w = random_tensor({40}, DType::f32, 14, -2, 2);
  const Tensor y = quant::dorefa_weight(w, 8, quant::DorefaVariant::mqbench);
  const std::vector<double> wv = w.to_vector<double>(), ys = y.to_vector<double>();
  float m = 0;
  for (double v : wv) m = std::max(m, std::fabs(std::tanh(static_cast<float>(v))));
  const float s = 1.0f / 127.5f;
  for (size_t i = 0; i < wv.size(); ++i) {
    const float t = std::tanh(static_cast<float>(wv[i])) / m;
    const float code = std::min(127.0f, std::max(-128.0f, std::nearbyint(t * (1.0f / s))));
    EXPECT_NEAR(ys[i], code * s, 2e-7) << i;  // tanh may differ from the library's by an ulp
  }
}

TEST(Dorefa, ActivationsClipToUnitInterval) {
  const Tensor x = from_vector<double>({-0.5, 0.1, 0.2, 0.49, 0.93, 1.7});
  const Tensor dy = from_vector<double>({1, 2, 3, 4, 5, 6});
  const Grads2 r = run(x, dy, [](const Tensor& t) { return quant::dorefa_activation(t, 2); });
  EXPECT_EQ(r.y, (std::vector<double>{0, 0, 1.0 / 3, 1.0 / 3, 1, 1}));
  EXPECT_EQ(r.dx, (std::vector<double>{0, 2, 3, 4, 5, 0}));
  quant::DorefaQuantizer q(config(2, quant::IntKind::unsigned_full), {.tensor = quant::DorefaTensorKind::activation});
  q.set_state(QuantState::eval);
  q.set_collect_stats(true);
  q(x);
  EXPECT_DOUBLE_EQ(q.stats().clip_fraction, 2.0 / 6);
  EXPECT_EQ(q.stats().range_min[0], 0.0f);
  EXPECT_EQ(q.stats().range_max[0], 1.0f);
  EXPECT_LOWBIT_ERROR(quant::dorefa_weight(zeros({3}), 4), "dorefa_weight", "every weight is 0");
}

// ---- DSQ (§5.6) ----

TEST(Dsq, ForwardIsHardQuantizationAndBackwardFollowsTheSoftStaircase) {
  const double s = 0.25, alpha = 0.4;
  const int64_t z = 3;
  const quant::QRange range{0, 15};
  std::vector<double> xv = random_tensor({300}, DType::f64, 15, -2, 4).to_vector<double>();
  xv[0] = (5.5 - z) * s;  // a half step: phi = u there
  const Tensor x = from_vector<double>(xv);
  const Tensor dy = random_tensor({300}, DType::f64, 16);
  const Grads2 r = run(x, dy, [&](const Tensor& t) { return quant::dsq(t, s, z, range, alpha); });
  const double ks = 1 / (1 - alpha), k = std::log((ks + 1) / (ks - 1));
  const std::vector<double> dys = dy.to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double v = xv[i] * (1 / s) + z;
    const double u = std::min(15.0, std::max(0.0, v));
    ASSERT_NEAR(r.y[i], (std::nearbyint(u) - z) * s, 1e-15) << i;  // R(phi) = R(u)
    const double f = u - std::floor(u), t = std::tanh(k * (f - 0.5));
    const double dphi = 0.5 * ks * k * (1 - t * t);
    const bool inside = v >= 0 && v <= 15;
    ASSERT_NEAR(r.dx[i], inside ? dys[i] * dphi : 0.0, 1e-13) << i;
  }
  // phi is continuous and equals u at integers: its slope peaks mid-step.
  EXPECT_GT(0.5 * ks * k, 1.0);
}

TEST(Dsq, QuantizerRefreshesItsRangeEveryBatch) {
  quant::DsqQuantizer q(config(4, quant::IntKind::unsigned_full, quant::QScheme::asymmetric));
  q.set_state(QuantState::qat);
  const Tensor a = random_tensor({1000}, DType::f32, 17, 0, 1), b = random_tensor({1000}, DType::f32, 18, 0, 10);
  q(a);
  const float s1 = q.qparams().scale[0];
  q(b);
  const float s2 = q.qparams().scale[0];
  EXPECT_GT(s2, 5 * s1);  // the second range replaced the first
  // mean +- 2.6 std of b, then §2's asymmetric rule.
  const std::vector<double> bv = b.to_vector<double>();
  const double mean = std::accumulate(bv.begin(), bv.end(), 0.0) / 1000;
  double var = 0;
  for (double v : bv) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / 999);  // torch.std (Bessel), as MeanStd
  const double lo = std::min(0.0, mean - 2.6 * sd), hi = mean + 2.6 * sd;
  EXPECT_NEAR(s2, (hi - lo) / 15, 1e-5 * s2);
  q.set_state(QuantState::eval);
  q(a);
  EXPECT_EQ(q.qparams().scale[0], s2);  // eval observes nothing
}

// ---- Fixed (§5.1) ----

TEST(Fixed, MinMaxObserverGivesSection2Qparams) {
  quant::FixedQuantizer q(config(8, quant::IntKind::unsigned_full, quant::QScheme::asymmetric), "minmax");
  EXPECT_NE(q.extra_repr().find("unobserved"), std::string::npos);
  q.set_state(QuantState::calibrate);
  const Tensor a = from_vector<float>({-1.0f, 0.5f, 2.0f}), b = from_vector<float>({3.0f, 0.0f});
  EXPECT_TRUE(test::bit_equal(a, q(a), "calibrate output"));
  q(b);
  // min -1, max 3: s = 4 / 255, z = 0 - rne(-1 / s) = 64 (QUANT_NUMERICS §2).
  const float s = 4.0f / 255.0f;
  EXPECT_FLOAT_EQ(q.qparams().scale[0], s);
  EXPECT_EQ(q.qparams().zero_point[0], static_cast<int64_t>(std::nearbyint(1.0f / s)));
  q.set_state(QuantState::eval);
  const Tensor y = q(from_vector<float>({-2.0f, 1.0f, 5.0f}));
  const std::vector<double> ys = y.to_vector<double>();
  EXPECT_FLOAT_EQ(static_cast<float>(ys[0]), (0 - 64) * s);
  EXPECT_FLOAT_EQ(static_cast<float>(ys[2]), (255 - 64) * s);
  // The observer's state and the grid are in the state dict; a copy restores both.
  quant::FixedQuantizer copy(config(8, quant::IntKind::unsigned_full, quant::QScheme::asymmetric), "minmax");
  copy.load_state_dict(q.state_dict());
  EXPECT_EQ(copy.qparams().scale, q.qparams().scale);
  EXPECT_TRUE(copy.observer->has_observed());
  EXPECT_TRUE(test::bit_equal(y, copy(from_vector<float>({-2.0f, 1.0f, 5.0f})), "restored grid"));
}

TEST(Fixed, PerChannelWeights) {
  QuantizerConfig c = config(4);
  c.ch_axis = 0;
  c.channels = 2;
  quant::FixedQuantizer q(c, "minmax");
  q.set_state(QuantState::qat);
  const Tensor w = from_vector<float>({0.5f, -1.0f, 0.25f, 4.0f, -2.0f, 1.0f}, {2, 3});
  Tensor wg = w.contiguous();
  set_requires_grad(wg);
  const Tensor y = q(wg);
  const std::vector<float> s = q.qparams().scale;
  EXPECT_FLOAT_EQ(s[0], 1.0f / 7.5f);  // max |w| / ((qmax - qmin) / 2)
  EXPECT_FLOAT_EQ(s[1], 4.0f / 7.5f);
  backward(sum(y));
  EXPECT_EQ(grad(wg).to_vector<double>(), (std::vector<double>(6, 1.0)));  // nothing clipped: STE passes all
  EXPECT_LOWBIT_ERROR(quant::FixedQuantizer(c, "no_such_observer"), "no_such_observer");
}

// ---- LSQ+ (§5.3) ----

TEST(LsqPlus, OffsetGradientIsDyOutsideTheRange) {
  QuantizerConfig c = config(4, quant::IntKind::unsigned_full, quant::QScheme::asymmetric);
  quant::LsqPlusQuantizer q(c, {.dtype = DType::f64});
  {
    NoGradGuard no_grad;
    q.scale.fill_(0.2);
    q.offset.fill_(-1.0);
  }
  q.set_state(QuantState::eval);
  const Tensor x = random_tensor({64}, DType::f64, 19, -3, 4);
  const Tensor dy = random_tensor({64}, DType::f64, 20);
  const Grads2 r = run(x, dy, [&](const Tensor& t) { return q(t); }, q.offset);
  const std::vector<double> xv = x.to_vector<double>(), dys = dy.to_vector<double>();
  double dbeta = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double v = (xv[i] - -1.0) * (1 / 0.2), code = std::nearbyint(v);
    const bool inside = code >= 0 && code <= 15;
    ASSERT_NEAR(r.y[i], std::min(15.0, std::max(0.0, code)) * 0.2 + -1.0, 1e-14) << i;
    ASSERT_EQ(r.dx[i], inside ? dys[i] : 0.0) << i;
    if (!inside) dbeta += dys[i];
  }
  EXPECT_NEAR(r.dextra[0], dbeta, 1e-12);
}

TEST(LsqPlus, MeanStdInitialisation) {
  QuantizerConfig c = config(4, quant::IntKind::unsigned_full, quant::QScheme::asymmetric);
  quant::LsqPlusQuantizer q(c);
  q.set_state(QuantState::calibrate);
  const Tensor x = random_tensor({4000}, DType::f32, 21, -1, 3);
  q(x);
  const std::vector<double> xv = x.to_vector<double>();
  const double mean = std::accumulate(xv.begin(), xv.end(), 0.0) / 4000;
  double var = 0;
  for (double v : xv) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / 3999), lo = mean - 3 * sd, hi = mean + 3 * sd;  // torch.std (Bessel)
  EXPECT_NEAR(q.scale.item(), (hi - lo) / 15, 1e-5);
  EXPECT_NEAR(q.offset.item(), lo, 1e-5);  // code 0 sits at mean - 3 std
}

// ---- kurtosis regulariser ----

TEST(Kurtosis, ValueGradientAndLoss) {
  const Tensor w = from_vector<double>({-1.0, 0.0, 1.0, 2.0});
  // mean 0.5; deviations -1.5 -0.5 0.5 1.5; var 1.25; z^4 = (2.25^2, 0.25^2, ...) / 1.5625
  const double expected = (2 * 5.0625 + 2 * 0.0625) / 1.5625 / 4;
  EXPECT_NEAR(quant::kurtosis(w).item(), expected, 1e-15);
  // A uniform grid has kurtosis close to 1.8.
  std::vector<double> u(10001);
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<double>(i);
  EXPECT_NEAR(quant::kurtosis(from_vector<double>(u)).item(), 1.8, 1e-3);
  EXPECT_TRUE(test::grad_ok([](const std::vector<Tensor>& in) { return quant::kurtosis(in[0]); },
                            {random_tensor({12}, DType::f64, 22)}, "kurtosis"));
  quant::KurtosisRegularizer reg({.target = 1.8, .weight = 0.5});
  quant::FixedQuantizer q1(config(8)), q2(config(8));
  reg.attach(q1);
  reg.attach(q2);
  q1.set_state(QuantState::qat);
  q2.set_state(QuantState::qat);
  const Tensor a = random_tensor({50}, DType::f32, 23), b = random_tensor({60}, DType::f32, 24);
  const Tensor ya = q1(a), yb = q2(b);
  const double ka = quant::kurtosis(ya).item(), kb = quant::kurtosis(yb).item();
  const Tensor loss = reg.take_loss();
  EXPECT_NEAR(loss.item(), 0.5 / 2 * ((ka - 1.8) * (ka - 1.8) + (kb - 1.8) * (kb - 1.8)), 1e-6);
  EXPECT_EQ(reg.take_loss().item(), 0.0);  // a new sum starts
  q1.set_state(QuantState::eval);          // eval does not post-observe
  q1(a);
  EXPECT_EQ(reg.take_loss().item(), 0.0);
}

}  // namespace
}  // namespace lowbit
