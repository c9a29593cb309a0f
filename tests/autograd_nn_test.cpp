// The neural-network ops of autograd/ops.h: pooling, batch norm, hardtanh/relu6,
// softmax/log_softmax, cross_entropy, dropout, cat/stack/pad. For each: gradcheck in f64
// (DESIGN.md contract 3), values against numbers worked out by hand in the comments,
// and the error messages.
//
// Inputs stay away from the non-differentiable points: max pooling gets distinct values
// 0.1 apart (no ties within eps = 1e-6), hardtanh/relu6 inputs are >= 0.1 from the bounds.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::random_strided;
using test::random_tensor;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

using test::grad_ok;

Tensor r64(const Shape& sizes, uint64_t seed, double lo = -2, double hi = 2) {
  return random_tensor(sizes, DType::f64, seed, lo, hi);
}

// The values 0.1 * (k - numel/2), k = 0..numel-1, in a random order: no two within 0.1.
Tensor distinct(const Shape& sizes, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(shape_numel(sizes)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = 0.1 * (static_cast<double>(k) - static_cast<double>(v.size()) / 2);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return from_vector(v, sizes);
}

Tensor leaf(Tensor t) {
  set_requires_grad(t);
  return t;
}

// ---- pooling ----

TEST(AutogradNN, PoolingGradcheck) {
  const Tensor x = distinct({2, 2, 7, 6}, 1);
  // Overlapping windows (kernel 3, stride 2) with padding: an element can be the maximum
  // of several windows and its gradient is their sum.
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); }, {x},
                      "max_pool2d k3 s2 p1"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2, 3}, {1, 2}, {1, 0}, {2, 1}); },
                      {x}, "max_pool2d dilated"));
  for (bool include_pad : {true, false})
    EXPECT_TRUE(grad_ok(
        [include_pad](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, include_pad); },
        {r64({2, 2, 7, 6}, 2)}, include_pad ? "avg_pool2d count_include_pad" : "avg_pool2d"));
  // Uneven adaptive bins: 7 -> 3 averages rows [0,3), [2,5), [4,7) (overlapping), 6 -> 4 columns.
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 4}); },
                      {r64({2, 2, 7, 6}, 3)}, "adaptive_avg_pool2d 7x6 -> 3x4"));
  Tensor strided = random_strided({1, 2, 5, 5}, DType::f64, 0);
  strided.copy_(distinct({1, 2, 5, 5}, 4));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); },
                      {strided}, "max_pool2d (strided)"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {2, 3}); }, {strided},
                      "adaptive_avg_pool2d (strided)"));
}

TEST(AutogradNN, MaxPoolGradientGoesToTheMaximumOfEachWindow) {
  // One 1x4 row, kernel 1x2, stride 1: windows (1,4) (4,2) (2,3); 4 wins twice.
  Tensor x = leaf(from_vector<double>({1, 4, 2, 3}, {1, 1, 1, 4}));
  backward(sum(max_pool2d(x, {1, 2}, {1, 1})));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 2, 0, 1}));
}

// ---- batch norm ----

TEST(AutogradNN, BatchNormTrainGradcheck) {
  const Tensor x = r64({3, 2, 2, 2}, 11), gamma = r64({2}, 12, 0.5, 2), beta = r64({2}, 13);
  // No running statistics: nothing is updated between gradcheck's evaluations.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); },
      {x, gamma, beta}, "batch_norm train"));
  // Running statistics made fresh inside f: each evaluation updates its own copies.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        const Tensor running_mean = zeros({2}, DType::f64), running_var = ones({2}, DType::f64);
        return batch_norm(in[0], in[1], in[2], running_mean, running_var, true, 0.1, 1e-3);
      },
      {x, gamma, beta}, "batch_norm train with running stats"));
  // Shared running statistics with momentum 0 stay exactly as they were.
  const Tensor running_mean = r64({2}, 14), running_var = r64({2}, 15, 0.5, 2);
  const std::vector<double> mean_before = running_mean.to_vector<double>();
  const std::vector<double> var_before = running_var.to_vector<double>();
  EXPECT_TRUE(grad_ok(
      [&](const std::vector<Tensor>& in) {
        return batch_norm(in[0], in[1], Tensor(), running_mean, running_var, true, /*momentum=*/0);
      },
      {x, gamma}, "batch_norm train, momentum 0, no beta"));
  EXPECT_EQ(running_mean.to_vector<double>(), mean_before);
  EXPECT_EQ(running_var.to_vector<double>(), var_before);
  // [N, C] input (BatchNorm1d), no affine; and a strided input.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
      {r64({5, 3}, 16)}, "batch_norm train [N, C], no affine"));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); },
      {random_strided({2, 3, 2, 3}, DType::f64, 17), r64({3}, 18), r64({3}, 19)}, "batch_norm train (strided)"));
}

