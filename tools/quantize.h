// Quantizing trained models from the command line (QUANT_NUMERICS §4-§8): what
// `lowbit ptq`, `lowbit quant-report` and `lowbit eval` on quantized checkpoints run, as
// plain functions that tests call (tools/quant_command.cpp is the command line).
//
// A quantized checkpoint is a safetensors file of the prepared model's state dict
// (float weights under their names, BN statistics, every quantizer's scales, zero points,
// observer state and quantizer state) whose metadata holds "model", "in_channels",
// "num_classes" and "quant" (a QuantRecipe as JSON, quant/recipe.h). load_model rebuilds
// the float architecture, prepares it with the recipe and loads the state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "quant/recipe.h"

namespace lowbit::tools {

// The example input prepare() traces: one Fashion-MNIST image.
Tensor fashion_mnist_example();

// Any checkpoint written by lowbit train or lowbit ptq: the model of its metadata (or
// `model_name` when given), prepared with its recipe if it has one, with the state loaded.
// `meta` receives the metadata. Errors name the file.
std::shared_ptr<nn::Module> load_model(const std::string& path, const std::string& model_name = "",
                                       std::map<std::string, std::string>* meta = nullptr);

// Saves a model and its metadata (recipe: "" for a float model) atomically.
void save_model(const std::string& path, nn::Module& model, const std::string& model_name,
                const std::string& recipe_json);

struct PtqConfig {
  std::string weights;      // float checkpoint (lowbit train)
  quant::QuantRecipe recipe = [] {  // fixed quantizers with MinMax observers
    quant::QuantRecipe r;
    r.algorithm = "fixed";
    r.activation_observer = "minmax";
    return r;
  }();
  std::string data_dir;     // Fashion-MNIST; empty: Debian's package
  std::string out_dir = "runs/ptq";
  int64_t calib_batches = 16, calib_batch_size = 64;  // 1024 training images, as MQBench
  int64_t bn_recalib_batches = 0;                     // 0: no BN re-calibration
  int64_t eval_batch_size = 256, limit_test = 0;
  uint64_t seed = 0;  // which training images calibrate (a seeded shuffle)
  bool quiet = false;
};

struct PtqResult {
  double float_top1 = 0, quant_top1 = 0, float_loss = 0, quant_loss = 0;
  int64_t quantizers = 0;
  double seconds = 0;
  std::string path;  // the quantized checkpoint
};

// Loads the float model, evaluates it, prepares it with the recipe, calibrates, sets eval,
// optionally re-estimates BN, evaluates again and saves <out_dir>/quantized.safetensors,
// <out_dir>/prepare.txt (the placement report) and <out_dir>/log.jsonl.
PtqResult ptq(const PtqConfig& config);

// Calibration batches: `count` batches of the training split, no augmentation, in the
// order of a shuffle seeded by `seed`.
std::vector<Tensor> calibration_batches(const std::string& data_dir, int64_t count, int64_t batch_size,
                                             uint64_t seed);

struct LayerReport {
  std::string name, type;
  double sqnr_db = 0;  // the layer's output, quantized model against the float one (errors accumulate)
};
struct QuantizerReport {
  std::string name, config, state;
  double range_min = 0, range_max = 0;  // the real interval the codes cover (min / max over channels)
  double clip_fraction = 0;             // of its input, on the report's images
  double sqnr_db = 0;                   // q(x) against x, on its own input
};
struct QuantReport {
  std::vector<LayerReport> layers;
  std::vector<QuantizerReport> quantizers;
  double logits_sqnr_db = 0;
  int64_t images = 0;
  std::string str() const;  // two Markdown tables
};

// Runs `images` test images through `model` (a prepared model) with its quantizers as
// they are (eval) and with them all in fp (the float model, same weights), and compares.
// The model's quantizer states are restored.
QuantReport quant_report(nn::Module& model, const std::string& data_dir, int64_t images);

}  // namespace lowbit::tools
