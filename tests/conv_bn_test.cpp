// Fused conv + BN for QAT (quant/conv_bn.h), QUANT_NUMERICS §7: each strategy's training
// forward against the §7 formula written here with raw ops in f64 (plain, with a weight
// quantizer in qat to see where q sits), gradcheck of every strategy, the running
// statistics against nn::BatchNorm2d, freeze_bn, eval equal for all six strategies and
// to the float conv -> BN, zero γ, the merge of strategy 0, state-dict names, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "quant/conv_bn.h"
#include "quant/fake_quantize.h"
#include "quant/quantizer_fixed.h"
#include "quant/quantizer_lsq.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using quant::ConvBn2d;
using quant::FoldStrategy;
using test::all_close;
using test::bit_equal;
using test::random_tensor;

constexpr std::array<FoldStrategy, 6> kAll = {FoldStrategy::none,    FoldStrategy::merge,
                                              FoldStrategy::fold_frozen, FoldStrategy::jacob,
                                              FoldStrategy::krishnamoorthi, FoldStrategy::pytorch};
constexpr std::array<FoldStrategy, 4> kTracking = {FoldStrategy::none, FoldStrategy::jacob,
                                                   FoldStrategy::krishnamoorthi, FoldStrategy::pytorch};

std::string name(FoldStrategy s) { return str_cat(quant::to_string(s), " (", static_cast<int>(s), ")"); }

struct Geometry {
  int64_t in = 3, out = 4, kernel = 3;
  std::array<int64_t, 2> stride{1, 1}, padding{1, 1}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  int64_t batch = 3, size = 6;  // of the input
};
const Geometry kPlain{};  // 3x3, padding 1, a conv bias
const Geometry kGrouped{.in = 4, .out = 6, .stride = {2, 1}, .padding = {2, 1}, .dilation = {2, 1}, .groups = 2,
                        .bias = false};
const Geometry kStrided{.stride = {2, 2}};  // im2col, not Winograd: the f32 bound below is im2col's

