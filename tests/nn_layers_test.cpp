// nn/ layers: each against the functional op it wraps or numbers worked out by hand, an
// f64 gradcheck of a small model through its parameters, init statistics and
// topk_correct. Module itself is in nn_module_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/grad_test_util.h"
#include "tests/nn_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::AddConst;
using test::all_close;
using test::bit_equal;
using test::max_abs;
using test::Mods;
using test::MulConst;
using test::names_of;
using test::Probe;
using test::random_tensor;
using test::Residual;

double sample_mean(const Tensor& t) { return raw::mean(t.to(DType::f64)).item(); }

// ---- layers ----

TEST(Conv2dLayer, ForwardIsTheFunctionalOp) {
  Generator gen{50, 0};
  nn::Conv2d plain(3, 5, 3, {.stride = {2, 2}, .padding = {1, 1}, .gen = &gen});
  EXPECT_EQ(plain.weight.sizes(), (Shape{5, 3, 3, 3}));
  EXPECT_EQ(plain.bias.sizes(), (Shape{5}));
  const Tensor x = random_tensor({2, 3, 9, 8}, DType::f32, 11);
  const Tensor y = plain(x);
  EXPECT_EQ(y.sizes(), (Shape{2, 5, 5, 4}));
  EXPECT_TRUE(bit_equal(conv2d(x, plain.weight, plain.bias, {2, 2}, {1, 1}), y, "stride 2 padding 1"));

  nn::Conv2d odd(4, 6, std::array<int64_t, 2>{3, 2},
                 {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2, .bias = false, .gen = &gen});
  EXPECT_EQ(odd.weight.sizes(), (Shape{6, 2, 3, 2}));
  EXPECT_FALSE(odd.bias.defined());
  EXPECT_EQ(names_of(odd.named_parameters()), std::vector<std::string>{"weight"});
  const Tensor x2 = random_tensor({2, 4, 7, 9}, DType::f32, 12);
  const Tensor y2 = odd(x2);
  EXPECT_EQ(y2.sizes(), (Shape{2, 6, 4, 7}));
  EXPECT_TRUE(bit_equal(conv2d(x2, odd.weight, Tensor(), {2, 1}, {1, 0}, {1, 2}, 2), y2, "strided dilated grouped"));

  // A 1x1 convolution is a linear map per pixel: an independent check of the numbers.
  nn::Conv2d pointwise(3, 2, 1, {.gen = &gen});
  const Tensor x3 = random_tensor({2, 3, 4, 5}, DType::f32, 13);
  const Tensor per_pixel =
      permute(linear(permute(x3, {0, 2, 3, 1}), reshape(pointwise.weight, {2, 3}), pointwise.bias), {0, 3, 1, 2});
  EXPECT_TRUE(all_close(per_pixel, pointwise(x3), 1e-5, 1e-6, "1x1 conv vs per-pixel linear"));
}

TEST(Conv2dLayer, BadArguments) {
  EXPECT_LOWBIT_ERROR(nn::Conv2d(4, 6, 3, {.groups = 4}), "Conv2d", "groups 4");
  EXPECT_LOWBIT_ERROR(nn::Conv2d(0, 6, 3), "Conv2d", "positive");
  nn::Conv2d conv(3, 4, 3);
  EXPECT_THROW(conv(zeros({1, 2, 5, 5})), Error);
}

