// `lowbit ptq` and `lowbit quant-report`: the command lines of tools/quantize.h.
#include <cstdio>

#include "tensor/config.h"
#include "tools/commands.h"
#include "tools/quantize.h"

namespace lowbit::tools {

void add_ptq_command(CLI::App& app) {
  auto config = std::make_shared<PtqConfig>();
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "ptq",
      "Post-training quantization of a float checkpoint for a backend: place quantizers (graph policy), calibrate on "
      "training images, optionally re-estimate BN, evaluate float and quantized, save the quantized checkpoint.");
  cmd->add_option("weights", config->weights, "float checkpoint (lowbit train)")->required();
  add_recipe_options(cmd, &config->recipe);
  cmd->add_option("--out", config->out_dir, "output directory (quantized.safetensors, prepare.txt, log.jsonl)")
      ->capture_default_str();
  cmd->add_option("--data-dir", config->data_dir, "Fashion-MNIST IDX directory (default: Debian's package)");
  cmd->add_option("--calib-batches", config->calib_batches, "calibration batches")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--calib-batch-size", config->calib_batch_size, "calibration batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--bn-recalib", config->bn_recalib_batches,
                  "re-estimate BN statistics on this many batches with the quantized model (MQBench C.3); 0: off")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--limit-test", config->limit_test, "evaluate on the first N test images only")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", config->seed, "which training images calibrate")->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU threads (default: LOWBIT_NUM_THREADS or all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([config, threads] {
    if (*threads > 0) set_num_threads(*threads);
    const PtqResult r = ptq(*config);
    std::printf("%s %s W%dA%d: float top-1 %.2f%%, quantized %.2f%% (drop %.2f) in %.1f s -> %s\n",
                config->recipe.backend.c_str(), config->recipe.algorithm.c_str(), config->recipe.weight_bits,
                config->recipe.activation_bits, r.float_top1, r.quant_top1, r.float_top1 - r.quant_top1, r.seconds,
                r.path.c_str());
  });
}

void add_quant_report_command(CLI::App& app) {
  auto weights = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto images = std::make_shared<int64_t>(256);
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "quant-report",
      "Per-layer report of a quantized checkpoint on test images: each layer's output SQNR against the float model "
      "(same weights, quantizers off), each quantizer's range, clipped fraction and SQNR on its own input.");
  cmd->add_option("weights", *weights, "quantized checkpoint (lowbit ptq, lowbit train --quant)")->required();
  cmd->add_option("--data-dir", *data_dir, "Fashion-MNIST IDX directory (default: Debian's package)");
  cmd->add_option("--images", *images, "test images")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU threads")->check(CLI::NonNegativeNumber);
  cmd->callback([=] {
    if (*threads > 0) set_num_threads(*threads);
    auto model = load_model(*weights);
    std::printf("%s", quant_report(*model, *data_dir, *images).str().c_str());
  });
}

}  // namespace lowbit::tools
