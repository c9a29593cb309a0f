// Quantizers (quant/quantizer.h) and the state machine (quant/state.h), QUANT_NUMERICS §5
// and §6: every state transition and the pinned override, state and parameters in the
// state dict, LSQ (§5.2) against a scalar computation written here (initialisation,
// forward, dx, ds with its gradient scale g, the mask option, s > 0 after a step,
// power-of-two scales), and the diagnostics (clip fraction, ranges, JSON).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "quant/quantizer_lsq.h"
#include "quant/state.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using quant::LsqOptions;
using quant::LsqQuantizer;
using quant::QuantizerConfig;
using quant::QuantState;
using test::bit_equal;
using test::random_tensor;

QuantizerConfig int_config(int bits, quant::IntKind kind = quant::IntKind::signed_full) {
  QuantizerConfig c;
  c.bits = bits;
  c.kind = kind;
  return c;
}

// A model with two quantizers: one at the top, one inside a child.
struct TwoQuantizers : nn::Module {
  TwoQuantizers() : Module("TwoQuantizers") {
    a = register_module("a", std::make_shared<LsqQuantizer>(int_config(8)));
    inner = register_module("inner", std::make_shared<nn::Sequential>());
    b = inner->push_back(std::make_shared<LsqQuantizer>(int_config(4)));
  }
  Tensor forward(const Tensor& x) override { return (*inner)((*a)(x)); }
  std::shared_ptr<LsqQuantizer> a, b;
  std::shared_ptr<nn::Sequential> inner;
};

TEST(QuantState, NamesRoundTripAndUnknownNamesAreErrors) {
  for (QuantState s : {QuantState::fp, QuantState::calibrate, QuantState::qat, QuantState::eval})
    EXPECT_EQ(quant::parse_quant_state(quant::to_string(s)), s);
  EXPECT_LOWBIT_ERROR(quant::parse_quant_state("train"), "unknown state 'train'", "fp, calibrate, qat or eval");
}

TEST(QuantState, EachStateDoesWhatSection6Says) {
  const Tensor x = random_tensor({4, 10}, DType::f32, 1, -3, 3);
  LsqQuantizer q(int_config(4), LsqOptions{.tensor = quant::LsqTensorKind::activation});
  // fp: a new quantizer passes its input through and observes nothing.
  EXPECT_EQ(q.state(), QuantState::fp);
  EXPECT_TRUE(bit_equal(x, q(x), "fp output"));
  EXPECT_FALSE(q.initialized());
  // eval before any observation: quantizes with s = 1 and still observes nothing.
  q.set_state(QuantState::eval);
  // (R(x) + z - z) * s: R(-0.3) = -0, and -0 + 0 = +0, as in torch.
  EXPECT_TRUE(bit_equal(raw::add(raw::clamp(raw::round(x), -8, 7), 0.0), q(x), "eval with the initial s = 1"));
  EXPECT_FALSE(q.initialized());
  // calibrate: observes (LSQ initialises s), output is the float input.
  q.set_state(QuantState::calibrate);
  EXPECT_TRUE(bit_equal(x, q(x), "calibrate output"));
  EXPECT_TRUE(q.initialized());
  const double s = q.scale.item();
  EXPECT_NE(s, 1.0);
  // qat: fake-quantizes with the learnable s, recorded for backward.
  q.set_state(QuantState::qat);
  const Tensor y = q(x);
  EXPECT_TRUE(requires_grad(y));
  const std::vector<double> xs = x.to_vector<double>(), ys = y.to_vector<double>();
  const float sf = static_cast<float>(s), inv = 1.0f / sf;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float code = std::min(7.0f, std::max(-8.0f, std::nearbyint(static_cast<float>(xs[i]) * inv)));
    ASSERT_EQ(static_cast<float>(ys[i]), code * sf) << i;
  }
  // eval: the same values, nothing observed (a second batch changes nothing).
  q.set_state(QuantState::eval);
  EXPECT_TRUE(bit_equal(y, q(x), "eval equals qat with the same s"));
  EXPECT_EQ(q.scale.item(), s);
}

