#include "tools/quantize.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "autograd/autograd.h"
#include "data/idx.h"
#include "data/loader.h"
#include "nn/safetensors.h"
#include "quant/calibrate.h"
#include "quant/conv_bn.h"
#include "quant/prepare.h"
#include "quant/qlayers.h"
#include "quant/state.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tools/progress.h"
#include "tools/train.h"

namespace lowbit::tools {

namespace {

using Json = nlohmann::json;
constexpr int64_t kClasses = 10;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// 10 log10(sum f^2 / sum (q - f)^2) in double; +inf when identical.
double sqnr_db(const Tensor& reference, const Tensor& test) {
  const Tensor f = reference.to(DType::f64), q = test.to(DType::f64);
  const double signal = raw::sum(raw::mul(f, f)).item();
  const Tensor e = raw::sub(q, f);
  const double noise = raw::sum(raw::mul(e, e)).item();
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(signal / noise);
}

bool is_quantized_layer(const nn::Module& m) {
  return dynamic_cast<const quant::QConv2d*>(&m) || dynamic_cast<const quant::QLinear*>(&m) ||
         dynamic_cast<const quant::ConvBn2d*>(&m) || dynamic_cast<const quant::QAdd*>(&m) ||
         dynamic_cast<const quant::QConcat*>(&m);
}

}  // namespace

Tensor fashion_mnist_example() { return zeros({1, 1, 28, 28}); }

std::shared_ptr<nn::Module> load_model(const std::string& path, const std::string& model_name,
                                       std::map<std::string, std::string>* meta_out) {
  std::map<std::string, std::string> meta;
  const nn::NamedTensors state = nn::load_safetensors(path, &meta);
  std::string name = model_name;
  if (name.empty()) {
    LOWBIT_CHECK(meta.count("model"), path, " names no model in its metadata; pass --model");
    name = meta.at("model");
  }
  auto model = make_model(name, 1, kClasses, 0);
  if (meta.count("quant")) {
    const quant::QuantRecipe recipe = quant::QuantRecipe::from_json(meta.at("quant"), path);
    quant::prepare(*model, fashion_mnist_example(), recipe.options());
  }
  model->load_state_dict(state, path);
  if (meta_out) *meta_out = meta;
  return model;
}

void save_model(const std::string& path, nn::Module& model, const std::string& model_name,
                const std::string& recipe_json) {
  std::map<std::string, std::string> meta{
      {"model", model_name}, {"in_channels", "1"}, {"num_classes", std::to_string(kClasses)}};
  if (!recipe_json.empty()) meta["quant"] = recipe_json;
  nn::save_safetensors(path, model.state_dict(), meta);
}

std::vector<Tensor> calibration_batches(const std::string& data_dir, int64_t count, int64_t batch_size,
                                        uint64_t seed) {
  LOWBIT_CHECK(count > 0 && batch_size > 0, "calibration: batches (", count, ") and batch size (", batch_size,
               ") must be positive");
  const data::MnistSplit train =
      data::load_fashion_mnist("train", data_dir.empty() ? data::fashion_mnist_dir() : data_dir);
  const data::InMemoryLoader loader(train.images, train.labels, batch_size, true, seed,
                                    data::Normalize{{kFashionMnistMean}, {kFashionMnistStd}}, {}, true);
  LOWBIT_CHECK(count <= loader.batches_per_epoch(), "calibration: ", count, " batches of ", batch_size,
               " are more than the training split holds (", loader.batches_per_epoch(), ")");
  std::vector<Tensor> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(loader.batch(0, i).images);
  return out;
}

PtqResult ptq(const PtqConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  std::filesystem::create_directories(c.out_dir);
  JsonLog log(c.out_dir + "/log.jsonl");
  auto say = [&](const std::string& line) {
    if (!c.quiet) std::fprintf(stderr, "ptq: %s\n", line.c_str());
  };
  std::map<std::string, std::string> meta;
  auto model = load_model(c.weights, "", &meta);
  LOWBIT_CHECK(!meta.count("quant"), "ptq: ", c.weights, " is already quantized; give a float checkpoint");
  const quant::QuantOptions options = c.recipe.options();
  log.write(Json{{"event", "start"},
                 {"weights", c.weights},
                 {"model", meta.at("model")},
                 {"recipe", Json::parse(c.recipe.to_json())},
                 {"options", options.str()},
                 {"calib_batches", c.calib_batches},
                 {"calib_batch_size", c.calib_batch_size},
                 {"bn_recalib_batches", c.bn_recalib_batches}});
  say(str_cat("configuration: ", options.str()));

  PtqResult r;
  const EvalResult fp = evaluate(*model, c.data_dir, c.eval_batch_size, c.limit_test);
  r.float_top1 = fp.top1;
  r.float_loss = fp.loss;
  say(str_cat("float model: top-1 ", fp.top1, "% on ", fp.images, " test images"));
  log.write(Json{{"event", "float_eval"}, {"top1", fp.top1}, {"top5", fp.top5}, {"loss", fp.loss}});

  const quant::PrepareReport report = quant::prepare(*model, fashion_mnist_example(), options);
  {
    std::ofstream out(c.out_dir + "/prepare.txt");
    out << report.str();
  }
  r.quantizers = static_cast<int64_t>(report.quantizers.size());
  say(str_cat(report.quantizers.size(), " quantizers placed (", c.out_dir, "/prepare.txt)"));

  const std::vector<Tensor> batches = calibration_batches(c.data_dir, c.calib_batches, c.calib_batch_size, c.seed);
  const bool bar = !c.quiet && isatty(fileno(stderr));  // plain lines otherwise
  const auto source = [&](int64_t i) {
    if (bar)
      std::fprintf(stderr, "\rptq: %s %lld/%lld", progress_bar(double(i + 1) / double(batches.size())).c_str(),
                   static_cast<long long>(i + 1), static_cast<long long>(batches.size()));
    return batches[static_cast<size_t>(i) % batches.size()];
  };
  quant::calibrate(*model, source, c.calib_batches);
  if (bar) std::fprintf(stderr, "\n");
  say(str_cat("calibrated on ", c.calib_batches, " batches of ", c.calib_batch_size, " training images"));
  quant::set_state(*model, quant::QuantState::eval);
  if (c.bn_recalib_batches > 0) {
    const int64_t n = quant::recalibrate_bn(*model, source, c.bn_recalib_batches);
    if (bar) std::fprintf(stderr, "\n");
    say(str_cat("re-estimated the statistics of ", n, " BN layers on ", c.bn_recalib_batches, " batches"));
  }
  const EvalResult q = evaluate(*model, c.data_dir, c.eval_batch_size, c.limit_test);
  r.quant_top1 = q.top1;
  r.quant_loss = q.loss;
  r.path = c.out_dir + "/quantized.safetensors";
  save_model(r.path, *model, meta.at("model"), c.recipe.to_json());
  r.seconds = seconds_since(t0);
  log.write(Json{{"event", "quant_eval"},
                 {"top1", q.top1},
                 {"top5", q.top5},
                 {"loss", q.loss},
                 {"drop", fp.top1 - q.top1},
                 {"path", r.path},
                 {"seconds", r.seconds}});
  say(str_cat("quantized model: top-1 ", q.top1, "% (float ", fp.top1, "%, drop ", fp.top1 - q.top1, ") -> ", r.path));
  return r;
}

std::string QuantReport::str() const {
  auto db = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  std::string out = str_cat("quantization report on ", images, " test images; logits SQNR ", db(logits_sqnr_db),
                            " dB\n\n| layer | type | output SQNR (dB) |\n|---|---|---|\n");
  for (const auto& l : layers) out += str_cat("| ", l.name, " | ", l.type, " | ", db(l.sqnr_db), " |\n");
  out += "\n| quantizer | config | state | range | clipped | SQNR on its input (dB) |\n|---|---|---|---|---|---|\n";
  for (const auto& q : quantizers) {
    char range[64];
    std::snprintf(range, sizeof range, "[%.4g, %.4g]", q.range_min, q.range_max);
    char clip[32];
    std::snprintf(clip, sizeof clip, "%.3f%%", 100 * q.clip_fraction);
    out += str_cat("| ", q.name, " | ", q.config, " | ", q.state, " | ", range, " | ", clip, " | ", db(q.sqnr_db), " |\n");
  }
  return out;
}

QuantReport quant_report(nn::Module& model, const std::string& data_dir, int64_t images) {
  const auto quantizers = quant::named_quantizers(model);
  LOWBIT_CHECK(!quantizers.empty(), "quant-report: the model has no quantizers (a float checkpoint?)");
  data::MnistSplit test = data::load_fashion_mnist("test", data_dir.empty() ? data::fashion_mnist_dir() : data_dir);
  images = std::min<int64_t>(images, test.images.size(0));
  LOWBIT_CHECK(images > 0, "quant-report: the number of images must be positive");
  const data::InMemoryLoader loader(test.images.narrow(0, 0, images), test.labels.narrow(0, 0, images), images, false,
                                    0, data::Normalize{{kFashionMnistMean}, {kFashionMnistStd}});
  const Tensor x = loader.batch(0, 0).images;

  std::map<const nn::Module*, std::string> names;
  for (auto& [name, m] : model.named_modules()) names.emplace(m, name);
  std::vector<std::pair<quant::Quantizer*, quant::QuantState>> states;
  std::vector<std::pair<quant::Quantizer*, std::optional<quant::QuantState>>> pins;
  for (auto& [name, q] : quantizers) {
    states.emplace_back(q, q->state());
    pins.emplace_back(q, q->pinned_state());
  }
  auto restore = [&] {
    for (auto& [q, pin] : pins) q->pin_state(pin);
    for (auto& [q, state] : states) q->set_state(state);
    quant::set_collect_stats(model, false);
  };
  const bool was_training = model.is_training();
  model.eval();
  // Layer outputs of one run, and each quantizer's (input, output) of its first call.
  struct Run {
    std::map<const nn::Module*, Tensor> layer_out;
    std::map<const nn::Module*, std::pair<Tensor, Tensor>> quant_io;
    std::vector<const nn::Module*> order;
    Tensor logits;
  };
  auto run = [&](Run& r) {
    NoGradGuard no_grad;
    nn::ModuleTrace trace([&](const nn::Module& m, std::span<const Tensor> in, const Tensor& out) {
      if (is_quantized_layer(m) && !r.layer_out.count(&m)) {
        r.layer_out[&m] = out;
        r.order.push_back(&m);
      }
      if (dynamic_cast<const quant::Quantizer*>(&m) && !r.quant_io.count(&m)) r.quant_io[&m] = {in[0], out};
    });
    r.logits = model(x);
  };
  QuantReport report;
  report.images = images;
  Run fp, q;
  try {
    for (auto& [name, qz] : quantizers) qz->pin_state(quant::QuantState::fp);
    run(fp);
    for (auto& [name, qz] : quantizers) qz->pin_state(std::nullopt);
    for (auto& [qz, state] : states) qz->set_state(state == quant::QuantState::fp ? state : quant::QuantState::eval);
    quant::set_collect_stats(model, true);
    run(q);
  } catch (...) {
    restore();
    model.train(was_training);
    throw;
  }
  for (const nn::Module* m : q.order) {
    if (!fp.layer_out.count(m)) continue;
    report.layers.push_back({names.at(m), m->type(), sqnr_db(fp.layer_out.at(m), q.layer_out.at(m))});
  }
  report.logits_sqnr_db = sqnr_db(fp.logits, q.logits);
  for (auto& [name, qz] : quantizers) {
    QuantizerReport r{name, str_cat(qz->type(), " ", qz->config.str()), quant::to_string(qz->state())};
    const quant::QuantizerStats s = qz->stats();
    if (!s.range_min.empty()) {
      r.range_min = *std::min_element(s.range_min.begin(), s.range_min.end());
      r.range_max = *std::max_element(s.range_max.begin(), s.range_max.end());
    }
    r.clip_fraction = s.clip_fraction;
    if (q.quant_io.count(qz)) r.sqnr_db = sqnr_db(q.quant_io.at(qz).first, q.quant_io.at(qz).second);
    report.quantizers.push_back(r);
  }
  restore();
  model.train(was_training);
  return report;
}

}  // namespace lowbit::tools