struct FloatPair {
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

// A float conv and BN with random values, the same for the same seed: each fused module
// gets its own pair, since it shares (and updates) the pair's tensors.
FloatPair make_pair(const Geometry& g, DType dtype, uint64_t seed) {
  Generator gen;
  auto conv = std::make_shared<nn::Conv2d>(
      g.in, g.out, g.kernel,
      nn::Conv2dOptions{.stride = g.stride, .padding = g.padding, .dilation = g.dilation, .groups = g.groups,
                        .bias = g.bias, .dtype = dtype, .gen = &gen});
  conv->weight.copy_(random_tensor(conv->weight.sizes(), dtype, seed, -0.5, 0.5));
  if (g.bias) conv->bias.copy_(random_tensor({g.out}, dtype, seed + 1, -0.5, 0.5));
  auto bn = std::make_shared<nn::BatchNorm2d>(g.out, nn::BatchNormOptions{.dtype = dtype});
  bn->weight.copy_(random_tensor({g.out}, dtype, seed + 2, 0.5, 1.5));
  bn->bias.copy_(random_tensor({g.out}, dtype, seed + 3, -1, 1));
  bn->running_mean.copy_(random_tensor({g.out}, dtype, seed + 4, -0.5, 0.5));
  bn->running_var.copy_(random_tensor({g.out}, dtype, seed + 5, 0.5, 2));
  return {conv, bn};
}

Tensor input(const Geometry& g, DType dtype, uint64_t seed) {
  return random_tensor({g.batch, g.in, g.size, g.size}, dtype, seed);
}

// The values the §7 formulas read, copied (the fused module updates the running ones).
struct Values {
  Geometry g;
  Tensor w, b, gamma, beta, mean, var;
  double eps = 1e-5;
};
Values values(const Geometry& g, const FloatPair& f) {
  return {g, f.conv->weight.clone(), g.bias ? f.conv->bias.clone() : Tensor(), f.bn->weight.clone(),
          f.bn->bias.clone(), f.bn->running_mean.clone(), f.bn->running_var.clone(), f.bn->options.eps};
}

// ---- the reference: QUANT_NUMERICS §7 with raw ops, in the order the table writes ----
Tensor rows(const Tensor& v) { return v.reshape({v.numel(), 1, 1, 1}); }
Tensor chans(const Tensor& v) { return v.reshape({1, v.numel(), 1, 1}); }
Tensor ref_conv(const Values& p, const Tensor& x, const Tensor& w, const Tensor& b) {
  return raw::conv2d(x, w, b, p.g.stride, p.g.padding, p.g.dilation, p.g.groups);
}
Tensor ref_sigma(const Tensor& var, double eps) { return raw::sqrt(raw::add(var, eps)); }
Tensor batch_mean(const Tensor& z) { return raw::mean(z, {0, 2, 3}); }
Tensor batch_sigma(const Tensor& z, double eps) { return ref_sigma(raw::var(z, {0, 2, 3}, 0), eps); }
// BN with batch statistics: (u - μ_B)/σ_B·γ + β.
Tensor ref_bn_batch(const Values& p, const Tensor& u) {
  const Tensor xhat = raw::div(raw::sub(u, chans(batch_mean(u))), chans(batch_sigma(u, p.eps)));
  return raw::add(raw::mul(xhat, chans(p.gamma)), chans(p.beta));
}
Tensor fold_w(const Values& p, const Tensor& sigma) { return raw::div(raw::mul(p.w, rows(p.gamma)), rows(sigma)); }
// β − γ·(μ − b)/σ
Tensor shift(const Values& p, const Tensor& mean, const Tensor& sigma) {
  const Tensor centre = p.b.defined() ? raw::sub(mean, p.b) : mean;
  return raw::sub(p.beta, raw::div(raw::mul(p.gamma, centre), sigma));
}

using Quantize = std::function<Tensor(const Tensor&)>;
const Quantize kIdentity = [](const Tensor& w) { return w; };

// One training step of strategy s from the §7 table (running statistics as before it).
Tensor reference(FoldStrategy s, const Values& p, const Tensor& x, const Quantize& q) {
  const Tensor sigma = ref_sigma(p.var, p.eps);
  const Tensor z = ref_conv(p, x, p.w, p.b);  // the float conv output: batch statistics
  switch (s) {
    case FoldStrategy::none:
      return ref_bn_batch(p, ref_conv(p, x, q(p.w), p.b));
    case FoldStrategy::merge:
    case FoldStrategy::fold_frozen:
      return ref_conv(p, x, q(fold_w(p, sigma)), shift(p, p.mean, sigma));
    case FoldStrategy::jacob: {
      const Tensor sigma_b = batch_sigma(z, p.eps);
      return ref_conv(p, x, q(fold_w(p, sigma_b)), shift(p, batch_mean(z), sigma_b));
    }
    case FoldStrategy::krishnamoorthi: {
      const Tensor sigma_b = batch_sigma(z, p.eps);
      const Tensor y = raw::mul(ref_conv(p, x, q(fold_w(p, sigma)), Tensor()), chans(raw::div(sigma, sigma_b)));
      return raw::add(y, chans(shift(p, batch_mean(z), sigma_b)));
    }
    case FoldStrategy::pytorch: {
      Tensor u = raw::mul(ref_conv(p, x, q(fold_w(p, sigma)), Tensor()), chans(raw::div(sigma, p.gamma)));
      if (p.b.defined()) u = raw::add(u, chans(p.b));
      return ref_bn_batch(p, u);
    }
  }
  return Tensor();
}

// The fused module's running statistics now (merge: the ones it was merged with).
Values current(const Values& before, const ConvBn2d& m) {
  Values p = before;
  if (m.bn) p.mean = m.bn->running_mean.clone(), p.var = m.bn->running_var.clone();
  return p;
}

TEST(FoldStrategy, NamesAndNumbersRoundTrip) {
  for (FoldStrategy s : kAll) {
    EXPECT_EQ(quant::parse_fold_strategy(quant::to_string(s)), s);
    EXPECT_EQ(quant::parse_fold_strategy(std::to_string(static_cast<int>(s))), s);
  }
  EXPECT_EQ(quant::parse_fold_strategy("-1"), FoldStrategy::none);
  EXPECT_EQ(quant::parse_fold_strategy("2"), FoldStrategy::jacob);
  EXPECT_STREQ(quant::to_string(FoldStrategy::krishnamoorthi), "krishnamoorthi");
  EXPECT_LOWBIT_ERROR(quant::parse_fold_strategy("5"), "unknown strategy '5'", "-1..4", "jacob");
  EXPECT_LOWBIT_ERROR(quant::parse_fold_strategy("fold"), "unknown strategy 'fold'", "fold_frozen");
}

// With no weight quantizer (and with one in fp state, which passes through), two training
// steps of every strategy equal the §7 formula, on a plain and on a grouped, dilated,
// strided conv without bias. In f64: the two computations differ only by rounding.
TEST(ConvBn2d, TrainingForwardIsTheSection7Formula) {
  for (const Geometry& g : {kPlain, kGrouped}) {
    for (FoldStrategy s : kAll) {
      SCOPED_TRACE(name(s) + (g.groups > 1 ? " grouped" : " plain"));
      const FloatPair f = make_pair(g, DType::f64, 11);
      const Values initial = values(g, f);
      ConvBn2d m(f.conv, f.bn, s);
      const FloatPair f2 = make_pair(g, DType::f64, 11);
      auto fp_quant = std::make_shared<quant::FixedQuantizer>(quant::QuantizerConfig{.bits = 4});
      ConvBn2d with_fp(f2.conv, f2.bn, s, fp_quant);  // state fp: y = w
      for (uint64_t step = 0; step < 2; ++step) {
        const Tensor x = input(g, DType::f64, 100 + step);
        const Values p = current(initial, m);
        const Tensor y = m(x);
        EXPECT_TRUE(all_close(reference(s, p, x, kIdentity), y, 1e-10, 1e-10, "step " + std::to_string(step)));
        EXPECT_TRUE(bit_equal(y, with_fp(x), "fp-state quantizer = no quantizer"));
        // Without q, -1, 2, 3 and 4 are all the float conv -> BN in training, written differently.
        if (s != FoldStrategy::merge && s != FoldStrategy::fold_frozen) {
          EXPECT_TRUE(all_close(ref_bn_batch(p, ref_conv(p, x, p.w, p.b)), y, 1e-10, 1e-10, "float conv -> BN"));
        }
      }
    }
  }
}

// A per-channel int4 Fixed quantizer in qat: the output equals the formula with q applied
// where §7 puts it (the raw weight for -1, the weight folded with σ_B for 2, with the
// running σ for 0, 1, 3, 4), using the (s, z) the quantizer computed from what it saw;
// and differs from the unquantized formula, so q was really applied.
TEST(ConvBn2d, WeightQuantizerSeesTheFoldedWeight) {
  const Geometry g = kPlain;
  for (FoldStrategy s : kAll) {
    SCOPED_TRACE(name(s));
    const FloatPair f = make_pair(g, DType::f64, 21);
    const Values p = values(g, f);
    auto wq = std::make_shared<quant::FixedQuantizer>(quant::QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 4});
    wq->set_state(quant::QuantState::qat);
    ConvBn2d m(f.conv, f.bn, s, wq);
    const Tensor x = input(g, DType::f64, 200);
    const Tensor y = m(x);
    const quant::QRange r = wq->config.range();
    const Quantize q = [&](const Tensor& w) {
      return quant::fake_quantize_per_channel_affine(w, wq->scale, wq->zero_point, 0, r.qmin, r.qmax);
    };
    EXPECT_TRUE(all_close(reference(s, p, x, q), y, 1e-9, 1e-9, "q on the §7 weight"));
    EXPECT_FALSE(all_close(reference(s, p, x, kIdentity), y, 1e-3, 1e-3, "the unquantized formula"));
  }
}

