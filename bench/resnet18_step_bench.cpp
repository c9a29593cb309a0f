// ResNet-18 training step (forward, cross-entropy, backward, SGD update) built directly
// from the autograd ops, before the nn/ and models/ layers exist. Prints images/s
// (median of the timed steps) and the process's peak resident memory, to compare with
// the PyTorch anchors in ../shared/PERF.md (11.5 img/s at 3x224x224 batch 32; 37 img/s
// with a CIFAR stem at 3x32x32 batch 128; 2 threads). Those anchors were taken on another
// machine: bench/peers/pytorch_resnet18_step.py runs the same step in PyTorch, to be run
// next to this one (PERF.md: compare in one command, report the ratio):
//
//   build/release/bench/resnet18_step_bench [imagenet|cifar] [steps]
//   /usr/bin/python3 bench/peers/pytorch_resnet18_step.py [imagenet|cifar] [steps]
// Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/config.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using namespace lowbit;

struct ConvBn {
  Tensor weight, gamma, beta, running_mean, running_var;
  int64_t stride = 1, padding = 0;
};

std::vector<Tensor*> g_params;

Tensor param(Tensor t) {
  set_requires_grad(t);
  return t;
}

ConvBn make_conv_bn(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding) {
  ConvBn c;
  // Kaiming normal, fan-out, as torchvision's ResNets.
  c.weight = param(normal({out, in, k, k}, 0, std::sqrt(2.0 / static_cast<double>(out * k * k))));
  c.gamma = param(ones({out}));
  c.beta = param(zeros({out}));
  c.running_mean = zeros({out});
  c.running_var = ones({out});
  c.stride = stride;
  c.padding = padding;
  return c;
}

Tensor apply(const ConvBn& c, const Tensor& x) {
  const Tensor y = conv2d(x, c.weight, Tensor(), {c.stride, c.stride}, {c.padding, c.padding});
  return batch_norm(y, c.gamma, c.beta, c.running_mean, c.running_var, /*training=*/true, 0.1, 1e-5);
}

struct Block {
  ConvBn conv1, conv2, down;
  bool has_down = false;
};

struct ResNet18 {
  ConvBn stem;
  bool cifar = false;
  std::vector<Block> blocks;
  Tensor fc_w, fc_b;

  explicit ResNet18(bool cifar_stem, int64_t classes) : cifar(cifar_stem) {
    stem = cifar ? make_conv_bn(3, 64, 3, 1, 1) : make_conv_bn(3, 64, 7, 2, 3);
    int64_t in = 64;
    for (int64_t width : {64, 128, 256, 512}) {
      for (int b = 0; b < 2; ++b) {
        const int64_t stride = (b == 0 && width != 64) ? 2 : 1;
        Block blk;
        blk.conv1 = make_conv_bn(in, width, 3, stride, 1);
        blk.conv2 = make_conv_bn(width, width, 3, 1, 1);
        blk.has_down = stride != 1 || in != width;
        if (blk.has_down) blk.down = make_conv_bn(in, width, 1, stride, 0);
        blocks.push_back(blk);
        in = width;
      }
    }
    fc_w = param(normal({classes, 512}, 0, 0.01));
    fc_b = param(zeros({classes}));
  }

  std::vector<Tensor> parameters() {
    std::vector<Tensor> p;
    auto add = [&](const ConvBn& c) { p.insert(p.end(), {c.weight, c.gamma, c.beta}); };
    add(stem);
    for (const Block& b : blocks) {
      add(b.conv1);
      add(b.conv2);
      if (b.has_down) add(b.down);
    }
    p.push_back(fc_w);
    p.push_back(fc_b);
    return p;
  }

  Tensor forward(const Tensor& x) {
    Tensor h = relu(apply(stem, x));
    if (!cifar) h = max_pool2d(h, {3, 3}, {2, 2}, {1, 1}, {1, 1});
    for (const Block& b : blocks) {
      const Tensor identity = b.has_down ? apply(b.down, h) : h;
      h = relu(apply(b.conv2, relu(apply(b.conv1, h))) + identity);
    }
    h = flatten(adaptive_avg_pool2d(h, {1, 1}), 1);
    return linear(h, fc_w, fc_b);
  }
};

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "imagenet";
  const int steps = argc > 2 ? std::atoi(argv[2]) : 3;
  if (mode != "imagenet" && mode != "cifar") {
    std::fprintf(stderr, "usage: resnet18_step_bench [imagenet|cifar] [steps]\n");
    return 2;
  }
  if (!std::getenv("LOWBIT_NUM_THREADS")) set_num_threads(2);
  const bool cifar = mode == "cifar";
  const int64_t batch = cifar ? 128 : 32, side = cifar ? 32 : 224, classes = cifar ? 10 : 1000;
  manual_seed(0);
  ResNet18 model(cifar, classes);
  std::vector<Tensor> params = model.parameters();
  const Tensor images = normal({batch, 3, side, side});
  const Tensor labels = randint({batch}, 0, classes);
  std::printf("ResNet-18 (%s stem) training step, batch %lld, 3x%lldx%lld, %d threads\n", cifar ? "CIFAR" : "ImageNet",
              static_cast<long long>(batch), static_cast<long long>(side), static_cast<long long>(side), num_threads());
  std::vector<double> seconds;
  for (int step = 0; step <= steps; ++step) {  // step 0 is the warm-up
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor loss = cross_entropy(model.forward(images), labels);
    backward(loss);
    {
      NoGradGuard no_grad;
      for (Tensor& p : params) {  // plain SGD, lr 0.01
        Tensor g = grad(p);
        raw::sub_(p, raw::mul(g, 0.01));
        zero_grad(p);
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  step %d: loss %.4f, %.3f s, %.1f img/s%s\n", step, loss.item(), s, static_cast<double>(batch) / s,
                step == 0 ? " (warm-up)" : "");
    if (step > 0) seconds.push_back(s);
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  std::printf("median %.2f img/s (PyTorch anchor: %s), peak RSS %.0f MiB\n", static_cast<double>(batch) / median,
              cifar ? "37.0 img/s" : "11.5 img/s", peak_rss_mib());
  return 0;
}
