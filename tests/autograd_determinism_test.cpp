// Determinism of a whole training step (DESIGN.md, contract 2): a small ResNet-shaped
// network built from the autograd ops (every conv lowering: Winograd 3x3, im2col 3x3
// stride 2, 1x1 stride 2, depthwise; batch norm in training mode, max and average
// pooling, dropout, linear, cross-entropy with label smoothing) gives the same bits for its
// loss and for every gradient with 1 and 2 threads, in f32 and f64.
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::random_tensor;
using test::ThreadGuard;

struct Net {
  std::vector<Tensor> params;  // requires grad
  Tensor stem_w, bn_g, bn_b, c1_w, c2_w, down_w, c3_w, dw_w, fc_w, fc_b;

  explicit Net(DType dtype) {
    uint64_t seed = 40;
    auto make = [&](const Shape& shape, double scale) {
      Tensor t = raw::mul(random_tensor(shape, dtype, ++seed), scale);
      set_requires_grad(t);
      params.push_back(t);
      return t;
    };
    stem_w = make({16, 3, 3, 3}, 0.3);
    bn_g = make({16}, 1.0);
    bn_b = make({16}, 0.1);
    c1_w = make({16, 16, 3, 3}, 0.1);   // 3x3 stride 1: Winograd in f32
    c2_w = make({24, 16, 3, 3}, 0.1);   // 3x3 stride 2: im2col
    down_w = make({24, 16, 1, 1}, 0.3); // 1x1 stride 2
    c3_w = make({24, 24, 3, 3}, 0.1);   // Winograd
    dw_w = make({24, 1, 3, 3}, 0.3);    // depthwise
    fc_w = make({10, 24}, 0.2);
    fc_b = make({10}, 0.1);
  }

  Tensor loss(const Tensor& x, const Tensor& labels) const {
    const Tensor no_stats;  // batch norm with batch statistics only
    Tensor h = relu(batch_norm(conv2d(x, stem_w, Tensor(), {1, 1}, {1, 1}), bn_g, bn_b, no_stats, no_stats, true));
    h = max_pool2d(h, {3, 3}, {1, 1}, {1, 1});
    h = relu(conv2d(h, c1_w, Tensor(), {1, 1}, {1, 1}) + h);
    const Tensor identity = conv2d(h, down_w, Tensor(), {2, 2});
    h = relu(conv2d(h, c2_w, Tensor(), {2, 2}, {1, 1}) + identity);
    h = relu6(conv2d(relu(conv2d(h, c3_w, Tensor(), {1, 1}, {1, 1})), dw_w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 24));
    h = avg_pool2d(h, {2, 2}, {2, 2});
    Generator gen{7, 0};
    h = dropout(flatten(adaptive_avg_pool2d(h, {1, 1}), 1), 0.2, true, &gen);
    return cross_entropy(linear(h, fc_w, fc_b), labels, 0.1);
  }
};

struct Step {
  Tensor loss;
  std::vector<Tensor> grads;
};

Step step(Net& net, const Tensor& x, const Tensor& labels, int threads) {
  ThreadGuard guard(threads);
  for (Tensor& p : net.params) zero_grad(p);
  Step s;
  s.loss = net.loss(x, labels);
  backward(s.loss);
  for (const Tensor& p : net.params) s.grads.push_back(clone(grad(p)));
  return s;
}

TEST(AutogradDeterminism, TrainingStepSameBitsForOneAndTwoThreads) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    Net net(dtype);
    const Tensor x = random_tensor({6, 3, 17, 15}, dtype, 3);
    Generator gen{5, 0};
    const Tensor labels = randint({6}, 0, 10, DType::i64, Device::cpu(), &gen);
    const Step one = step(net, x, labels, 1), two = step(net, x, labels, 2);
    EXPECT_TRUE(bit_equal(one.loss, two.loss, "loss"));
    ASSERT_EQ(one.grads.size(), two.grads.size());
    for (size_t i = 0; i < one.grads.size(); ++i)
      EXPECT_TRUE(bit_equal(one.grads[i], two.grads[i], "gradient of parameter " + std::to_string(i)));
  }
}

}  // namespace
}  // namespace lowbit