TEST(AutogradNN, BatchNormEvalGradcheck) {
  const Tensor running_mean = r64({2}, 21), running_var = r64({2}, 22, 0.5, 2);
  EXPECT_TRUE(grad_ok(
      [&](const std::vector<Tensor>& in) {
        return batch_norm(in[0], in[1], in[2], running_mean, running_var, false);
      },
      {r64({3, 2, 2, 2}, 23), r64({2}, 24), r64({2}, 25)}, "batch_norm eval"));
  EXPECT_TRUE(grad_ok(
      [&](const std::vector<Tensor>& in) {
        return batch_norm(in[0], Tensor(), Tensor(), running_mean, running_var, false);
      },
      {r64({4, 2}, 26)}, "batch_norm eval [N, C], no affine"));
}

TEST(AutogradNN, BatchNormUpdatesRunningStatsAndEvalUsesThem) {
  // x [4, 2]: channel 0 = {1, 2, 3, 4} (mean 2.5, biased var 1.25, unbiased 5/3),
  //           channel 1 = {0, 0, 2, 2} (mean 1,   biased var 1,    unbiased 4/3).
  Tensor x = leaf(from_vector<double>({1, 0, 2, 0, 3, 2, 4, 2}, {4, 2}));
  Tensor gamma = leaf(from_vector<double>({2, 1})), beta = leaf(from_vector<double>({0.5, 0}));
  Tensor running_mean = zeros({2}, DType::f64), running_var = ones({2}, DType::f64);
  const double eps = 1e-5;
  const Tensor y = batch_norm(x, gamma, beta, running_mean, running_var, true, 0.1, eps);
  // running = 0.9 running + 0.1 batch statistic (unbiased variance)
  EXPECT_TRUE(all_close(from_vector<double>({0.25, 0.1}), running_mean, 1e-15, 0, "running_mean"));
  EXPECT_TRUE(all_close(from_vector<double>({0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 4 / 3}), running_var, 1e-15, 0,
                        "running_var"));
  // y[0, 0] = (1 - 2.5) / sqrt(1.25 + eps) * 2 + 0.5, y[0, 1] = (0 - 1) / sqrt(1 + eps)
  const std::vector<double> yv = y.to_vector<double>();
  EXPECT_NEAR(yv[0], -1.5 / std::sqrt(1.25 + eps) * 2 + 0.5, 1e-14);
  EXPECT_NEAR(yv[1], -1 / std::sqrt(1 + eps), 1e-14);
  // Gradients reach x, gamma and beta; the running statistics are buffers.
  backward(sum(y));
  EXPECT_TRUE(all_close(from_vector<double>({4, 4}), grad(beta), 1e-15, 0, "dbeta = sum dy"));
  EXPECT_TRUE(all_close(zeros({2}, DType::f64), grad(gamma), 0, 1e-12, "dgamma = sum xhat = 0"));
  EXPECT_TRUE(all_close(zeros({4, 2}, DType::f64), grad(x), 0, 1e-12, "dx of sum(y) in training = 0"));
  EXPECT_FALSE(requires_grad(running_mean));

  // Eval normalises with the running statistics: y = (x - 0.25) / sqrt(var_0 + eps) * 2 + 0.5.
  const double var0 = 0.9 + 0.1 * 5 / 3;
  const Tensor ye = batch_norm(x, gamma, beta, running_mean, running_var, false, 0.1, eps);
  EXPECT_NEAR(ye.to_vector<double>()[0], (1 - 0.25) / std::sqrt(var0 + eps) * 2 + 0.5, 1e-14);
  EXPECT_TRUE(all_close(from_vector<double>({0.25, 0.1}), running_mean, 0, 0, "eval leaves running_mean alone"));
  zero_grad(x);
  backward(sum(ye));  // eval: dx = gamma * invstd
  EXPECT_NEAR(grad(x).to_vector<double>()[0], 2 / std::sqrt(var0 + eps), 1e-14);
}

// ---- activations ----

TEST(AutogradNN, HardtanhAndRelu6Gradcheck) {
  // Each value >= 0.1 from the bounds -1, 1 and 0, 6.
  const Tensor a = from_vector<double>({-2.5, -1.2, -0.9, -0.3, 0.2, 0.85, 1.1, 3.0}, {2, 4});
  const Tensor b = from_vector<double>({-1.5, -0.2, 0.3, 2.5, 5.7, 5.9, 6.2, 8.0}, {2, 4});
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return hardtanh(in[0]); }, {a}, "hardtanh"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return hardtanh(in[0], -0.5, 2); }, {a},
                      "hardtanh(-0.5, 2)"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return relu6(in[0]); }, {b}, "relu6"));
}

