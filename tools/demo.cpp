// `lowbit demo`: what the engine does today, on real data.
//
// Loads Fashion-MNIST (Debian's dataset-fashion-mnist), computes pixel statistics with
// the raw reductions, fits a nearest-class-mean classifier with two GEMMs
// (class sums = onehot^T X; scores = X_test mu^T - |mu|^2 / 2) and reports its test
// accuracy. Then it runs the same pipeline on the scalar reference kernels (audit mode,
// DESIGN.md contract 7) and prints, step by step, the largest difference between the
// fast kernels and the reference, and the time each took.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "data/idx.h"
#include "tensor/config.h"
#include "tensor/device_memory.h"
#include "tensor/ops.h"
#include "tools/commands.h"

namespace lowbit::tools {

namespace {

const char* kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct DemoOptions {
  std::string data_dir = data::fashion_mnist_dir();
  int threads = 0;
  bool skip_audit = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Everything the classifier computes, kept so fast and reference runs can be compared.
struct Pipeline {
  Tensor pixel_mean, pixel_std, means, scores, predictions, accuracy;
  double seconds = 0;
};

Pipeline run_pipeline(const Tensor& train_x, const Tensor& train_y, const Tensor& test_x, const Tensor& test_y) {
  const auto t0 = std::chrono::steady_clock::now();
  Pipeline r;
  r.pixel_mean = raw::mean(train_x);
  r.pixel_std = raw::sqrt(raw::var(train_x));
  // onehot[n, c] = (label[n] == c), as f32 [N, 10].
  const Tensor classes = arange(10).unsqueeze(0);                               // i64 [1, 10]
  const Tensor onehot = raw::eq(train_y.unsqueeze(1), classes).to(DType::f32);  // [N, 10]
  const Tensor counts = raw::sum(onehot, {0});                                  // [10]
  r.means = raw::div(raw::matmul(onehot.t(), train_x), counts.unsqueeze(1));    // [10, 784]
  // argmin_c |x - mu_c|^2 = argmax_c (x . mu_c - |mu_c|^2 / 2)
  const Tensor half_norm = raw::mul(raw::sum(raw::mul(r.means, r.means), {1}), 0.5);  // [10]
  r.scores = raw::sub(raw::matmul(test_x, r.means.t()), half_norm);                   // [M, 10]
  r.predictions = raw::argmax(r.scores, 1);
  r.accuracy = raw::mean(raw::eq(r.predictions, test_y).to(DType::f32));
  r.seconds = seconds_since(t0);
  return r;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return raw::max(raw::abs(raw::sub(a.to(DType::f64), b.to(DType::f64)))).item();
}

void run_demo(const DemoOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  std::printf("lowbit demo: the tensor engine on real data (Fashion-MNIST from %s)\n", opt.data_dir.c_str());
  std::printf("  threads %d, CUDA backend %s, %d CUDA device(s)\n", num_threads(),
              built_with_cuda() ? "built" : "not built", cuda_device_count());

  auto t0 = std::chrono::steady_clock::now();
  const data::MnistSplit train = data::load_fashion_mnist("train", opt.data_dir);
  const data::MnistSplit test = data::load_fashion_mnist("test", opt.data_dir);
  std::printf("  loaded train images %s and test images %s in %.2f s\n", describe(train.images).c_str(),
              describe(test.images).c_str(), seconds_since(t0));

  // u8 [N,28,28] -> f32 [N,784] in [0,1]; labels u8 -> i64.
  const Tensor train_x = raw::div(train.images.to(DType::f32).reshape({-1, 28 * 28}), 255.0);
  const Tensor test_x = raw::div(test.images.to(DType::f32).reshape({-1, 28 * 28}), 255.0);
  const Tensor train_y = train.labels.to(DType::i64), test_y = test.labels.to(DType::i64);

  std::printf("\nthe centre row of the first training image (%s), as a tensor:\n%s\n",
              kClassNames[static_cast<int>(train_y.select(0, 0).item())],
              train_x.select(0, 0).reshape({28, 28}).select(0, 14).narrow(0, 4, 20).str().c_str());

  const Pipeline fast = run_pipeline(train_x, train_y, test_x, test_y);
  auto [lo, hi] = raw::aminmax(train_x);
  std::printf("\npixel statistics over %lld values: mean %.4f, std %.4f, min %.1f, max %.1f\n",
              static_cast<long long>(train_x.numel()), fast.pixel_mean.item(), fast.pixel_std.item(), lo.item(),
              hi.item());
  std::printf("nearest-class-mean classifier (class means by GEMM, scores by GEMM, argmax):\n");
  std::printf("  test accuracy %.2f%% on %lld images, computed in %.3f s\n", 100 * fast.accuracy.item(),
              static_cast<long long>(test_x.size(0)), fast.seconds);
  std::printf("  per class:");
  for (int c = 0; c < 10; ++c) {
    const Tensor is_c = raw::eq(test_y, scalar_tensor(c, DType::i64));
    const Tensor hit = raw::mul(is_c.to(DType::f32), raw::eq(fast.predictions, test_y).to(DType::f32));
    std::printf("%s %s %.0f%%", c ? "," : "", kClassNames[c],
                100 * raw::sum(hit).item() / raw::sum(is_c.to(DType::i64)).item());
  }
  std::printf("\n");

  if (opt.skip_audit) return;
  std::printf("\naudit: the same pipeline on the scalar reference kernels (LOWBIT_REFERENCE=1)\n");
  Pipeline ref;
  {
    ReferenceModeGuard guard(true);
    ref = run_pipeline(train_x, train_y, test_x, test_y);
  }
  std::printf("  %-12s %14s\n", "step", "max |fast-ref|");
  std::printf("  %-12s %14.3g\n", "pixel mean", max_abs_diff(fast.pixel_mean, ref.pixel_mean));
  std::printf("  %-12s %14.3g\n", "pixel std", max_abs_diff(fast.pixel_std, ref.pixel_std));
  std::printf("  %-12s %14.3g\n", "class means", max_abs_diff(fast.means, ref.means));
  std::printf("  %-12s %14.3g\n", "scores", max_abs_diff(fast.scores, ref.scores));
  const double disagree = raw::sum(raw::ne(fast.predictions, ref.predictions).to(DType::i64)).item();
  std::printf("  predictions that differ: %.0f of %lld; accuracy fast %.2f%% vs reference %.2f%%\n", disagree,
              static_cast<long long>(test_x.size(0)), 100 * fast.accuracy.item(), 100 * ref.accuracy.item());
  std::printf("  time: fast kernels %.3f s, reference kernels %.3f s (%.0fx)\n", fast.seconds, ref.seconds,
              ref.seconds / fast.seconds);
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* cmd =
      app.add_subcommand("demo", "Run the engine on Fashion-MNIST and audit it against the reference kernels");
  cmd->add_option("--data", opt->data_dir, "Directory with the Fashion-MNIST IDX files")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "Threads (default: LOWBIT_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--skip-audit", opt->skip_audit, "Do not rerun on the reference kernels");
  cmd->callback([opt] { run_demo(*opt); });
}

}  // namespace lowbit::tools