TEST(QuantState, OneCallSetsAModelAndAPinnedModuleKeepsItsState) {
  TwoQuantizers m;
  const auto named = quant::named_quantizers(m);
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "a");
  EXPECT_EQ(named[1].first, "inner.0");
  quant::set_state(m, QuantState::qat);
  EXPECT_EQ(m.a->state(), QuantState::qat);
  EXPECT_EQ(m.b->state(), QuantState::qat);
  quant::pin_state(*m.inner, QuantState::fp);  // the override: everything under `inner`
  quant::set_state(m, QuantState::eval);
  EXPECT_EQ(m.a->state(), QuantState::eval);
  EXPECT_EQ(m.b->state(), QuantState::fp);
  EXPECT_EQ(m.b->pinned_state(), QuantState::fp);
  EXPECT_NE(m.b->extra_repr().find("state=fp (pinned)"), std::string::npos) << m.b->extra_repr();
  // The model printout shows every quantizer's bits, state and (s, z).
  const std::string printout = m.str();
  EXPECT_NE(printout.find("(a): LsqQuantizer(int8 signed symmetric per_tensor, state=eval, scale=1, zero_point=0, "
                          "uninitialised)"),
            std::string::npos)
      << printout;
  EXPECT_NE(printout.find("int4 signed symmetric per_tensor, state=fp (pinned)"), std::string::npos) << printout;
  quant::pin_state(*m.inner, std::nullopt);  // unpinned: the last set state shows again
  EXPECT_EQ(m.b->state(), QuantState::eval);
  EXPECT_FALSE(m.b->pinned_state().has_value());
}

TEST(QuantState, StateAndParametersAreInTheStateDict) {
  TwoQuantizers m;
  quant::set_state(m, QuantState::calibrate);
  m(random_tensor({3, 5}, DType::f32, 2));
  quant::set_state(m, QuantState::qat);
  quant::pin_state(*m.inner, QuantState::eval);
  std::vector<std::string> names;
  for (const auto& [name, t] : m.state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"a.scale", "a.state", "a.state_pin", "a.zero_point", "a.initialized",
                                             "inner.0.scale", "inner.0.state", "inner.0.state_pin",
                                             "inner.0.zero_point", "inner.0.initialized"}));
  // The learnable scales are ordinary parameters (the optimizer sees them).
  EXPECT_EQ(m.parameters().size(), 2u);
  TwoQuantizers restored;
  restored.load_state_dict(m.state_dict());
  EXPECT_EQ(restored.a->state(), QuantState::qat);
  EXPECT_EQ(restored.b->state(), QuantState::eval);
  EXPECT_EQ(restored.b->pinned_state(), QuantState::eval);
  EXPECT_TRUE(restored.a->initialized());
  EXPECT_EQ(restored.a->scale.item(), m.a->scale.item());
  // A corrupt state value is an error, not an out-of-range enum.
  NoGradGuard no_grad;
  restored.a->named_buffers()[0].second.fill_(9);
  EXPECT_LOWBIT_ERROR(restored.a->state(), "LsqQuantizer", "corrupt state value 9");
}

// QUANT_NUMERICS §4 Norm initialisation, per tensor and per output channel.
TEST(Lsq, NormInitialisation) {
  const Tensor w = random_tensor({3, 2, 2, 2}, DType::f64, 3, -1, 1);
  const std::vector<double> v = w.to_vector<double>();
  QuantizerConfig c = int_config(4);
  LsqQuantizer per_tensor(c, {.dtype = DType::f64});
  per_tensor.set_state(QuantState::calibrate);
  per_tensor(w);
  double sum = 0;
  for (double e : v) sum += std::fabs(e);
  EXPECT_NEAR(per_tensor.scale.item(), 2 * (sum / 24) / std::sqrt(7.0), 1e-15);
  c.ch_axis = 0;
  c.channels = 3;
  LsqQuantizer per_channel(c, {.dtype = DType::f64});
  per_channel.set_state(QuantState::qat);  // qat observes too
  per_channel(w);
  const std::vector<double> s = per_channel.scale.to_vector<double>();
  for (int ch = 0; ch < 3; ++ch) {
    double cs = 0;
    for (int i = 0; i < 8; ++i) cs += std::fabs(v[static_cast<size_t>(ch * 8 + i)]);
    EXPECT_NEAR(s[static_cast<size_t>(ch)], 2 * (cs / 8) / std::sqrt(7.0), 1e-15) << ch;
  }
  // A second batch does not re-initialise.
  per_channel(raw::mul(w, 10.0));
  EXPECT_EQ(per_channel.scale.to_vector<double>(), s);
}