// A learnable quantizer trains through the fused module: LSQ's scale gets a gradient.
TEST(ConvBn2d, LsqScaleGetsAGradientThroughTheFold) {
  for (FoldStrategy s : kAll) {
    SCOPED_TRACE(name(s));
    const FloatPair f = make_pair(kPlain, DType::f64, 31);
    auto lsq = std::make_shared<quant::LsqQuantizer>(quant::QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 4},
                                                     quant::LsqOptions{.dtype = DType::f64});
    lsq->set_state(quant::QuantState::qat);
    ConvBn2d m(f.conv, f.bn, s, lsq);
    const Tensor y = m(input(kPlain, DType::f64, 300));
    backward(sum(mul(y, random_tensor(y.sizes(), DType::f64, 301))));
    ASSERT_TRUE(grad(lsq->scale).defined());
    EXPECT_GT(raw::sum(raw::abs(grad(lsq->scale))).item(), 0.0);
  }
}

// gradcheck (f64) of each strategy's training forward, quantizer null, with respect to x,
// w, γ, β and the conv bias b (merge: x and its merged w, b), through conv_bn_forward with
// fresh copies of the running statistics on every call; frozen BN too for -1, 2, 3, 4.
TEST(ConvBn2d, GradcheckEveryStrategy) {
  const Geometry small{.in = 2, .out = 3, .batch = 2, .size = 4};
  const Geometry grouped{.in = 4, .out = 4, .stride = {2, 1}, .padding = {2, 1}, .dilation = {2, 1}, .groups = 2,
                         .batch = 2, .size = 5};
  for (const Geometry& g : {small, grouped}) {
    const FloatPair f = make_pair(g, DType::f64, 41);
    const Values p = values(g, f);
    for (FoldStrategy s : kAll) {
      for (bool frozen : {false, true}) {
        if (frozen && std::find(kTracking.begin(), kTracking.end(), s) == kTracking.end()) continue;
        const std::string what = name(s) + (frozen ? " frozen" : "") + (g.groups > 1 ? " grouped" : "");
        auto f_of = [&](const std::vector<Tensor>& in) {
          quant::ConvBnArgs a;
          a.weight = in[1];
          a.bias = in[2];
          if (s != FoldStrategy::merge) a.gamma = in[3], a.beta = in[4];
          a.running_mean = p.mean.clone();
          a.running_var = p.var.clone();
          a.stride = g.stride, a.padding = g.padding, a.dilation = g.dilation, a.groups = g.groups;
          return quant::conv_bn_forward(s, a, in[0], /*training=*/true, frozen);
        };
        const Tensor b = random_tensor({g.out}, DType::f64, 42, -0.5, 0.5);
        std::vector<Tensor> in = {input(g, DType::f64, 400), p.w, b};
        if (s != FoldStrategy::merge) in.push_back(p.gamma), in.push_back(p.beta);
        EXPECT_TRUE(test::grad_ok(f_of, in, what));
      }
    }
  }
}