TEST(LinearLayer, ForwardOn2dAnd3dInputs) {
  Generator gen{60, 0};
  nn::Linear lin(5, 4, {.gen = &gen});
  EXPECT_EQ(lin.weight.sizes(), (Shape{4, 5}));
  EXPECT_EQ(lin.bias.sizes(), (Shape{4}));
  const Tensor x = random_tensor({3, 5}, DType::f32, 14);
  const Tensor expected = add(matmul(x, transpose(lin.weight, 0, 1)), lin.bias);
  EXPECT_TRUE(all_close(expected, lin(x), 1e-6, 1e-6, "2-D"));

  const Tensor x3 = random_tensor({2, 3, 5}, DType::f32, 15);
  const Tensor y3 = lin(x3);
  ASSERT_EQ(y3.sizes(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_TRUE(all_close(add(matmul(x3.select(0, i), transpose(lin.weight, 0, 1)), lin.bias), y3.select(0, i), 1e-6,
                          1e-6, "3-D, batch " + std::to_string(i)));

  nn::Linear no_bias(5, 4, {.bias = false, .gen = &gen});
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(names_of(no_bias.named_parameters()), std::vector<std::string>{"weight"});
  EXPECT_TRUE(all_close(matmul(x, transpose(no_bias.weight, 0, 1)), no_bias(x), 1e-6, 1e-6, "no bias"));
  EXPECT_THROW(lin(zeros({3, 6})), Error);
  EXPECT_LOWBIT_ERROR(nn::Linear(0, 3), "Linear", "in_features 0");
}

// Expected batch-norm numbers, in f64 from the values: per channel of x [N, C, H, W].
struct ChannelStats {
  std::vector<double> mean, biased_var, unbiased_var;
};
ChannelStats channel_stats(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  const std::vector<double> v = x.to_vector<double>();
  ChannelStats s;
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) m += v[static_cast<size_t>((n * C + c) * HW + i)];
    m /= static_cast<double>(N * HW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) ss += std::pow(v[static_cast<size_t>((n * C + c) * HW + i)] - m, 2);
    s.mean.push_back(m);
    s.biased_var.push_back(ss / static_cast<double>(N * HW));
    s.unbiased_var.push_back(ss / static_cast<double>(N * HW - 1));
  }
  return s;
}

// (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]
Tensor normalised(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                  const std::vector<double>& gamma, const std::vector<double>& beta, double eps) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  std::vector<double> v = x.to_vector<double>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        double& e = v[static_cast<size_t>((n * C + c) * HW + i)];
        e = (e - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
      }
  return from_vector(v, x.sizes());
}

TEST(BatchNorm2dLayer, TrainUsesBatchStatsAndUpdatesRunningStatsEvalDoesNot) {
  EXPECT_EQ(nn::BatchNorm2d(3).options.momentum, 0.1);  // torch's default
  const double momentum = 0.3, eps = 1e-5;
  nn::BatchNorm2d bn(3, {.momentum = momentum, .dtype = DType::f64});
  EXPECT_EQ(names_of(bn.state_dict()),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  const std::vector<double> gamma = {0.5, 2.0, -1.0}, beta = {0.1, -0.2, 0.3};
  {
    Tensor g = bn.weight, b = bn.bias;
    g.copy_(from_vector(gamma));
    b.copy_(from_vector(beta));
  }
  EXPECT_EQ(bn.num_batches_tracked.item(), 0.0);

  const Tensor x1 = random_tensor({4, 3, 5, 5}, DType::f64, 16, -1, 3);
  const ChannelStats s1 = channel_stats(x1);
  EXPECT_TRUE(
      all_close(normalised(x1, s1.mean, s1.biased_var, gamma, beta, eps), bn(x1), 1e-10, 1e-12, "training output"));
  std::vector<double> rm(3), rv(3);
  for (size_t c = 0; c < 3; ++c) {
    rm[c] = (1 - momentum) * 0 + momentum * s1.mean[c];
    rv[c] = (1 - momentum) * 1 + momentum * s1.unbiased_var[c];
  }
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after 1 batch"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after 1 batch"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 1.0);

  const Tensor x2 = random_tensor({2, 3, 4, 4}, DType::f64, 17, -2, 1);
  const ChannelStats s2 = channel_stats(x2);
  bn(x2);
  for (size_t c = 0; c < 3; ++c) {
    rm[c] = (1 - momentum) * rm[c] + momentum * s2.mean[c];
    rv[c] = (1 - momentum) * rv[c] + momentum * s2.unbiased_var[c];
  }
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after 2 batches"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after 2 batches"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 2.0);

  // Eval: the running statistics normalise, and nothing moves.
  bn.eval();
  const Tensor y = bn(x1);
  EXPECT_TRUE(all_close(normalised(x1, rm, rv, gamma, beta, eps), y, 1e-10, 1e-12, "eval output"));
  bn(x2);
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after eval"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after eval"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 2.0);
}

