// Model zoo speed at 224 x 224: eval forward latency at batch 1 and 8, and the training
// step (forward, cross-entropy, backward, SGD with momentum) at batch 32, for models built
// by models::create. Prints one line per figure (median of the timed repetitions after
// warm-up) and a JSON line each, to set next to bench/peers/pytorch_models_bench.py, which
// runs the same networks (tests/golden/torch_zoo) in PyTorch. PERF.md: run both in one
// command, interleaved, and compare ratios:
//
//   build/release/bench/models_bench [--reps N] [--steps N] [--only forward|train] [--cifar] [model ...]
//   /usr/bin/python3 bench/peers/pytorch_models_bench.py [--reps N] [--steps N] [--only forward|train] [--cifar] [model ...]
//
// Models default to resnet18 resnet50 mobilenet_v2. --cifar: 3x32x32 inputs, the CIFAR
// stem, training step at batch 128 only. Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "models/zoo.h"
#include "nn/optim.h"
#include "tensor/config.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using namespace lowbit;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

long peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

void report(const std::string& model, const std::string& what, int64_t batch, int64_t size, double ms) {
  std::printf("%-20s %-8s batch %3lld  %4lldx%-4lld %10.2f ms  %8.1f img/s\n", model.c_str(), what.c_str(),
              static_cast<long long>(batch), static_cast<long long>(size), static_cast<long long>(size), ms,
              1000.0 * static_cast<double>(batch) / ms);
  std::printf("{\"engine\": \"lowbit\", \"model\": \"%s\", \"what\": \"%s\", \"batch\": %lld, \"size\": %lld, "
              "\"ms\": %.3f, \"threads\": %d, \"peak_rss_mb\": %ld}\n",
              model.c_str(), what.c_str(), static_cast<long long>(batch), static_cast<long long>(size), ms,
              num_threads(), peak_rss_mb());
  std::fflush(stdout);
}

double time_forward(nn::Module& model, int64_t batch, int64_t size, int reps) {
  Generator gen{1, 0};
  const Tensor x = normal({batch, 3, size, size}, 0, 1, DType::f32, Device::cpu(), &gen);
  NoGradGuard no_grad;
  model.eval();
  for (int i = 0; i < 2; ++i) model(x);  // warm-up: caches, allocator, thread pool
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    const Tensor y = model(x);
    ms.push_back(1000 * seconds_since(t0));
  }
  return median(ms);
}

double time_train_step(nn::Module& model, int64_t batch, int64_t size, int steps) {
  Generator gen{2, 0};
  const Tensor x = normal({batch, 3, size, size}, 0, 1, DType::f32, Device::cpu(), &gen);
  const Tensor y = randint({batch}, 0, 1000, DType::i64, Device::cpu(), &gen);
  model.train();
  nn::SGD opt(model.parameters(), nn::SgdOptions{.lr = 0.01, .momentum = 0.9});
  std::vector<double> ms;
  for (int i = 0; i < steps + 1; ++i) {  // step 0 is the warm-up
    const auto t0 = Clock::now();
    opt.zero_grad(true);
    const Tensor loss = cross_entropy(model(x), y);
    backward(loss);
    opt.step();
    if (i > 0) ms.push_back(1000 * seconds_since(t0));
  }
  return median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10, steps = 3;
  bool cifar = false;
  std::string only;  // "forward" or "train": just those figures (for profiling)
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--steps" && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--cifar") {
      cifar = true;
    } else if (!a.empty() && a[0] != '-') {
      names.push_back(a);
    } else {
      std::fprintf(stderr, "usage: models_bench [--reps N] [--steps N] [--only forward|train] [--cifar] [model ...]\n");
      return 2;
    }
  }
  if (names.empty()) names = {"resnet18", "resnet50", "mobilenet_v2"};
  if (!std::getenv("LOWBIT_NUM_THREADS")) set_num_threads(2);
  std::printf("# lowbit models_bench, %d threads, OpenBLAS kernels %s\n", num_threads(), blas_core_name());
  for (const auto& name : names) {
    const int64_t classes = cifar ? 10 : 1000;
    auto model = models::create(
        name, {.num_classes = classes, .stem = cifar ? models::Stem::cifar : models::Stem::imagenet});
    if (cifar) {
      report(name, "train", 128, 32, time_train_step(*model, 128, 32, steps));
      continue;
    }
    if (only != "train") {
      report(name, "forward", 1, 224, time_forward(*model, 1, 224, reps));
      report(name, "forward", 8, 224, time_forward(*model, 8, 224, std::max(3, reps / 3)));
    }
    if (only != "forward") report(name, "train", 32, 224, time_train_step(*model, 32, 224, steps));
  }
  return 0;
}