// Running statistics (f32): -1, 2 and 3 update them exactly as nn::BatchNorm2d does on
// the float conv output (the same kernel on the same tensor: bit for bit, count included);
// 4 feeds BN conv(x, w·γ/σ)·(σ/γ) + b, the float conv output up to rounding; 1 never
// updates; 0 has none. After freeze_bn() none update, and the frozen forward is the eval
// fold (2, 3, 4) or conv -> BN(eval) (-1); freeze_bn(false) resumes.
TEST(ConvBn2d, RunningStatisticsAsBatchNorm2dAndFreeze) {
  const Geometry g = kPlain;
  for (FoldStrategy s : kAll) {
    SCOPED_TRACE(name(s));
    const FloatPair f = make_pair(g, DType::f32, 51), twin = make_pair(g, DType::f32, 51);
    const Values initial = values(g, f);
    ConvBn2d m(f.conv, f.bn, s);
    for (uint64_t step = 0; step < 2; ++step) {
      const Tensor x = input(g, DType::f32, 500 + step);
      m(x);
      (*twin.bn)((*twin.conv)(x));
    }
    if (s == FoldStrategy::merge) {
      EXPECT_EQ(m.bn, nullptr);
      for (const auto& [n, t] : m.state_dict()) EXPECT_EQ(n.find("bn"), std::string::npos) << n;
      continue;
    }
    const nn::BatchNorm2d& bn = *m.bn;
    if (s == FoldStrategy::fold_frozen) {
      EXPECT_TRUE(bit_equal(initial.mean, bn.running_mean, "running_mean unchanged"));
      EXPECT_TRUE(bit_equal(initial.var, bn.running_var, "running_var unchanged"));
      EXPECT_EQ(bn.num_batches_tracked.item(), 0);
      EXPECT_TRUE(m.bn_frozen());
      continue;
    }
    EXPECT_EQ(bn.num_batches_tracked.item(), 2);
    if (s == FoldStrategy::pytorch) {
      EXPECT_TRUE(all_close(twin.bn->running_mean, bn.running_mean, 1e-5, 1e-6, "running_mean"));
      EXPECT_TRUE(all_close(twin.bn->running_var, bn.running_var, 1e-5, 1e-6, "running_var"));
    } else {
      EXPECT_TRUE(bit_equal(twin.bn->running_mean, bn.running_mean, "running_mean"));
      EXPECT_TRUE(bit_equal(twin.bn->running_var, bn.running_var, "running_var"));
    }
    EXPECT_FALSE(all_close(initial.mean, bn.running_mean, 1e-3, 1e-3, "the statistics moved"));
    // Frozen: no update, and the forward uses the running statistics.
    m.freeze_bn();
    EXPECT_TRUE(m.bn_frozen());
    const Tensor mean = bn.running_mean.clone(), var = bn.running_var.clone();
    const Tensor x = input(g, DType::f32, 510);
    const Tensor y = m(x);
    EXPECT_TRUE(bit_equal(mean, bn.running_mean, "frozen running_mean"));
    EXPECT_TRUE(bit_equal(var, bn.running_var, "frozen running_var"));
    EXPECT_EQ(bn.num_batches_tracked.item(), 2);
    if (s == FoldStrategy::none) {
      twin.bn->running_mean.copy_(mean), twin.bn->running_var.copy_(var);
      twin.bn->eval();
      EXPECT_TRUE(bit_equal((*twin.bn)((*twin.conv)(x)), y, "frozen -1 = conv -> BN(eval)"));
    } else {
      m.eval();
      EXPECT_TRUE(bit_equal(m(x), y, "frozen = eval"));
      m.train();
    }
    m.freeze_bn(false);
    m(x);
    EXPECT_EQ(bn.num_batches_tracked.item(), 3);
    EXPECT_FALSE(bit_equal(mean, bn.running_mean, "updating again"));
  }
}