TEST(AutogradNN, Relu6ValuesAndZeroGradientAtTheBounds) {
  Tensor x = leaf(from_vector<double>({-1, 0, 3, 6, 7}));
  const Tensor y = relu6(x);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 0, 3, 6, 6}));
  backward(sum(y));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 0, 1, 0, 0}));  // PyTorch: 0 at the bounds
  EXPECT_EQ(grad_fn(y)->name, "relu6");
}

TEST(AutogradNN, ReluAndHardtanhGradientsAtNaNAndTheBounds) {
  // The one-pass grad masks (raw::relu_backward / hardtanh_backward) keep the semantics
  // of where(y > 0, gy, 0) and where(lo < x < hi, gy, 0): a NaN input gets gradient +0,
  // so do the bounds and relu's +-0. f32, so the SIMD rows of the binary kernel run.
  const float nan = std::nanf("");
  Tensor x = leaf(from_vector<float>({nan, -0.0f, 0.0f, 1e-40f, -1, 0.5f, 1, 3, 6, 7}));
  backward(sum(relu(x)));
  EXPECT_EQ(grad(x).to_vector<float>(), (std::vector<float>{0, 0, 0, 1, 0, 1, 1, 1, 1, 1}));
  EXPECT_FALSE(std::signbit(grad(x).to_vector<float>()[0]));
  zero_grad(x);
  backward(sum(relu6(x)));
  EXPECT_EQ(grad(x).to_vector<float>(), (std::vector<float>{0, 0, 0, 1, 0, 1, 1, 1, 0, 0}));
  zero_grad(x);
  backward(sum(hardtanh(x, -1, 1)));
  EXPECT_EQ(grad(x).to_vector<float>(), (std::vector<float>{0, 1, 1, 1, 0, 1, 0, 0, 0, 0}));
}

// ---- softmax ----

TEST(AutogradNN, SoftmaxGradcheck) {
  for (int64_t dim : {0, -1}) {
    EXPECT_TRUE(grad_ok([dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {r64({3, 4}, 31)},
                        str_cat("softmax dim ", dim)));
    EXPECT_TRUE(grad_ok([dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {r64({3, 4}, 32)},
                        str_cat("log_softmax dim ", dim)));
  }
  const Tensor strided = random_strided({2, 3, 4}, DType::f64, 33);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {strided}, "softmax (strided)"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {strided},
                      "log_softmax (strided)"));
}

TEST(AutogradNN, SoftmaxIsStableForLargeInputs) {
  // softmax(1000, 1001) = (1, e) / (1 + e); log_softmax(-1000, 0) = (-1000 - log(1 + e^-1000), -log(1 + e^-1000)).
  const double e = std::exp(1.0);
  EXPECT_TRUE(all_close(from_vector<double>({1 / (1 + e), e / (1 + e)}), softmax(from_vector<double>({1000, 1001}), 0),
                        1e-15, 0, "softmax of large values"));
  EXPECT_TRUE(all_close(from_vector<double>({-1000, 0}), log_softmax(from_vector<double>({-1000, 0}), -1), 1e-15, 0,
                        "log_softmax of a large spread"));
  EXPECT_TRUE(all_close(from_vector<float>({0.5f, 0.5f}), softmax(from_vector<float>({1e30f, 1e30f}), 0), 0, 0,
                        "softmax f32 near the top of the range"));
}

// ---- cross entropy ----

TEST(AutogradNN, CrossEntropyGradcheck) {
  const Tensor logits = r64({4, 5}, 41), target = from_vector<int64_t>({2, 0, 4, 2});
  for (double smoothing : {0.0, 0.1, 1.0})
    for (Reduction reduction : {Reduction::mean, Reduction::sum, Reduction::none}) {
      const Fn f = [=](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], smoothing, reduction); };
      EXPECT_TRUE(grad_ok(f, {logits, target},
                          str_cat("cross_entropy smoothing ", smoothing, " reduction ", static_cast<int>(reduction))));
    }
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], 0.2); },
                      {random_strided({3, 4}, DType::f64, 42), from_vector<int64_t>({3, 1, 0})},
                      "cross_entropy (strided logits)"));
}