TEST(BatchNorm2dLayer, BadInputAndFailedCallsAreNotCounted) {
  nn::BatchNorm2d bn(3);
  EXPECT_LOWBIT_ERROR(bn(zeros({4, 3, 5})), "BatchNorm2d(3)", "[4,3,5]");
  EXPECT_LOWBIT_ERROR(bn(zeros({4, 2, 5, 5})), "BatchNorm2d(3)", "[4,2,5,5]");
  // One value per channel cannot give a training variance; f64 input to an f32 layer.
  EXPECT_THROW(bn(zeros({1, 3, 1, 1})), Error);
  EXPECT_THROW(bn(zeros({2, 3, 2, 2}, DType::f64)), Error);
  EXPECT_EQ(bn.num_batches_tracked.item(), 0.0);
  EXPECT_EQ(max_abs(bn.running_mean), 0.0);
  EXPECT_EQ(max_abs(raw::sub(bn.running_var, 1.0)), 0.0);
  EXPECT_LOWBIT_ERROR(nn::BatchNorm2d(3, {.momentum = 1.5}), "BatchNorm2d", "momentum 1.5");

  nn::BatchNorm2d plain(2, {.affine = false});
  EXPECT_FALSE(plain.weight.defined());
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_EQ(names_of(plain.state_dict()),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  const Tensor x = random_tensor({3, 2, 2, 2}, DType::f32, 18);
  const ChannelStats s = channel_stats(x);
  EXPECT_TRUE(all_close(normalised(x, s.mean, s.biased_var, {1, 1}, {0, 0}, 1e-5), plain(x), 1e-5, 1e-5, "no affine"));
}

// BatchNorm2d followed by ReLU / ReLU6: in inference one fused pass (nn::batch_norm_act,
// also taken by Sequential), with the bits of the two modules; with grad mode on, in
// training, or for another activation module, the modules themselves run.
TEST(BatchNorm2dLayer, FusedActivationInInference) {
  auto bn = std::make_shared<nn::BatchNorm2d>(3);
  bn->weight.copy_(random_tensor({3}, DType::f32, 210));
  bn->bias.copy_(random_tensor({3}, DType::f32, 211));
  bn->running_mean.copy_(random_tensor({3}, DType::f32, 212));
  bn->running_var.copy_(random_tensor({3}, DType::f32, 213, 0.5, 2));
  const Tensor x = random_tensor({2, 3, 6, 7}, DType::f32, 214, -12, 12);
  bn->eval();
  for (bool six : {false, true}) {
    std::shared_ptr<nn::Module> act = six ? std::shared_ptr<nn::Module>(std::make_shared<nn::ReLU6>())
                                          : std::shared_ptr<nn::Module>(std::make_shared<nn::ReLU>());
    const Tensor expected = (*act)((*bn)(x));
    NoGradGuard no_grad;
    EXPECT_TRUE(bit_equal(expected, nn::batch_norm_act(*bn, *act, x), six ? "bn + relu6" : "bn + relu"));
    nn::Sequential seq({bn, act});
    EXPECT_TRUE(bit_equal(expected, seq(x), "Sequential(bn, act)"));
  }
  // The fused path is a shortcut only: a trace still sees both modules.
  {
    NoGradGuard no_grad;
    nn::Sequential seq({bn, std::make_shared<nn::ReLU>()});
    std::vector<std::string> seen;
    nn::ModuleTrace trace([&](const nn::Module& m, std::span<const Tensor>, const Tensor&) { seen.push_back(m.type()); });
    seq(x);
    EXPECT_EQ(seen, (std::vector<std::string>{"BatchNorm2d", "ReLU", "Sequential"}));
  }
  // Another module after the BatchNorm is called as it is, after the BatchNorm.
  {
    NoGradGuard no_grad;
    nn::Sequential seq({bn, std::make_shared<AddConst>(1.0)});
    EXPECT_TRUE(bit_equal(raw::add((*bn)(x), 1.0), seq(x), "Sequential(bn, AddConst)"));
  }
  // With grad mode on, the modules run (recorded): the gradient is theirs.
  Tensor x1 = x.contiguous(), x2 = x.contiguous();
  set_requires_grad(x1);
  set_requires_grad(x2);
  nn::ReLU6 relu6;
  backward(sum(nn::batch_norm_act(*bn, relu6, x1)));
  backward(sum(relu6((*bn)(x2))));
  ASSERT_TRUE(grad(x1).defined());
  EXPECT_TRUE(bit_equal(grad(x2), grad(x1), "gradient through batch_norm_act with grad mode on"));
}

TEST(ActivationLayers, ReluAndRelu6) {
  const Tensor x = from_vector<float>({-3, -0.5f, 0, 0.25f, 2, 6, 7.5f}, {7});
  EXPECT_TRUE(bit_equal(from_vector<float>({0, 0, 0, 0.25f, 2, 6, 7.5f}, {7}), nn::ReLU()(x), "ReLU"));
  EXPECT_TRUE(bit_equal(from_vector<float>({0, 0, 0, 0.25f, 2, 6, 6}, {7}), nn::ReLU6()(x), "ReLU6"));
}

TEST(PoolLayers, DefaultsAndFunctionalOps) {
  const Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 1, 4, 4});
  nn::MaxPool2d max_default({2, 2});
  EXPECT_EQ(max_default.stride, (nn::Pair{2, 2}));  // stride defaults to the kernel
  EXPECT_TRUE(bit_equal(from_vector<float>({5, 7, 13, 15}, {1, 1, 2, 2}), max_default(x), "MaxPool2d(2)"));
  nn::AvgPool2d avg_default({2, 2});
  EXPECT_EQ(avg_default.stride, (nn::Pair{2, 2}));
  EXPECT_TRUE(bit_equal(from_vector<float>({2.5f, 4.5f, 10.5f, 12.5f}, {1, 1, 2, 2}), avg_default(x), "AvgPool2d(2)"));

  const Tensor r = random_tensor({2, 3, 7, 6}, DType::f32, 19);
  nn::MaxPool2d max_odd({3, 2}, {2, 1}, {1, 1}, {1, 2});
  EXPECT_TRUE(bit_equal(max_pool2d(r, {3, 2}, {2, 1}, {1, 1}, {1, 2}), max_odd(r), "MaxPool2d with all arguments"));
  for (bool include_pad : {true, false}) {
    nn::AvgPool2d avg({3, 3}, {2, 2}, {1, 1}, include_pad);
    EXPECT_TRUE(bit_equal(avg_pool2d(r, {3, 3}, {2, 2}, {1, 1}, include_pad), avg(r),
                          include_pad ? "AvgPool2d count_include_pad" : "AvgPool2d !count_include_pad"));
  }
  // The two padding conventions differ at the border (a corner window has 4 of 9 inside).
  const Tensor in = nn::AvgPool2d({3, 3}, {2, 2}, {1, 1}, true)(x);
  const Tensor ex = nn::AvgPool2d({3, 3}, {2, 2}, {1, 1}, false)(x);
  EXPECT_FLOAT_EQ(in.reshape({-1}).select(0, 0).item(), (0 + 1 + 4 + 5) / 9.0);
  EXPECT_FLOAT_EQ(ex.reshape({-1}).select(0, 0).item(), (0 + 1 + 4 + 5) / 4.0);

  nn::AdaptiveAvgPool2d global({1, 1});
  const Tensor g = global(r);
  EXPECT_EQ(g.sizes(), (Shape{2, 3, 1, 1}));
  EXPECT_TRUE(all_close(mean(r, {2, 3}, true), g, 1e-6, 1e-6, "AdaptiveAvgPool2d(1, 1)"));
  EXPECT_TRUE(bit_equal(avg_default(x), nn::AdaptiveAvgPool2d({2, 2})(x), "AdaptiveAvgPool2d(2, 2) on 4x4"));
}