// eval (f32): the six strategies give the same bits, which are conv(x, folded weight,
// folded bias) with folded_weight_and_bias(); and they equal the float conv -> BN(eval)
// within the bound of the two float computations (stated below).
TEST(ConvBn2d, EvalIsTheRunningFoldForEveryStrategy) {
  const Geometry g = kStrided;
  const Tensor x = input(g, DType::f32, 600);
  const FloatPair ref = make_pair(g, DType::f32, 61);
  ref.conv->eval(), ref.bn->eval();
  const Tensor y_float = (*ref.bn)((*ref.conv)(x));
  Tensor first;
  for (FoldStrategy s : kAll) {
    SCOPED_TRACE(name(s));
    const FloatPair f = make_pair(g, DType::f32, 61);
    ConvBn2d m(f.conv, f.bn, s);
    m.eval();
    const Tensor y = m(x);
    const quant::FoldedConv folded = m.folded_weight_and_bias();
    EXPECT_TRUE(bit_equal(raw::conv2d(x, folded.weight, folded.bias, g.stride, g.padding), y, "conv with the fold"));
    if (!first.defined()) first = y;
    EXPECT_TRUE(bit_equal(first, y, "same bits as strategy -1"));
  }
  // |fused - float| <= 2 (K + 8) u S per element, u = 2^-24, K = C_in kH kW products per
  // output: each side is a K-term dot product plus a few roundings (the fold of w, the
  // shift, the BN's a and b, its x·a + b), each within (K + 8) u S of the exact value
  // (Higham 3.1), S = |a| sum |x||w| + |a||b| + |β| + |a μ| with a = γ/σ in f64.
  const Values p = values(g, ref);
  const Tensor x64 = x.to(DType::f64);
  const auto to64 = [](const Tensor& t) { return t.to(DType::f64); };
  const Tensor a = raw::abs(raw::div(to64(p.gamma), ref_sigma(to64(p.var), p.eps)));
  const Tensor s_sum = raw::mul(raw::conv2d(raw::abs(x64), raw::abs(to64(p.w)), Tensor(), g.stride, g.padding),
                                chans(a));
  const Tensor s_const = raw::add(raw::add(raw::mul(a, raw::abs(to64(p.b))), raw::abs(to64(p.beta))),
                                  raw::mul(a, raw::abs(to64(p.mean))));
  const Tensor bound = raw::mul(raw::add(s_sum, chans(s_const)), 2.0 * (27 + 8) * std::ldexp(1.0, -24));
  const Tensor err = raw::abs(raw::sub(first.to(DType::f64), y_float.to(DType::f64)));
  const std::vector<double> e = err.to_vector<double>(), b = bound.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    ASSERT_LE(e[i], b[i]) << "element " << i;
    worst = std::max(worst, e[i] / b[i]);
  }
  std::printf("  fused vs float conv -> BN(eval): worst error %.3g x the bound\n", worst);
}