TEST(AutogradNN, CrossEntropyValues) {
  // Row 0: logits (1, 2, 3), label 2: nll = log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = 0.40760596444438...
  // Row 1: logits (1, 1, 1), label 0: nll = log 3 = 1.09861228866810...
  const Tensor logits = from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3}), target = from_vector<int64_t>({2, 0});
  const double nll0 = 0.4076059644443804, nll1 = 1.0986122886681098;
  EXPECT_NEAR(cross_entropy(logits, target).item(), (nll0 + nll1) / 2, 1e-15);
  EXPECT_NEAR(cross_entropy(logits, target, 0, Reduction::sum).item(), nll0 + nll1, 1e-15);
  EXPECT_TRUE(all_close(from_vector<double>({nll0, nll1}), cross_entropy(logits, target, 0, Reduction::none), 1e-15, 0,
                        "per sample"));
  // Label smoothing 0.1: loss_n = 0.9 nll_n + 0.1 mean_c(-logp[n, c]). Row 0: -logp = nll0 + (2, 1, 0), mean
  // nll0 + 1, so loss_0 = nll0 + 0.1; row 1: every -logp is log 3, loss_1 = nll1.
  EXPECT_NEAR(cross_entropy(logits, target, 0.1).item(), (nll0 + 0.1 + nll1) / 2, 1e-15);
  EXPECT_NEAR(cross_entropy(logits.to(DType::f32), target, 0.1).item(), (nll0 + 0.1 + nll1) / 2, 1e-6);
  // Gradient of the mean: (softmax - q) / N, q = 0.9 one_hot + 0.1 / 3.
  Tensor x = leaf(logits.clone());
  backward(cross_entropy(x, target, 0.1));
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const std::vector<double> expected = {(std::exp(1.0) / z - 0.1 / 3) / 2, (std::exp(2.0) / z - 0.1 / 3) / 2,
                                        (std::exp(3.0) / z - 0.9 - 0.1 / 3) / 2, (1.0 / 3 - 0.9 - 0.1 / 3) / 2,
                                        (1.0 / 3 - 0.1 / 3) / 2, (1.0 / 3 - 0.1 / 3) / 2};
  EXPECT_TRUE(all_close(from_vector<double>(expected, {2, 3}), grad(x), 1e-14, 1e-16, "d loss / d logits"));
}

// ---- dropout ----

TEST(AutogradNN, DropoutGradcheckWithAFixedMask) {
  // The generator is made inside f, so every evaluation draws the same mask.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        Generator gen{42, 0};
        return dropout(in[0], 0.3, true, &gen);
      },
      {r64({4, 5}, 51)}, "dropout p 0.3"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return dropout(in[0], 1, true); }, {r64({3}, 52)},
                      "dropout p 1"));
}

TEST(AutogradNN, DropoutMaskScalingAndIdentity) {
  const double p = 0.25;
  const Tensor x = r64({100, 100}, 53, 0.5, 2);
  Generator g1{7, 0}, g2{7, 0};
  const Tensor y = dropout(x, p, true, &g1);
  EXPECT_TRUE(test::bit_equal(y, dropout(x, p, true, &g2), "same seed, same mask"));
  EXPECT_GT(g1.offset, 0u);
  // Every element is dropped (0) or kept and scaled by 1 / (1 - p); about 1 - p are kept.
  const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int64_t kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0) continue;
    ++kept;
    ASSERT_NEAR(yv[i], xv[i] / (1 - p), 1e-15) << "element " << i;
  }
  EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(xv.size()), 1 - p, 0.02);
  // Eval mode and p = 0: the input itself, nothing drawn. p = 1: zeros, nothing drawn.
  Generator g3{7, 0};
  EXPECT_TRUE(dropout(x, p, false, &g3).same_impl(x));
  EXPECT_TRUE(dropout(x, 0, true, &g3).same_impl(x));
  Tensor a = leaf(r64({3}, 54));
  const Tensor zero = dropout(a, 1, true, &g3);
  EXPECT_EQ(zero.to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(g3.offset, 0u);
  backward(sum(zero));
  EXPECT_EQ(grad(a).to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

// ---- cat, stack, pad ----

TEST(AutogradNN, CatStackPadGradcheck) {
  const Tensor a = r64({2, 3, 2}, 61), b = r64({2, 1, 2}, 62), c = random_strided({2, 2, 2}, DType::f64, 63);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return cat(in, 1); }, {a, b, c}, "cat dim 1"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return cat(in, 0); }, {a, r64({1, 3, 2}, 64)}, "cat dim 0"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return cat(in, -1); }, {a, r64({2, 3, 3}, 65)},
                      "cat dim -1"));
  // A constant among the inputs gets no gradient; the others still do.
  const Tensor constant = r64({2, 2, 2}, 66);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return cat({in[0], constant, in[1]}, 1); }, {a, b},
                      "cat with a constant"));
  for (int64_t dim : {0, 1, 3, -1})
    EXPECT_TRUE(grad_ok([dim](const std::vector<Tensor>& in) { return stack(in, dim); }, {a, r64({2, 3, 2}, 67),
                        random_strided({2, 3, 2}, DType::f64, 68)}, str_cat("stack dim ", dim)));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return pad(in[0], {1, 2, 0, 3}); }, {r64({2, 1, 3, 2}, 69)},
                      "pad"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return pad(in[0], {0, 1, 2, 0}); },
                      {random_strided({3, 4}, DType::f64, 70)}, "pad (strided, 2-D)"));
}