TEST(DropoutLayer, IdentityInEvalAndForPZero) {
  const Tensor x = random_tensor({4, 5}, DType::f32, 20);
  Generator gen{1, 0};
  nn::Dropout d(0.5, &gen);
  d.eval();
  EXPECT_TRUE(bit_equal(x, d(x), "eval"));
  nn::Dropout zero(0.0, &gen);
  EXPECT_TRUE(zero.is_training());
  EXPECT_TRUE(bit_equal(x, zero(x), "p = 0"));
  EXPECT_EQ(gen.offset, 0u);  // neither drew random numbers
  nn::Dropout all(1.0, &gen);
  EXPECT_EQ(max_abs(all(x)), 0.0);
  EXPECT_LOWBIT_ERROR(nn::Dropout(1.5), "Dropout", "1.5");
  EXPECT_LOWBIT_ERROR(nn::Dropout(-0.1), "Dropout");
}

// StochasticDepth (mode "row"): whole samples are kept, scaled by 1 / (1 - p), or zeroed;
// the gradient is the same per-sample factor; eval and p = 0 are the identity.
TEST(StochasticDepthLayer, DropsWholeSamplesAndScalesTheRest) {
  const int64_t n = 2000;
  Tensor x = add(random_tensor({n, 3, 2, 2}, DType::f64, 21), 5.0);  // no zeros of its own
  set_requires_grad(x);
  Generator gen{7, 0};
  const double p = 0.25;
  nn::StochasticDepth sd(p, &gen);
  const Tensor y = sd(x);
  backward(sum(y));
  const std::vector<double> xs = x.to_vector<double>(), ys = y.to_vector<double>(), gs = grad(x).to_vector<double>();
  int64_t kept = 0;
  for (int64_t s = 0; s < n; ++s) {
    const double factor = ys[static_cast<size_t>(s * 12)] / xs[static_cast<size_t>(s * 12)];
    ASSERT_TRUE(factor == 0 || std::abs(factor - 1 / (1 - p)) < 1e-12) << "sample " << s << ": " << factor;
    kept += factor != 0;
    for (size_t j = static_cast<size_t>(s * 12); j < static_cast<size_t>(s * 12 + 12); ++j) {
      EXPECT_NEAR(ys[j], factor * xs[j], 1e-12);
      EXPECT_EQ(gs[j], factor == 0 ? 0.0 : 1 / (1 - p));
    }
  }
  // Kept fraction 0.75: the binomial standard deviation over 2000 samples is ~0.0097.
  EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 0.04);
  sd.eval();
  EXPECT_TRUE(bit_equal(x, sd(x), "eval"));
  nn::StochasticDepth off(0.0, &gen);
  EXPECT_TRUE(bit_equal(x, off(x), "p = 0"));
  EXPECT_LOWBIT_ERROR(nn::StochasticDepth(1.0), "StochasticDepth", "1");
}

