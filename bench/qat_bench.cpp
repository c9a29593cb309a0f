// The cost of quantization-aware training: the training step (forward, cross-entropy,
// backward, SGD with momentum, quant::after_optimizer_step) of a float model and of the
// same model prepared for QAT (quant/prepare.h), timed in alternating rounds in one
// process so that both see the same machine state; prints the medians and their ratio
// (issue target: QAT <= 1.15x float; PERF.md's PyTorch: 1.20-1.42x).
//
//   build/release/bench/qat_bench [--model resnet20] [--batch 128] [--size 28] [--rounds 7]
//       [--backend academic] [--algorithm lsq] [--w-bits 4] [--a-bits 4] [--fold pytorch]
//
// Inputs are Fashion-MNIST-shaped (1 channel, CIFAR stem). Threads: 2 unless
// LOWBIT_NUM_THREADS is set.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "models/zoo.h"
#include "nn/optim.h"
#include "quant/calibrate.h"
#include "quant/prepare.h"
#include "quant/recipe.h"
#include "quant/state.h"
#include "tensor/config.h"
#include "tensor/random.h"

namespace {

using namespace lowbit;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Setup {
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<nn::SGD> opt;
};

Setup make(const std::string& name, int64_t size, const quant::QuantRecipe* recipe, const Tensor& x) {
  Generator gen{3, 0};
  Setup s;
  s.model = models::create(name, {.num_classes = 10, .in_channels = 1, .stem = models::Stem::cifar, .gen = &gen});
  if (recipe) {
    quant::prepare(*s.model, zeros({1, 1, size, size}), recipe->options());
    quant::calibrate(*s.model, [&](int64_t) { return x; }, 1);
    quant::set_state(*s.model, quant::QuantState::qat);
  }
  s.model->train();
  s.opt = std::make_unique<nn::SGD>(std::vector<nn::SgdGroup>{
      {s.model->parameters(), nn::SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4}}});
  return s;
}

double step_ms(Setup& s, const Tensor& x, const Tensor& y) {
  const auto t0 = Clock::now();
  const Tensor loss = cross_entropy((*s.model)(x), y);
  s.opt->zero_grad();
  backward(loss);
  s.opt->step();
  quant::after_optimizer_step(*s.model);
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "resnet20";
  int64_t batch = 128, size = 28;
  int rounds = 7;
  quant::QuantRecipe recipe;
  recipe.weight_bits = recipe.activation_bits = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--batch") batch = std::atoll(v.c_str());
    else if (k == "--size") size = std::atoll(v.c_str());
    else if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--backend") recipe.backend = v;
    else if (k == "--algorithm") recipe.algorithm = v;
    else if (k == "--w-bits") recipe.weight_bits = std::atoi(v.c_str());
    else if (k == "--a-bits") recipe.activation_bits = std::atoi(v.c_str());
    else if (k == "--fold") recipe.fold = v;
    else {
      std::fprintf(stderr, "qat_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!std::getenv("LOWBIT_NUM_THREADS")) set_num_threads(2);
  Generator gen{9, 0};
  const Tensor x = normal({batch, 1, size, size}, 0, 1, DType::f32, Device::cpu(), &gen);
  const Tensor y = randint({batch}, 0, 10, DType::i64, Device::cpu(), &gen);
  Setup fp = make(model, size, nullptr, x);
  Setup qat = make(model, size, &recipe, x);
  step_ms(fp, x, y);  // warm-up
  step_ms(qat, x, y);
  std::vector<double> tf, tq;
  for (int r = 0; r < rounds; ++r) {
    tf.push_back(step_ms(fp, x, y));
    tq.push_back(step_ms(qat, x, y));
  }
  const double f = median(tf), q = median(tq);
  std::printf("%s batch %lld %lldx%lld, %d threads, %s %s W%dA%d fold %s\n", model.c_str(),
              static_cast<long long>(batch), static_cast<long long>(size), static_cast<long long>(size), num_threads(),
              recipe.backend.c_str(), recipe.algorithm.c_str(), recipe.weight_bits, recipe.activation_bits,
              recipe.fold.c_str());
  std::printf("float step %.1f ms, QAT step %.1f ms: %.3fx\n", f, q, q / f);
  std::printf("{\"model\": \"%s\", \"batch\": %lld, \"backend\": \"%s\", \"algorithm\": \"%s\", \"float_ms\": %.3f, "
              "\"qat_ms\": %.3f, \"ratio\": %.4f, \"threads\": %d}\n",
              model.c_str(), static_cast<long long>(batch), recipe.backend.c_str(), recipe.algorithm.c_str(), f, q,
              q / f, num_threads());
  return 0;
}