// With weight quantizers in eval, calibrated on the eval fold: still the same bits for all six.
TEST(ConvBn2d, EvalWithCalibratedQuantizersIsTheSameForEveryStrategy) {
  const Geometry g = kPlain;
  const Tensor x = input(g, DType::f32, 700);
  Tensor first;
  for (FoldStrategy s : kAll) {
    SCOPED_TRACE(name(s));
    const FloatPair f = make_pair(g, DType::f32, 71);
    auto wq = std::make_shared<quant::FixedQuantizer>(quant::QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 4});
    ConvBn2d m(f.conv, f.bn, s, wq);
    m.eval();
    wq->set_state(quant::QuantState::calibrate);
    m(x);
    wq->set_state(quant::QuantState::eval);
    const Tensor y = m(x);
    const quant::FoldedConv folded = m.folded_weight_and_bias();
    const quant::QRange r = wq->config.range();
    const Tensor wq_ref = quant::fake_quantize_per_channel_affine(folded.weight, wq->scale, wq->zero_point, 0,
                                                                  r.qmin, r.qmax);
    EXPECT_TRUE(bit_equal(raw::conv2d(x, wq_ref, folded.bias, g.stride, g.padding), y, "conv with q(fold)"));
    if (!first.defined()) first = y;
    EXPECT_TRUE(bit_equal(first, y, "same bits as strategy -1"));
  }
}

// γ = 0 in one channel (f64): no NaN in any output or gradient; that channel outputs β
// (BN with γ = 0 does, and so does the fold: its weight is 0); the other channels are the
// §7 formula. Strategy 4 takes that channel's BN input from the float conv, so its
// running statistics are the float model's.
TEST(ConvBn2d, ZeroGammaGivesNoNaN) {
  const Geometry g = kPlain;
  const int64_t zc = 1;  // the channel with γ = 0
  for (FoldStrategy s : kAll) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(name(s) + (training ? " training" : " eval"));
      const FloatPair f = make_pair(g, DType::f64, 81);
      f.bn->weight.select(0, zc).fill_(0.0);
      const Values p = values(g, f);
      ConvBn2d m(f.conv, f.bn, s);
      m.train(training);
      const Tensor x = input(g, DType::f64, 800);
      const Tensor y = m(x);
      backward(sum(mul(y, random_tensor(y.sizes(), DType::f64, 801))));
      for (const auto& [n, t] : m.named_parameters()) {
        ASSERT_TRUE(grad(t).defined()) << n;
        for (double v : grad(t).to_vector<double>()) ASSERT_FALSE(std::isnan(v)) << n;
      }
      const double beta = p.beta.to_vector<double>()[zc];
      const std::vector<double> got = y.to_vector<double>();
      const FoldStrategy formula = training ? s : FoldStrategy::fold_frozen;  // eval: the running fold
      const std::vector<double> want = reference(formula, p, x, kIdentity).to_vector<double>();
      const int64_t plane = y.size(2) * y.size(3);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_FALSE(std::isnan(got[i])) << i;
        if ((static_cast<int64_t>(i) / plane) % g.out == zc) ASSERT_EQ(got[i], beta) << i;
        else ASSERT_NEAR(got[i], want[i], 1e-10 * (1 + std::fabs(want[i]))) << i;
      }
      if (s == FoldStrategy::pytorch && training) {
        const FloatPair twin = make_pair(g, DType::f64, 81);
        (*twin.bn)((*twin.conv)(x));
        EXPECT_TRUE(all_close(twin.bn->running_mean, m.bn->running_mean, 1e-12, 1e-12, "running_mean"));
        EXPECT_TRUE(all_close(twin.bn->running_var, m.bn->running_var, 1e-12, 1e-12, "running_var"));
      }
    }
  }
}

