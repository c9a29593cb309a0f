// `lowbit train` and `lowbit eval`: the command lines of tools/train.h.
#include <unistd.h>

#include <cstdio>

#include "models/zoo.h"
#include "nn/safetensors.h"
#include "tensor/config.h"
#include "tools/commands.h"
#include "quant/backend.h"
#include "quant/conv_bn.h"
#include "quant/observer.h"
#include "quant/prepare.h"
#include "tools/quantize.h"
#include "tools/train.h"

namespace lowbit::tools {

namespace {

void add_threads_option(CLI::App* cmd, int* threads) {
  cmd->add_option("--threads", *threads, "CPU threads (default: LOWBIT_NUM_THREADS or all cores)")
      ->check(CLI::NonNegativeNumber);
}

void apply_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

}  // namespace

void add_recipe_options(CLI::App* cmd, quant::QuantRecipe* r) {
  cmd->add_option("--algorithm", r->algorithm, "quantizers: fixed (observers) | lsq | lsqplus | pact | dorefa | dsq")
      ->check(CLI::IsMember(quant::algorithm_names()))
      ->capture_default_str();
  cmd->add_option("--backend", r->backend, "backend preset (QUANT_NUMERICS §8): academic | tensorrt | acl | tvm | snpe | fbgemm")
      ->check(CLI::IsMember(quant::backend_names()))
      ->capture_default_str();
  cmd->add_option("--w-bits", r->weight_bits, "weight bits (2-8)")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--a-bits", r->activation_bits, "activation bits (2-8)")->check(CLI::Range(2, 8))->capture_default_str();
  cmd->add_option("--set", r->overrides,
                  "override a backend field, key=value (repeatable): weight_per_channel=false, graph=3, "
                  "first_last_8bit=false, policy=tflite, ... (the printed configuration lists every key)")
      ->allow_extra_args(false);  // one key=value per --set: a positional argument after it stays positional
  cmd->add_option("--fold", r->fold, "conv-BN fold strategy where the backend folds BN (QUANT_NUMERICS §7): "
                  "none | merge | fold_frozen | jacob | krishnamoorthi | pytorch, or -1..4")
      ->capture_default_str();
  cmd->add_option("--w-observer", r->weight_observer, "observer of fixed weight quantizers")
      ->check(CLI::IsMember({"minmax", "ema_minmax", "percentile", "mse", "kl", "norm", "meanstd"}))
      ->capture_default_str();
  cmd->add_option("--a-observer", r->activation_observer, "observer of fixed activation quantizers")
      ->check(CLI::IsMember({"minmax", "ema_minmax", "percentile", "mse", "kl", "norm", "meanstd"}))
      ->capture_default_str();
}

void add_train_command(CLI::App& app) {
  auto config = std::make_shared<TrainConfig>();
  auto threads = std::make_shared<int>(0);
  auto plain = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a classifier on Fashion-MNIST (SGD + Nesterov, warm-up + cosine, label smoothing, crop + flip). "
      "Writes log.jsonl, last/best checkpoints (safetensors) into --out; --resume continues bit-identically.");
  std::vector<std::string> model_choices = models::model_names();
  model_choices.push_back("tiny");
  cmd->add_option("--model", config->model,
                  "a model of the zoo (models/zoo.h), with its CIFAR stem for 28x28 images; tiny: a 2-block ResNet")
      ->check(CLI::IsMember(model_choices))
      ->capture_default_str();
  cmd->add_option("--data-dir", config->data_dir, "Fashion-MNIST IDX directory (default: Debian's package)");
  cmd->add_option("--out", config->out_dir, "output directory")->capture_default_str();
  cmd->add_option("--epochs", config->epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch-size", config->batch_size, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--optimizer", config->optimizer, "sgd | adamw")
      ->check(CLI::IsMember({"sgd", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", config->lr, "peak learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--momentum", config->momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_flag("--nesterov,!--no-nesterov", config->nesterov, "Nesterov momentum")->capture_default_str();
  cmd->add_option("--weight-decay", config->weight_decay, "weight decay")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--decay-bn-and-bias", config->decay_bn_and_bias, "also decay BN parameters and biases");
  cmd->add_option("--warmup-epochs", config->warmup_epochs, "linear warm-up length (epochs, may be fractional)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--label-smoothing", config->label_smoothing, "label smoothing")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--crop-padding", config->crop_padding, "random crop padding in pixels (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--hflip,!--no-hflip", config->horizontal_flip, "random horizontal flips")->capture_default_str();
  cmd->add_option("--seed", config->seed, "seed of the weights, the batch order and the augmentation")
      ->capture_default_str();
  cmd->add_option("--max-steps", config->max_steps, "stop (and save) after this many steps in total (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit-train", config->limit_train, "train on the first N images only")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit-test", config->limit_test, "evaluate on the first N test images only")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-every", config->log_every, "steps between log lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--resume", config->resume, "continue from <out>/last.safetensors and last.train.safetensors");
  cmd->add_flag("--plain", *plain, "periodic plain lines even on a terminal");
  cmd->add_flag("--quant", config->quant, "quantization-aware training from a float checkpoint (--init)");
  cmd->add_option("--init", config->quant_init, "--quant: the float checkpoint to start from");
  add_recipe_options(cmd, &config->recipe);
  cmd->add_option("--calib-batches", config->calib_batches, "--quant: batches that initialise the quantizers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--freeze-bn-epoch", config->freeze_bn_epoch,
                  "--quant: from this epoch (0-based) on, fused conv-BN layers use running statistics (-1: never)")
      ->capture_default_str();
  add_threads_option(cmd, threads.get());
  cmd->callback([config, threads, plain] {
    apply_threads(*threads);
    config->progress_bar = !*plain && isatty(fileno(stderr));
    const TrainResult r = train(*config);
    std::printf("trained %lld steps in %.1f s (%.1f img/s)", static_cast<long long>(r.steps), r.seconds,
                r.images_per_second);
    if (r.evaluated) {
      std::printf("; test top-1 %.2f%%, top-5 %.2f%%, best top-1 %.2f%%", r.test_top1, r.test_top5, r.best_top1);
    } else {
      std::printf("; stopped before the end of an epoch: no evaluation (lowbit eval %s/last.safetensors)",
                  config->out_dir.c_str());
    }
    std::printf("\n");
  });
}

void add_eval_command(CLI::App& app) {
  auto weights = std::make_shared<std::string>();
  auto model = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto batch = std::make_shared<int64_t>(256);
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate saved weights (float or quantized) on the Fashion-MNIST test split.");
  cmd->add_option("weights", *weights, "a .safetensors file written by lowbit train or lowbit ptq")->required();
  cmd->add_option("--model", *model, "resnet20 | resnet18 | tiny (default: the file's metadata)");
  cmd->add_option("--data-dir", *data_dir, "Fashion-MNIST IDX directory (default: Debian's package)");
  cmd->add_option("--batch-size", *batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  add_threads_option(cmd, threads.get());
  cmd->callback([=] {
    apply_threads(*threads);
    std::map<std::string, std::string> meta;
    auto net = load_model(*weights, *model, &meta);
    const std::string name = model->empty() ? meta.at("model") : *model;
    const EvalResult r = evaluate(*net, *data_dir, *batch);
    std::printf("%s%s on %lld test images: loss %.4f  top-1 %.2f%%  top-5 %.2f%%\n", name.c_str(),
                meta.count("quant") ? (" (quantized: " + meta.at("quant") + ")").c_str() : "",
                static_cast<long long>(r.images), r.loss, r.top1, r.top5);
  });
}

}  // namespace lowbit::tools
