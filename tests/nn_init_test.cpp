// nn/init.h: Kaiming normal and uniform statistics (std, bound, fan modes, gain), the
// default Conv2d / Linear bounds, seeded reproducibility, fans and errors.
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

using test::bit_equal;
using test::max_abs;

double sample_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  double mean = 0, ss = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}


double sample_mean(const Tensor& t) { return raw::mean(t.to(DType::f64)).item(); }

TEST(Init, KaimingNormalStatistics) {
  // fan_in = 128 * 9 = 1152, fan_out = 64 * 9 = 576: stds differ by sqrt(2), far more
  // than the 3% tolerance (the sampling error of the std of 73728 draws is about 0.3%).
  Tensor w = empty({64, 128, 3, 3});
  const void* data = w.data_ptr();
  Generator gen{80, 0};
  struct Case {
    nn::FanMode mode;
    double slope, expected;
  };
  for (const Case& c :
       {Case{nn::FanMode::fan_in, 0, std::sqrt(2.0 / 1152)}, Case{nn::FanMode::fan_out, 0, std::sqrt(2.0 / 576)},
        Case{nn::FanMode::fan_in, 1, std::sqrt(1.0 / 1152)},  // gain sqrt(2 / (1 + 1))
        Case{nn::FanMode::fan_out, 0.2, std::sqrt(2.0 / 1.04 / 576)}}) {
    SCOPED_TRACE(str_cat(c.mode == nn::FanMode::fan_in ? "fan_in" : "fan_out", " slope ", c.slope));
    nn::kaiming_normal_(w, c.mode, c.slope, &gen);
    EXPECT_EQ(w.data_ptr(), data);  // in place
    EXPECT_NEAR(sample_std(w), c.expected, 0.03 * c.expected);
    EXPECT_LT(std::fabs(sample_mean(w)), 0.03 * c.expected);
  }
  Tensor w64 = empty({256, 300}, DType::f64);
  nn::kaiming_normal_(w64, nn::FanMode::fan_in, 0, &gen);
  EXPECT_EQ(w64.dtype(), DType::f64);
  EXPECT_NEAR(sample_std(w64), std::sqrt(2.0 / 300), 0.03 * std::sqrt(2.0 / 300));
}

TEST(Init, KaimingUniformStatistics) {
  Tensor w = empty({64, 128, 3, 3});
  Generator gen{81, 0};
  struct Case {
    nn::FanMode mode;
    double slope, bound;
  };
  for (const Case& c : {Case{nn::FanMode::fan_in, 0, std::sqrt(2.0) * std::sqrt(3.0 / 1152)},
                        Case{nn::FanMode::fan_out, 0, std::sqrt(2.0) * std::sqrt(3.0 / 576)},
                        Case{nn::FanMode::fan_out, std::sqrt(5.0), 1 / std::sqrt(576.0)}}) {
    SCOPED_TRACE(str_cat(c.mode == nn::FanMode::fan_in ? "fan_in" : "fan_out", " slope ", c.slope));
    nn::kaiming_uniform_(w, c.mode, c.slope, &gen);
    const double m = max_abs(w);
    EXPECT_LE(m, c.bound * (1 + 1e-6));
    EXPECT_GE(m, 0.99 * c.bound);
    EXPECT_NEAR(sample_std(w), c.bound / std::sqrt(3.0), 0.03 * c.bound / std::sqrt(3.0));
  }
}