TEST(DropoutLayer, MaskStatisticsWithASeededGenerator) {
  const double p = 0.3;
  const int64_t n = 100'000;
  const Tensor x = ones({n});
  Generator gen{123, 0};
  nn::Dropout d(p, &gen);
  const Tensor y = d(x);
  EXPECT_GT(gen.offset, 0u);
  const float kept = static_cast<float>(1 / (1 - p));
  int64_t zeros_count = 0, kept_count = 0;
  for (float v : y.to_vector<float>()) {
    zeros_count += v == 0;
    kept_count += std::fabs(v - kept) <= 1e-6f;
  }
  EXPECT_EQ(zeros_count + kept_count, n);  // every element is 0 or 1 / (1 - p)
  // The fraction dropped is p within 0.01 (7 standard deviations for 100k draws).
  EXPECT_NEAR(static_cast<double>(zeros_count) / n, p, 0.01);
  EXPECT_NEAR(sample_mean(y), 1.0, 0.02);  // inverted dropout keeps the expectation

  // Same (seed, offset): the same mask; the generator moved on: another mask.
  Generator again{123, 0};
  nn::Dropout d2(p, &again);
  EXPECT_TRUE(bit_equal(y, d2(x), "same seed"));
  EXPECT_FALSE(bit_equal(y, d(x), "next draw"));
}