// Strategy 0: the BN is folded into a new conv with bias once, at construction (the fold
// of fold_conv_bn, and the §7 formula), without drawing from the default generator;
// afterwards the original modules no longer matter, training changes no state, and the
// training forward is the eval forward.
TEST(ConvBn2d, MergeFoldsOnceAtConstruction) {
  Geometry g = kPlain;
  g.bias = false;  // the merged conv gains a bias
  const FloatPair f = make_pair(g, DType::f32, 91);
  const Values p = values(g, f);
  const Generator before = default_generator();
  ConvBn2d m(f.conv, f.bn, FoldStrategy::merge);
  EXPECT_EQ(default_generator().offset, before.offset);
  EXPECT_NE(m.conv, f.conv);
  EXPECT_EQ(m.bn, nullptr);
  ASSERT_TRUE(m.conv->bias.defined());
  const quant::FoldedConv fold = quant::fold_conv_bn(p.w, p.b, p.gamma, p.beta, p.mean, p.var, p.eps);
  EXPECT_TRUE(bit_equal(fold.weight, detach(m.conv->weight), "merged weight"));
  EXPECT_TRUE(bit_equal(fold.bias, detach(m.conv->bias), "merged bias"));
  const Values p64{g, p.w.to(DType::f64), Tensor(), p.gamma.to(DType::f64), p.beta.to(DType::f64),
                   p.mean.to(DType::f64), p.var.to(DType::f64), p.eps};
  const Tensor sigma = ref_sigma(p64.var, p.eps);
  EXPECT_TRUE(all_close(fold_w(p64, sigma), m.conv->weight, 1e-6, 1e-7, "w·γ/σ"));
  EXPECT_TRUE(all_close(shift(p64, p64.mean, sigma), m.conv->bias, 1e-6, 1e-6, "β − γμ/σ"));
  std::vector<std::string> names;
  for (const auto& [n, t] : m.state_dict()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias"}));

  const Tensor x = input(g, DType::f32, 900);
  const Tensor y = m(x);
  f.bn->running_mean.fill_(5.0), f.bn->weight.fill_(2.0), f.conv->weight.fill_(1.0);  // the originals change
  const nn::NamedTensors state = m.state_dict();
  std::vector<Tensor> saved;
  for (const auto& [n, t] : state) saved.push_back(t.clone());
  EXPECT_TRUE(bit_equal(y, m(x), "independent of the original modules"));
  for (size_t i = 0; i < state.size(); ++i) EXPECT_TRUE(bit_equal(saved[i], state[i].second, state[i].first));
  m.eval();
  EXPECT_TRUE(bit_equal(y, m(x), "train = eval"));
  m.freeze_bn();  // nothing to freeze
  EXPECT_TRUE(m.bn_frozen());
}

// State-dict names (the float modules' under "conv." and "bn.", the quantizer's under
// "weight_quant."), the tensors shared with the float modules, freeze in the state dict,
// and the printout.
TEST(ConvBn2d, StateDictNamesAndSharedTensors) {
  const FloatPair f = make_pair(kPlain, DType::f32, 101);
  auto wq = std::make_shared<quant::FixedQuantizer>(quant::QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 4});
  ConvBn2d m(f.conv, f.bn, FoldStrategy::jacob, wq);
  std::vector<std::string> names;
  for (const auto& [n, t] : m.state_dict()) names.push_back(n);
  const std::vector<std::string> float_names = {"bn_frozen",      "conv.weight",     "conv.bias",
                                                "bn.weight",      "bn.bias",         "bn.running_mean",
                                                "bn.running_var", "bn.num_batches_tracked"};
  ASSERT_GT(names.size(), float_names.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + float_names.size()), float_names);
  for (size_t i = float_names.size(); i < names.size(); ++i) EXPECT_EQ(names[i].rfind("weight_quant.", 0), 0u);
  EXPECT_TRUE(m.conv->weight.same_impl(f.conv->weight));
  EXPECT_TRUE(m.bn->running_var.same_impl(f.bn->running_var));
  // A float checkpoint maps by prefix: load the float modules' state under the new names.
  const FloatPair other = make_pair(kPlain, DType::f32, 102);
  nn::NamedTensors state = m.state_dict();
  for (auto& [n, t] : state) {
    t = t.clone();
    for (const auto& [fn, ft] : other.conv->state_dict()) if (n == "conv." + fn) t = ft;
    for (const auto& [fn, ft] : other.bn->state_dict()) if (n == "bn." + fn) t = ft;
  }
  m.load_state_dict(state);
  EXPECT_TRUE(bit_equal(other.conv->weight, f.conv->weight, "loaded through the fused module"));
  // Freeze is saved.
  m.freeze_bn();
  for (const auto& [n, t] : m.state_dict()) {
    if (n == "bn_frozen") {
      EXPECT_EQ(t.item(), 1);
    }
  }
  EXPECT_NE(m.str().find("ConvBn2d(strategy=jacob (2), bn_frozen=true\n  (conv): Conv2d(3, 4"), std::string::npos)
      << m.str();
  ConvBn2d folded(make_pair(kPlain, DType::f32, 103).conv, make_pair(kPlain, DType::f32, 103).bn,
                  FoldStrategy::fold_frozen);
  EXPECT_EQ(folded.state_dict().front().first, "conv.weight");  // no bn_frozen: never updates
}