// §5.2 forward and gradients in f64 against the formulas evaluated here.
void check_lsq_gradients(quant::LsqMask mask) {
  const int64_t n = 4, f = 25;
  Tensor x = random_tensor({n, f}, DType::f64, 4, -2, 2);
  std::vector<double> xv = x.to_vector<double>();
  xv[0] = 0.5 * 0.3 * 2 + 1e-9;     // just above a tie
  xv[1] = 7.49 * 0.3;              // inside the top code's half step
  xv[2] = 7.51 * 0.3;              // beyond it
  xv[3] = -8.49 * 0.3;             // inside the bottom half step
  x = from_vector<double>(xv, {n, f});
  set_requires_grad(x);
  LsqQuantizer q(int_config(4), {.tensor = quant::LsqTensorKind::activation, .mask = mask, .dtype = DType::f64});
  {
    NoGradGuard no_grad;
    q.scale.fill_(0.3);
  }
  q.set_state(QuantState::eval);
  const Tensor dy = random_tensor({n, f}, DType::f64, 5);
  const Tensor y = q(x);
  backward(sum(mul(y, dy)));
  const double s = 0.3, g = 1 / std::sqrt(static_cast<double>(f) * 7);  // paper N: features per sample
  EXPECT_DOUBLE_EQ(q.grad_scale(), g);
  const std::vector<double> ys = y.to_vector<double>(), dys = dy.to_vector<double>(), dxs = grad(x).to_vector<double>();
  double ds = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double v = xv[i] / s, r = std::nearbyint(v);
    const double code = std::min(7.0, std::max(-8.0, r));
    ASSERT_NEAR(ys[i], code * s, 1e-15) << i;
    // pytorch mask: the rounded code in range; paper: v itself in [qmin, qmax].
    const bool below = mask == quant::LsqMask::paper ? v < -8 : r < -8;
    const bool above = mask == quant::LsqMask::paper ? v > 7 : r > 7;
    ASSERT_EQ(dxs[i], below || above ? 0.0 : dys[i]) << i;
    ds += dys[i] * g * (below ? -8.0 : above ? 7.0 : r - v);
  }
  EXPECT_NEAR(grad(q.scale).item(), ds, 1e-13);
  if (mask == quant::LsqMask::paper) {  // the half steps past the range are outside
    EXPECT_EQ(dxs[1], 0.0);
    EXPECT_EQ(dxs[3], 0.0);
  } else {
    EXPECT_EQ(dxs[1], dys[1]);
    EXPECT_EQ(dxs[3], dys[3]);
  }
  EXPECT_EQ(dxs[2], 0.0);
}

TEST(Lsq, ForwardAndGradientsMaskPytorch) { check_lsq_gradients(quant::LsqMask::pytorch); }
TEST(Lsq, ForwardAndGradientsMaskPaper) { check_lsq_gradients(quant::LsqMask::paper); }

TEST(Lsq, GradScaleN) {
  const Tensor x = zeros({8, 3, 4, 4});
  const double qmax = 127;
  EXPECT_DOUBLE_EQ(LsqQuantizer(int_config(8), {.tensor = quant::LsqTensorKind::weight}).grad_scale_for(x),
                   1 / std::sqrt(384 * qmax));
  EXPECT_DOUBLE_EQ(LsqQuantizer(int_config(8), {.tensor = quant::LsqTensorKind::activation}).grad_scale_for(x),
                   1 / std::sqrt(48 * qmax));
  EXPECT_DOUBLE_EQ(LsqQuantizer(int_config(8), {.tensor = quant::LsqTensorKind::activation,
                                                .n_mode = quant::LsqGradScaleN::mqbench})
                       .grad_scale_for(x),
                   1 / std::sqrt(384 * qmax));
  QuantizerConfig c = int_config(8);
  c.ch_axis = 0;
  c.channels = 8;
  EXPECT_DOUBLE_EQ(LsqQuantizer(c).grad_scale_for(x), 1 / std::sqrt(48 * qmax));  // one filter
  const QuantizerConfig u = int_config(4, quant::IntKind::unsigned_full);
  EXPECT_DOUBLE_EQ(LsqQuantizer(u).grad_scale_for(x), 1 / std::sqrt(384 * 15.0));
}