TEST(Init, DefaultConvAndLinearBounds) {
  Generator gen{82, 0};
  struct Case {
    std::shared_ptr<nn::Module> layer;
    Tensor weight, bias;
    int64_t fan_in;
  };
  auto conv = std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions{.gen = &gen});
  auto grouped = std::make_shared<nn::Conv2d>(8, 8, 3, nn::Conv2dOptions{.groups = 4, .gen = &gen});
  auto big = std::make_shared<nn::Conv2d>(64, 64, 3, nn::Conv2dOptions{.gen = &gen});
  auto lin = std::make_shared<nn::Linear>(100, 10, nn::LinearOptions{.gen = &gen});
  for (const Case& c :
       {Case{conv, conv->weight, conv->bias, 16 * 9}, Case{grouped, grouped->weight, grouped->bias, 2 * 9},
        Case{big, big->weight, big->bias, 64 * 9}, Case{lin, lin->weight, lin->bias, 100}}) {
    SCOPED_TRACE(c.layer->str());
    EXPECT_EQ(nn::fan_in(c.weight), c.fan_in);
    const double bound = 1 / std::sqrt(static_cast<double>(c.fan_in));
    EXPECT_LE(max_abs(c.weight), bound * (1 + 1e-6));
    EXPECT_GE(max_abs(c.weight), 0.9 * bound);  // U(-bound, bound), not something narrower
    EXPECT_LE(max_abs(c.bias), bound * (1 + 1e-6));
    EXPECT_GT(max_abs(c.bias), 0);
  }
  EXPECT_NEAR(sample_std(big->weight), 1 / std::sqrt(3.0 * 576), 0.03 / std::sqrt(3.0 * 576));
}

TEST(Init, SameSeedSameWeights) {
  Generator g1{42, 0}, g2{42, 0}, g3{43, 0};
  nn::Conv2d a(3, 8, 3, {.gen = &g1}), b(3, 8, 3, {.gen = &g2}), c(3, 8, 3, {.gen = &g3});
  EXPECT_TRUE(bit_equal(a.weight, b.weight, "weight, same seed"));
  EXPECT_TRUE(bit_equal(a.bias, b.bias, "bias, same seed"));
  EXPECT_GT(g1.offset, 0u);
  EXPECT_EQ(g1.offset, g2.offset);
  EXPECT_FALSE(bit_equal(a.weight, c.weight, "weight, other seed"));
  EXPECT_FALSE(bit_equal(a.bias, c.bias, "bias, other seed"));
  // The next layer from the same generator gets other numbers.
  nn::Conv2d d(3, 8, 3, {.gen = &g1});
  EXPECT_FALSE(bit_equal(a.weight, d.weight, "weight, generator moved on"));

  // The default generator, through manual_seed.
  manual_seed(5);
  nn::Linear l1(6, 4);
  manual_seed(5);
  nn::Linear l2(6, 4);
  EXPECT_TRUE(bit_equal(l1.weight, l2.weight, "Linear after manual_seed"));
  EXPECT_TRUE(bit_equal(l1.bias, l2.bias, "Linear bias after manual_seed"));
}

TEST(Init, FansAndErrors) {
  EXPECT_EQ(nn::fan_in(zeros({4, 3})), 3);  // Linear weight [out, in]
  EXPECT_EQ(nn::fan_out(zeros({4, 3})), 4);
  EXPECT_EQ(nn::fan_in(zeros({8, 4, 3, 5})), 60);
  EXPECT_EQ(nn::fan_out(zeros({8, 4, 3, 5})), 120);
  EXPECT_LOWBIT_ERROR(nn::fan_in(zeros({5})), "fan_in", "[5]");
  EXPECT_LOWBIT_ERROR(nn::fan_out(zeros({5})), "fan_out", "[5]");
  EXPECT_LOWBIT_ERROR(nn::fan_in(zeros({})), "fan_in", "[]");
  EXPECT_LOWBIT_ERROR(nn::fan_in(Tensor()), "fan_in", "undefined");
  Tensor v = zeros({5});
  EXPECT_THROW(nn::kaiming_normal_(v), Error);
  EXPECT_THROW(nn::kaiming_uniform_(v), Error);
  EXPECT_EQ(max_abs(v), 0.0);  // untouched
  Tensor t = zeros({2, 2});
  nn::ones_(t);
  EXPECT_EQ(sample_mean(t), 1.0);
  nn::zeros_(t);
  EXPECT_EQ(max_abs(t), 0.0);
}

}  // namespace
}  // namespace lowbit