TEST(StructuralLayers, FlattenIdentitySequential) {
  const Tensor x = random_tensor({2, 3, 4, 5}, DType::f32, 21);
  EXPECT_TRUE(bit_equal(x.reshape({2, 60}), nn::Flatten()(x), "Flatten()"));
  EXPECT_TRUE(bit_equal(x.reshape({2, 12, 5}), nn::Flatten(1, 2)(x), "Flatten(1, 2)"));
  EXPECT_TRUE(bit_equal(x.reshape({120}), nn::Flatten(0)(x), "Flatten(0)"));
  EXPECT_TRUE(nn::Identity()(x).same_impl(x));

  // (x + 1) * 3 - 2 != x * 3 + 1 - 2 ...: the children run in index order.
  auto seq = std::make_shared<nn::Sequential>(Mods{std::make_shared<AddConst>(1), std::make_shared<MulConst>(3)});
  auto last = seq->push_back(std::make_shared<AddConst>(-2));
  EXPECT_EQ(seq->size(), 3);
  EXPECT_EQ(seq->child("2"), last);
  std::vector<std::string> names;
  for (const auto& [name, m] : seq->children()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0", "1", "2"}));
  const Tensor v = from_vector<float>({0, 1, 2}, {3});
  EXPECT_TRUE(bit_equal(from_vector<float>({1, 4, 7}, {3}), (*seq)(v), "Sequential order"));
  EXPECT_TRUE(bit_equal(v, nn::Sequential()(v), "empty Sequential"));
}

TEST(MergeLayers, AddAndConcat) {
  nn::Add add_layer;
  const Tensor a = random_tensor({2, 3}, DType::f32, 22), b = random_tensor({2, 3}, DType::f32, 23);
  EXPECT_TRUE(bit_equal(raw::add(a, b), add_layer(a, b), "Add"));
  EXPECT_LOWBIT_ERROR(add_layer(a, zeros({3})), "Add", "[2,3]", "[3]");  // no broadcasting
  EXPECT_LOWBIT_ERROR(add_layer(a, zeros({3, 2})), "Add", "[2,3]", "[3,2]");
  EXPECT_LOWBIT_ERROR(static_cast<nn::Module&>(add_layer)(a), "Add");  // no one-input call

  nn::Concat cat_layer;  // channels
  const Tensor p = random_tensor({2, 1, 2, 2}, DType::f32, 24), q = random_tensor({2, 3, 2, 2}, DType::f32, 25);
  const Tensor y = cat_layer({p, q});
  ASSERT_EQ(y.sizes(), (Shape{2, 4, 2, 2}));
  EXPECT_TRUE(bit_equal(p, y.narrow(1, 0, 1).contiguous(), "first input"));
  EXPECT_TRUE(bit_equal(q, y.narrow(1, 1, 3).contiguous(), "second input"));
  EXPECT_LOWBIT_ERROR(cat_layer({}), "Concat", "no inputs");
  EXPECT_THROW(cat_layer({p, zeros({2, 1, 3, 2})}), Error);
  EXPECT_EQ(nn::Concat(2)({p, p}).sizes(), (Shape{2, 1, 4, 2}));
}

// Conv2d -> BatchNorm2d (training) -> ReLU -> AvgPool2d -> Flatten -> Linear in f64: the
// Jacobian of the output with respect to the input and every parameter. gradcheck
// differentiates its own copies of the inputs, so the layers' parameter handles point at
// those copies while f runs (and are restored afterwards).
TEST(NnGradcheck, SmallSequentialWrtParametersAndInput) {
  Generator gen{70, 0};
  auto conv =
      std::make_shared<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = {1, 1}, .dtype = DType::f64, .gen = &gen});
  auto bn = std::make_shared<nn::BatchNorm2d>(3, nn::BatchNormOptions{.dtype = DType::f64});
  auto lin = std::make_shared<nn::Linear>(12, 2, nn::LinearOptions{.dtype = DType::f64, .gen = &gen});
  nn::Sequential model(Mods{conv, bn, std::make_shared<nn::ReLU>(), std::make_shared<nn::AvgPool2d>(nn::Pair{2, 2}),
                            std::make_shared<nn::Flatten>(), lin});
  ASSERT_TRUE(bn->is_training());
  std::vector<Tensor*> slots = {&conv->weight, &conv->bias, &bn->weight, &bn->bias, &lin->weight, &lin->bias};
  const std::vector<Tensor> params = model.parameters();
  ASSERT_EQ(params.size(), slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    ASSERT_TRUE(slots[i]->same_impl(params[i])) << i;
    ASSERT_EQ(slots[i]->dtype(), DType::f64) << i;
  }

  std::vector<Tensor> inputs = {random_tensor({2, 2, 4, 4}, DType::f64, 26)};
  for (const Tensor* s : slots) inputs.push_back(s->clone());
  inputs[3] = random_tensor({3}, DType::f64, 27, 0.5, 1.5);   // gamma away from 1
  inputs[4] = random_tensor({3}, DType::f64, 28, -0.5, 0.5);  // beta away from 0
  auto f = [&](const std::vector<Tensor>& in) {
    std::vector<Tensor> saved;
    for (size_t i = 0; i < slots.size(); ++i) {
      saved.push_back(*slots[i]);
      *slots[i] = in[i + 1];
    }
    auto restore = [&] {
      for (size_t i = 0; i < slots.size(); ++i) *slots[i] = saved[i];
    };
    try {
      Tensor y = model(in[0]);
      restore();
      return y;
    } catch (...) {
      restore();
      throw;
    }
  };
  EXPECT_TRUE(test::grad_ok(f, inputs, "Conv2d-BatchNorm2d-ReLU-AvgPool2d-Flatten-Linear"));
  for (size_t i = 0; i < slots.size(); ++i) EXPECT_TRUE(slots[i]->same_impl(params[i])) << i;

  // Through the registered parameters themselves: backward reaches every one of them.
  backward(sum(model(inputs[0])));
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(grad(p).defined()) << name;
}

