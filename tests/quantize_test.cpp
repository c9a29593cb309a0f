// tools/quantize.h and train --quant on real Fashion-MNIST (skipped with a message when
// Debian's dataset-fashion-mnist is not installed): PTQ of a briefly trained tiny ResNet
// keeps its accuracy at 8 bits, the quantized checkpoint evaluates to the same figure
// after reloading, QAT from a float checkpoint trains, resumes bit-identically and logs
// quantizer diagnostics, and quant-report compares every layer with the float model.
// The acceptance runs on ResNet-20 are bench/quant_grid.sh, not part of this suite.
#include "tools/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "data/idx.h"
#include "tests/fashion_mnist_test_util.h"
#include "nn/safetensors.h"
#include "quant/state.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tools/train.h"

namespace lowbit {
namespace {

bool have_data() { return test::have_fashion_mnist(); }

std::string temp_dir(const std::string& name) { return test::fresh_temp_dir("lowbit_quantize_test_", name); }

tools::TrainConfig tiny_config(const std::string& out) {
  tools::TrainConfig c;
  c.model = "tiny";
  c.out_dir = out;
  c.epochs = 1;
  c.batch_size = 32;
  c.lr = 0.2;
  c.warmup_epochs = 0.2;
  c.limit_train = 3200;
  c.limit_test = 500;
  c.log_every = 20;
  c.seed = 3;
  return c;
}

// One float tiny ResNet for the whole suite (about 2 s).
const std::string& float_checkpoint() {
  static const std::string path = [] {
    const std::string out = temp_dir("float");
    tools::train(tiny_config(out));
    return out + "/last.safetensors";
  }();
  return path;
}

TEST(Ptq, W8A8KeepsTheAccuracyOnEveryBackend) {
  if (!have_data()) GTEST_SKIP() << test::no_fashion_mnist_message();
  for (const std::string backend : {"academic", "tensorrt", "fbgemm"}) {
    SCOPED_TRACE(backend);
    tools::PtqConfig c;
    c.weights = float_checkpoint();
    c.recipe.backend = backend;
    c.out_dir = temp_dir("ptq_" + backend);
    c.calib_batches = 4;
    c.limit_test = 500;
    c.quiet = true;
    const tools::PtqResult r = tools::ptq(c);
    EXPECT_GT(r.float_top1, 50.0);
    EXPECT_NEAR(r.quant_top1, r.float_top1, 2.0);  // 500 images: 1 image is 0.2%
    EXPECT_GT(r.quantizers, 10);
    // The saved checkpoint rebuilds the same quantized model.
    std::map<std::string, std::string> meta;
    auto model = tools::load_model(r.path, "", &meta);
    EXPECT_EQ(meta.at("model"), "tiny");
    EXPECT_EQ(quant::QuantRecipe::from_json(meta.at("quant"), r.path).backend, backend);
    const tools::EvalResult e = tools::evaluate(*model, "", 256, 500);
    EXPECT_EQ(e.top1, r.quant_top1);
    EXPECT_TRUE(std::filesystem::exists(c.out_dir + "/prepare.txt"));
    std::ifstream log(c.out_dir + "/log.jsonl");
    std::string line;
    int lines = 0;
    while (std::getline(log, line)) {
      EXPECT_TRUE(nlohmann::json::parse(line).is_object());
      ++lines;
    }
    EXPECT_EQ(lines, 3);  // start, float_eval, quant_eval
  }
}

TEST(Ptq, RefusesAQuantizedCheckpoint) {
  if (!have_data()) GTEST_SKIP() << test::no_fashion_mnist_message();
  tools::PtqConfig c;
  c.weights = float_checkpoint();
  c.out_dir = temp_dir("ptq_twice");
  c.calib_batches = 1;
  c.limit_test = 100;
  c.quiet = true;
  const tools::PtqResult r = tools::ptq(c);
  c.weights = r.path;
  EXPECT_THROW(tools::ptq(c), Error);
}

TEST(QuantReport, ComparesEveryLayerWithTheFloatModel) {
  if (!have_data()) GTEST_SKIP() << test::no_fashion_mnist_message();
  tools::PtqConfig c;
  c.weights = float_checkpoint();
  c.recipe.backend = "tvm";
  c.out_dir = temp_dir("report");
  c.calib_batches = 2;
  c.limit_test = 100;
  c.quiet = true;
  auto model = tools::load_model(tools::ptq(c).path);
  const tools::QuantReport r = tools::quant_report(*model, "", 64);
  EXPECT_EQ(r.images, 64);
  ASSERT_FALSE(r.layers.empty());
  EXPECT_EQ(r.layers.front().name, "conv1");
  EXPECT_EQ(r.layers.back().name, "fc");
  for (const auto& l : r.layers) EXPECT_TRUE(l.sqnr_db > 5 && std::isfinite(l.sqnr_db)) << l.name << " " << l.sqnr_db;
  EXPECT_EQ(r.quantizers.size(), quant::named_quantizers(*model).size());
  for (const auto& q : r.quantizers) {
    EXPECT_LE(q.range_min, q.range_max) << q.name;
    EXPECT_GE(q.clip_fraction, 0.0) << q.name;
    EXPECT_GT(q.sqnr_db, 10.0) << q.name;
  }
  EXPECT_GT(r.logits_sqnr_db, 10.0);
  for (auto& [name, q] : quant::named_quantizers(*model)) EXPECT_EQ(q->state(), quant::QuantState::eval) << name;
  EXPECT_NE(r.str().find("| layer1.0.add | QAdd |"), std::string::npos);
}

tools::TrainConfig qat_config(const std::string& out) {
  tools::TrainConfig c = tiny_config(out);
  c.quant = true;
  c.quant_init = float_checkpoint();
  c.recipe.backend = "tensorrt";
  c.recipe.algorithm = "lsq";
  c.recipe.weight_bits = 4;
  c.recipe.activation_bits = 4;
  c.recipe.fold = "jacob";
  c.freeze_bn_epoch = 1;
  c.epochs = 2;
  c.limit_train = 640;  // 20 steps per epoch
  c.lr = 0.01;
  c.warmup_epochs = 0;
  c.log_every = 10;
  return c;
}

TEST(Qat, TrainsFromAFloatCheckpointAndResumesBitIdentically) {
  if (!have_data()) GTEST_SKIP() << test::no_fashion_mnist_message();
  const std::string straight = temp_dir("qat_straight"), split = temp_dir("qat_split");
  const tools::TrainResult r = tools::train(qat_config(straight));
  EXPECT_EQ(r.steps, 40);
  EXPECT_TRUE(r.evaluated);
  EXPECT_GT(r.test_top1, 40.0);
  // The checkpoint is a quantized one, in state qat, with frozen BN after epoch 1.
  std::map<std::string, std::string> meta;
  auto model = tools::load_model(straight + "/last.safetensors", "", &meta);
  EXPECT_EQ(quant::QuantRecipe::from_json(meta.at("quant"), "last").weight_bits, 4);
  const auto quantizers = quant::named_quantizers(*model);
  ASSERT_FALSE(quantizers.empty());
  for (auto& [name, q] : quantizers) EXPECT_EQ(q->state(), quant::QuantState::qat) << name;
  const tools::EvalResult e = tools::evaluate(*model, "", 256, 500);
  EXPECT_EQ(e.top1, r.test_top1);
  // The log's step lines carry each quantizer's diagnostics.
  std::ifstream log(straight + "/log.jsonl");
  std::string line;
  bool saw_quant = false;
  while (std::getline(log, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("event") == "step" && j.contains("quant")) {
      saw_quant = true;
      const auto& s = j.at("quant").at("layer1.0.conv1.weight_quant");
      EXPECT_EQ(s.at("state"), "qat");
      EXPECT_TRUE(s.contains("clip_fraction"));
      EXPECT_TRUE(s.contains("grad_scale"));
    }
  }
  EXPECT_TRUE(saw_quant);

  // Stopped after 25 steps (inside epoch 2, after the freeze) and resumed: the same bits.
  tools::TrainConfig first = qat_config(split);
  first.max_steps = 25;
  tools::train(first);
  tools::TrainConfig rest = qat_config(split);
  rest.resume = true;
  tools::train(rest);
  const nn::NamedTensors a = nn::load_safetensors(straight + "/last.safetensors");
  const nn::NamedTensors b = nn::load_safetensors(split + "/last.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(raw::max(raw::abs(raw::sub(a[i].second.to(DType::f64), b[i].second.to(DType::f64)))).item(), 0.0)
        << a[i].first;
  }
}

TEST(Qat, RefusesAMissingOrQuantizedInit) {
  if (!have_data()) GTEST_SKIP() << test::no_fashion_mnist_message();
  tools::TrainConfig c = qat_config(temp_dir("qat_bad"));
  c.quant_init = "";
  EXPECT_THROW(tools::train(c), Error);
}

}  // namespace
}  // namespace lowbit