TEST(ConvBn2d, BadInputGivesClearErrors) {
  const FloatPair f = make_pair(kPlain, DType::f32, 111);
  auto bn6 = std::make_shared<nn::BatchNorm2d>(6);
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, bn6, FoldStrategy::jacob), "ConvBn2d: conv has 4 output channels",
                      "bn has 6 features", "Conv2d(3, 4, kernel_size=(3, 3)", "BatchNorm2d(6,");
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, nullptr, FoldStrategy::none), "conv and bn must both be given", "bn null");
  auto plain = std::make_shared<nn::BatchNorm2d>(4, nn::BatchNormOptions{.affine = false});
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, plain, FoldStrategy::pytorch), "bn must be affine", "affine=False");
  auto bn64 = std::make_shared<nn::BatchNorm2d>(4, nn::BatchNormOptions{.dtype = DType::f64});
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, bn64, FoldStrategy::pytorch), "conv is f32 but bn is f64");
  auto wrong = std::make_shared<quant::FixedQuantizer>(quant::QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 3});
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, f.bn, FoldStrategy::jacob, wrong), "the weight quantizer is",
                      "per_channel(axis 0, 3)", "axis 0 with 4 channels");
  EXPECT_LOWBIT_ERROR(ConvBn2d(f.conv, f.bn, static_cast<FoldStrategy>(7)), "strategy 7 is not one of -1..4");
  // Batch statistics from one value per channel.
  for (FoldStrategy s : kTracking) {
    ConvBn2d m(make_pair(kPlain, DType::f32, 112).conv, make_pair(kPlain, DType::f32, 112).bn, s);
    EXPECT_LOWBIT_ERROR(m(random_tensor({1, 3, 1, 1}, DType::f32, 113)), "more than one value per channel",
                        "[1,4,1,1]");
  }
  // Wrong input channels: conv2d's own message.
  ConvBn2d m(f.conv, f.bn, FoldStrategy::fold_frozen);
  EXPECT_LOWBIT_ERROR(m(random_tensor({2, 5, 4, 4}, DType::f32, 114)), "conv2d");
  // The functional form checks its per-channel tensors.
  quant::ConvBnArgs a;
  a.weight = f.conv->weight, a.gamma = zeros({3}), a.beta = zeros({4});
  a.running_mean = zeros({4}), a.running_var = ones({4});
  EXPECT_LOWBIT_ERROR(quant::conv_bn_forward(FoldStrategy::jacob, a, random_tensor({2, 3, 4, 4}, DType::f32, 115),
                                             true, false),
                      "conv_bn_forward(jacob)", "must be [4]", "got [3]");
}

}  // namespace
}  // namespace lowbit
