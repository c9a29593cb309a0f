// Training and evaluation of an image classifier on Fashion-MNIST: what `lowbit train`
// and `lowbit eval` run (tools/train_command.cpp), as plain functions so that tests can
// call them.
//
// A run writes into `out_dir`:
//   log.jsonl              one JSON object per line: "start", "step" (every log_every
//                          steps), "epoch" (with test metrics), "checkpoint", "summary"
//   last.safetensors       the model's state dict (torchvision names) after the latest
//                          save; metadata: model, in_channels, num_classes
//   last.train.safetensors the training state beside it: optimizer buffers, epoch and
//                          step, the default generator, the best accuracy, the config
//   best.safetensors       the weights with the best test top-1 so far
// Checkpoints are written at the end of every epoch and when a run stops early
// (max_steps). Resuming from last.* continues bit-identically: batches are a pure function
// of (seed, epoch, index) (data/loader.h), the LR schedule a pure function of the step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/module.h"
#include "quant/recipe.h"

namespace lowbit::tools {

// Fashion-MNIST training-set pixel statistics (of x / 255), measured on the 60000 images.
constexpr double kFashionMnistMean = 0.2860, kFashionMnistStd = 0.3530;

struct TrainConfig {
  std::string model = "resnet20";  // resnet20 | resnet18 (CIFAR stem) | tiny (tests)
  std::string data_dir;            // Fashion-MNIST IDX files; empty: data::fashion_mnist_dir()
  std::string out_dir = "runs/fashion-mnist";
  int64_t epochs = 10;
  int64_t batch_size = 128;
  std::string optimizer = "sgd";  // sgd | adamw
  double lr = 0.1;                // peak learning rate (after warm-up)
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  bool decay_bn_and_bias = false;  // false: no weight decay on BN parameters and biases
  double warmup_epochs = 1;        // linear warm-up from lr/100, then cosine to 0
  double label_smoothing = 0.1;
  int64_t crop_padding = 2;  // random crop with this much zero padding (0: off)
  bool horizontal_flip = true;
  uint64_t seed = 0;
  int64_t max_steps = 0;      // stop (and save) after this many steps in total; 0: run all epochs
  int64_t limit_train = 0;    // use only the first N training images (0: all)
  int64_t limit_test = 0;     // evaluate on the first N test images (0: all)
  int64_t log_every = 50;     // steps between "step" log lines
  bool resume = false;        // continue from out_dir/last.*
  bool progress_bar = false;  // a live bar (terminal) instead of periodic lines

  // Quantization-aware training (train --quant): the float checkpoint `quant_init` (of
  // `model`) is prepared with `recipe` (quant/prepare.h), its quantizers initialised on
  // `calib_batches` training batches (observers, LSQ's scale), then trained in state qat.
  // Checkpoints are quantized checkpoints (tools/quantize.h); evaluation runs in state eval.
  bool quant = false;
  std::string quant_init;
  quant::QuantRecipe recipe;
  int64_t calib_batches = 4;
  int64_t freeze_bn_epoch = -1;  // from this epoch (0-based) on, fused conv-BN layers freeze BN; -1: never
};

struct TrainResult {
  int64_t steps = 0;                     // total optimizer steps done, including those before a resume
  double last_loss = 0, first_loss = 0;  // training loss of the last / first step of this run
  bool evaluated = false;                // whether this run finished an epoch (and so evaluated)
  double test_top1 = 0, test_top5 = 0, test_loss = 0, best_top1 = 0;  // latest evaluation (percent)
  double seconds = 0, images_per_second = 0;                          // this run's training time and throughput
};

TrainResult train(const TrainConfig& config);

// The model a config names, freshly initialised from `seed`.
std::shared_ptr<nn::Module> make_model(const std::string& name, int64_t in_channels, int64_t num_classes,
                                       uint64_t seed);

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;  // mean loss, accuracies in percent
  int64_t images = 0;
};

// Evaluates `model` (in eval mode, no graph, quantizers in state eval) on the
// Fashion-MNIST test split; the modes and quantizer states are restored.
EvalResult evaluate(nn::Module& model, const std::string& data_dir, int64_t batch_size, int64_t limit = 0);

}  // namespace lowbit::tools