TEST(Lsq, ScaleStaysPositiveAfterAStep) {
  TwoQuantizers m;
  {
    NoGradGuard no_grad;
    m.a->scale.fill_(-0.25);
    m.b->scale.fill_(0.0);
  }
  quant::after_optimizer_step(m);
  EXPECT_EQ(m.a->scale.item(), 0.25);
  EXPECT_EQ(m.b->scale.item(), static_cast<double>(quant::kScaleEps));
}

TEST(Lsq, PowerOfTwoScaleWithStraightThroughExponent) {
  QuantizerConfig c = int_config(8);
  c.power_of_two = true;
  LsqQuantizer q(c, {.dtype = DType::f64});
  {
    NoGradGuard no_grad;
    q.scale.fill_(0.3);  // 2^rne(log2 0.3) = 2^-2
  }
  q.set_state(QuantState::eval);
  Tensor x = from_vector<double>({0.1, 0.26, -0.9, 40.0}, {4});
  set_requires_grad(x);
  const Tensor y = q(x);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0.0, 0.25, -1.0, 31.75}));
  EXPECT_EQ(q.qparams().scale[0], 0.25f);
  backward(sum(y));
  // ds with s = 0.25: (R(v) - v) inside, qmax above, times g = 1/sqrt(4 * 127).
  const double g = 1 / std::sqrt(4 * 127.0);
  const double expected = g * ((0 - 0.4) + (1 - 1.04) + (-4 - -3.6) + 127);
  EXPECT_NEAR(grad(q.scale).item(), expected, 1e-12);
}

TEST(Lsq, BadConfigurations) {
  QuantizerConfig c = int_config(8);
  c.scheme = quant::QScheme::asymmetric;
  EXPECT_LOWBIT_ERROR(LsqQuantizer{c}, "LsqQuantizer", "symmetric");
  EXPECT_LOWBIT_ERROR(LsqQuantizer{int_config(9)}, "9");
  QuantizerConfig bad_channels = int_config(8);
  bad_channels.channels = 4;
  EXPECT_LOWBIT_ERROR(LsqQuantizer{bad_channels}, "channels 4", "per-tensor");
  LsqQuantizer q(int_config(8));
  q.set_state(QuantState::calibrate);
  EXPECT_LOWBIT_ERROR(q(full({2, 2}, std::nan(""))), "LsqQuantizer", "non-finite");
}

// Clip fraction = the elements whose STE mask is 0, counted here from the formula.
TEST(QuantizerStats, ClipFractionRangesAndJson) {
  TwoQuantizers m;
  {
    NoGradGuard no_grad;
    m.a->scale.fill_(0.05);
    m.b->scale.fill_(0.5);
  }
  quant::set_state(m, QuantState::eval);
  quant::set_collect_stats(m, true);
  const Tensor x = random_tensor({10, 30}, DType::f32, 6, -10, 10);
  m(x);
  int64_t clipped = 0;
  for (double v : x.to_vector<double>()) {
    const float code = std::nearbyint(static_cast<float>(v) * (1.0f / 0.05f));
    clipped += code < -128 || code > 127;
  }
  const quant::QuantizerStats s = m.a->stats();
  EXPECT_EQ(s.calls, 1);
  EXPECT_DOUBLE_EQ(s.clip_fraction, static_cast<double>(clipped) / 300);
  EXPECT_GT(clipped, 0);
  EXPECT_FLOAT_EQ(s.range_min[0], -128 * 0.05f);
  EXPECT_FLOAT_EQ(s.range_max[0], 127 * 0.05f);
  EXPECT_DOUBLE_EQ(s.grad_scale, 1 / std::sqrt(300 * 127.0));
  const auto j = nlohmann::json::parse(quant::stats_json(m));
  EXPECT_EQ(j["a"]["state"], "eval");
  EXPECT_EQ(j["inner.0"]["bits"], 4);
  EXPECT_DOUBLE_EQ(j["a"]["clip_fraction"].get<double>(), s.clip_fraction);
  const std::string table = quant::quantizer_table(m);
  EXPECT_NE(table.find("inner.0  LsqQuantizer  int4 signed symmetric per_tensor, state=eval"), std::string::npos)
      << table;
  // Off: nothing recorded.
  quant::set_collect_stats(m, false);
  m(x);
  EXPECT_EQ(m.a->stats().calls, 1);
}

}  // namespace
}  // namespace lowbit