// ---- metrics ----

TEST(Metrics, TopkCorrectWithTies) {
  // Rank of the target = classes with a larger logit + equal logits at a lower index.
  const std::vector<double> logits = {
      0.1, 0.9, 0.3, 0.2, 0.0, -1,   // target 1: rank 0
      1,   1,   1,   1,   1,   1,    // target 0: rank 0 (ties: lower index first)
      1,   1,   1,   1,   1,   1,    // target 5: rank 5
      0.5, 0.2, 0.5, 0.1, 0.0, 0.0,  // target 2: rank 1 (index 0 ties and ranks first)
      3,   2,   1,   0,   -1,  -2,   // target 4: rank 4
      0,   0,   0,   0,   0,   1,    // target 4: rank 5 (index 5 above, 0..3 tie lower)
  };
  const std::vector<int64_t> target = {1, 0, 5, 2, 4, 4};
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x = from_vector(logits, {6, 6}).to(dtype);
    const Tensor t = from_vector(target);
    EXPECT_EQ(nn::topk_correct(x, t, 1), 2);
    EXPECT_EQ(nn::topk_correct(x, t, 2), 3);
    EXPECT_EQ(nn::topk_correct(x, t, 4), 3);
    EXPECT_EQ(nn::topk_correct(x, t, 5), 4);
    EXPECT_EQ(nn::topk_correct(x, t, 6), 6);
    EXPECT_EQ(nn::topk_correct(x, t, 100), 6);
    EXPECT_EQ(nn::topk_correct(x, t.to(DType::i32), 1), 2);
  }
  // A non-contiguous view of the logits ranks the same values.
  const Tensor xt = from_vector(logits, {6, 6}).t().contiguous().t();
  EXPECT_EQ(nn::topk_correct(xt, from_vector(target), 2), 3);
}

TEST(Metrics, TopkCorrectErrors) {
  const Tensor x = zeros({3, 4});
  const Tensor t = from_vector<int64_t>({0, 1, 3});
  EXPECT_LOWBIT_ERROR(nn::topk_correct(zeros({4}), t, 1), "topk_correct", "[4]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 1}), 1), "topk_correct", "[3,4]", "[2]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, zeros({3, 1}, DType::i64), 1), "topk_correct", "[3,1]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 4, 1}), 1), "topk_correct", "target[1] = 4",
                      "[0, 4)");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 1, -1}), 1), "target[2] = -1");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, t, 0), "topk_correct", "k must be >= 1", "0");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, t, -3), "k must be >= 1");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<float>({0, 1.5f, 3}), 1), "topk_correct", "f32");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(Tensor(), t, 1), "topk_correct", "undefined");
}

}  // namespace
}  // namespace lowbit