TEST(AutogradNN, CatStackPadValues) {
  const Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2}), b = from_vector<double>({5, 6}, {2, 1});
  EXPECT_EQ(cat({a, b}, 1).to_vector<double>(), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(cat({a, b.transpose(0, 1)}, 0).sizes(), (Shape{3, 2}));
  const Tensor s = stack({a, a * 10.0}, 2);
  EXPECT_EQ(s.sizes(), (Shape{2, 2, 2}));
  EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40}));
  // pad {left 1, right 0, top 0, bottom 1} of [[1, 2], [3, 4]]
  EXPECT_EQ(pad(a, {1, 0, 0, 1}).to_vector<double>(), (std::vector<double>{0, 1, 2, 0, 3, 4, 0, 0, 0}));
}

// ---- errors ----

TEST(AutogradNN, ErrorMessages) {
  const Tensor logits = zeros({3, 4}, DType::f64);
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, from_vector<int64_t>({0, 4, 1})), "cross_entropy: target[1] = 4",
                      "4 classes", "0 <= label < 4");
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, from_vector<int64_t>({0, 1, -1})), "cross_entropy: target[2] = -1",
                      "4 classes");
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, from_vector<int32_t>({0, 1, 2})),
                      "cross_entropy: target must hold i64 class indices, got [3] i32 cpu", "logits [3,4] f64 cpu");
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, from_vector<int64_t>({0, 1})),
                      "cross_entropy: target [2] i64 cpu should be [3]", "logits [3,4] f64 cpu");
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, zeros({3, 1}, DType::i64)), "cross_entropy: target [3,1] i64 cpu");
  EXPECT_LOWBIT_ERROR(cross_entropy(zeros({4}, DType::f64), zeros({4}, DType::i64)),
                      "cross_entropy: logits must be a 2-D f32 or f64 tensor [N, C], got [4] f64 cpu");
  EXPECT_LOWBIT_ERROR(cross_entropy(logits, zeros({3}, DType::i64), 1.5),
                      "cross_entropy: label_smoothing must be in [0, 1], got 1.5");

  const Tensor a = zeros({2, 3}, DType::f64);
  EXPECT_LOWBIT_ERROR(cat({}, 0), "cat: expected a non-empty list of tensors");
  EXPECT_LOWBIT_ERROR(cat({a, zeros({2, 4}, DType::f64)}, 0), "cat: tensor 1 [2,4] does not match tensor 0 [2,3]",
                      "every dim except dim 0");
  EXPECT_LOWBIT_ERROR(cat({a, zeros({2, 3, 1}, DType::f64)}, 1), "cat: tensor 1 [2,3,1] does not match tensor 0 [2,3]");
  EXPECT_LOWBIT_ERROR(cat({a, zeros({2, 3}, DType::f32)}, 1), "cat: tensor 1 is f32 but tensor 0 is f64");
  EXPECT_LOWBIT_ERROR(cat({a}, 2), "cat: dim 2 is out of range for a tensor with 2 dims");
  EXPECT_LOWBIT_ERROR(stack({a, zeros({3, 2}, DType::f64)}), "stack: tensor 1 [3,2] does not match tensor 0 [2,3]",
                      "one shape");
  EXPECT_LOWBIT_ERROR(pad(a, {1, -1, 0, 0}), "pad: padding amounts must be non-negative",
                      "{left 1, right -1, top 0, bottom 0}", "[2,3] f64 cpu");
  EXPECT_LOWBIT_ERROR(dropout(a, 1.5, true), "dropout: probability p must be in [0, 1], got 1.5");
  EXPECT_LOWBIT_ERROR(dropout(a, -0.1, false), "dropout: probability p must be in [0, 1], got -0.1");
  EXPECT_LOWBIT_ERROR(hardtanh(a, 1, -1), "hardtanh: min_val 1 is greater than max_val -1");
  EXPECT_LOWBIT_ERROR(softmax(a, 2), "softmax: dim 2 is out of range");
}

}  // namespace
}  // namespace lowbit
