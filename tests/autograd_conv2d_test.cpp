// Differentiable conv2d: f64 gradcheck for every variant the issue lists (stride 2,
// padding, dilation, groups, depthwise, 1x1), with and without bias, and on strided inputs.
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct ConvCase {
  const char* name;
  Shape x, w;
  std::array<int64_t, 2> stride, padding, dilation;
  int64_t groups;
};

using test::grad_ok;

TEST(AutogradConv2d, GradcheckEveryVariant) {
  const ConvCase cases[] = {
      {"3x3", {2, 3, 5, 6}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1},
      {"stride 2 + padding", {2, 2, 7, 6}, {3, 2, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1},
      {"dilation 2", {1, 2, 7, 7}, {2, 2, 3, 3}, {1, 1}, {2, 1}, {2, 2}, 1},
      {"groups 2", {2, 4, 5, 5}, {6, 2, 3, 3}, {1, 2}, {1, 0}, {1, 1}, 2},
      {"depthwise", {2, 3, 6, 5}, {3, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 3},
      {"depthwise stride 2", {1, 4, 7, 7}, {4, 1, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 4},
      {"1x1", {2, 5, 3, 4}, {3, 5, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},
      {"1x1 stride 2", {1, 4, 5, 5}, {2, 4, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1},
      {"non-square 2x3 kernel", {1, 2, 5, 6}, {2, 2, 2, 3}, {1, 2}, {0, 1}, {1, 1}, 1},
  };
  uint64_t seed = 1;
  for (const ConvCase& c : cases) {
    for (bool with_bias : {true, false}) {
      std::vector<Tensor> inputs = {test::random_tensor(c.x, DType::f64, seed++),
                                    test::random_tensor(c.w, DType::f64, seed++)};
      if (with_bias) inputs.push_back(test::random_tensor({c.w[0]}, DType::f64, seed++));
      const Fn f = [&](const std::vector<Tensor>& in) {
        return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
      };
      EXPECT_TRUE(grad_ok(f, inputs, std::string(c.name) + (with_bias ? " with bias" : " without bias")));
    }
  }
}

TEST(AutogradConv2d, StridedInputsAndOnlyWeightRequiringGrad) {
  const Tensor x = test::random_strided({2, 3, 4, 5}, DType::f64, 7);
  const Tensor w = test::random_strided({2, 3, 3, 3}, DType::f64, 8);
  const Fn f = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), {1, 1}, {1, 1}); };
  EXPECT_TRUE(grad_ok(f, {x, w}, "strided x and w"));

  Tensor weight = test::random_tensor({2, 3, 3, 3}, DType::f64, 9);
  set_requires_grad(weight);
  const Tensor input = test::random_tensor({1, 3, 4, 4}, DType::f64, 10);  // no grad
  backward(sum(conv2d(input, weight)));
  ASSERT_TRUE(grad(weight).defined());
  EXPECT_EQ(grad(weight).sizes(), weight.sizes());
  EXPECT_FALSE(grad(input).defined());
}

TEST(AutogradConv2d, BadInputIsAnError) {
  Tensor w = test::random_tensor({64, 64, 3, 3}, DType::f32, 1);
  set_requires_grad(w);
  EXPECT_LOWBIT_ERROR(conv2d(zeros({8, 3, 32, 32}), w), "conv2d", "input has 3 channels but weight expects 64",
                      "[8,3,32,32]");
}

}  // namespace
}  // namespace lowbit
