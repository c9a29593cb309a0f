#include "tools/train.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "autograd/autograd.h"
#include "data/idx.h"
#include "data/loader.h"
#include "models/resnet.h"
#include "models/zoo.h"
#include "nn/lr_schedule.h"
#include "nn/metrics.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/summary.h"
#include "quant/calibrate.h"
#include "quant/conv_bn.h"
#include "quant/prepare.h"
#include "quant/state.h"
#include "tensor/error.h"
#include "tensor/random.h"
#include "tools/progress.h"
#include "tools/quantize.h"

namespace lowbit::tools {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kMean = kFashionMnistMean, kStd = kFashionMnistStd;
constexpr int64_t kClasses = 10;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The settings a resumed run must share with the run it continues: anything else would
// change the batches, the schedule or the model, and the result would no longer be the
// straight run's.
Json identity_of(const TrainConfig& c) {
  Json j{{"model", c.model},
              {"epochs", c.epochs},
              {"batch_size", c.batch_size},
              {"optimizer", c.optimizer},
              {"lr", c.lr},
              {"momentum", c.momentum},
              {"nesterov", c.nesterov},
              {"weight_decay", c.weight_decay},
              {"decay_bn_and_bias", c.decay_bn_and_bias},
              {"warmup_epochs", c.warmup_epochs},
              {"label_smoothing", c.label_smoothing},
              {"crop_padding", c.crop_padding},
              {"horizontal_flip", c.horizontal_flip},
              {"seed", c.seed},
              {"limit_train", c.limit_train}};
  if (c.quant) {
    j["quant"] = Json::parse(c.recipe.to_json());
    j["quant_init"] = c.quant_init;
    j["calib_batches"] = c.calib_batches;
    j["freeze_bn_epoch"] = c.freeze_bn_epoch;
  }
  return j;
}

// Parameters with weight decay and without: BN weights and biases and every bias (1-D
// tensors) are usually left undecayed (Goyal et al. 2017, "Accurate, Large Minibatch SGD").
std::pair<std::vector<Tensor>, std::vector<Tensor>> decay_groups(const nn::Module& model, bool decay_all) {
  std::vector<Tensor> decay, no_decay;
  for (auto& [name, p] : model.named_parameters()) (decay_all || p.dim() > 1 ? decay : no_decay).push_back(p);
  return {decay, no_decay};
}

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& c, const nn::Module& model) {
  auto [decay, no_decay] = decay_groups(model, c.decay_bn_and_bias);
  if (c.optimizer == "sgd") {
    std::vector<nn::SgdGroup> groups;
    const nn::SgdOptions o{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay, .nesterov = c.nesterov};
    groups.push_back({decay, o});
    if (!no_decay.empty()) groups.push_back({no_decay, nn::SgdOptions{o.lr, o.momentum, 0, 0, o.nesterov}});
    return std::make_unique<nn::SGD>(std::move(groups));
  }
  if (c.optimizer == "adamw") {
    std::vector<nn::AdamWGroup> groups;
    nn::AdamWOptions o;
    o.lr = c.lr;
    o.weight_decay = c.weight_decay;
    groups.push_back({decay, o});
    o.weight_decay = 0;
    if (!no_decay.empty()) groups.push_back({no_decay, o});
    return std::make_unique<nn::AdamW>(std::move(groups));
  }
  throw_error(str_cat("train: unknown optimizer '", c.optimizer, "' (sgd or adamw)"));
}

// Linear warm-up from lr/100 over the first warmup_epochs, then cosine annealing to 0.
nn::LrSchedule make_schedule(const TrainConfig& c, int64_t steps_per_epoch) {
  const int64_t total = c.epochs * steps_per_epoch;
  const int64_t warmup = std::min<int64_t>(total, std::llround(c.warmup_epochs * static_cast<double>(steps_per_epoch)));
  if (warmup == 0) return nn::cosine_annealing_lr(total);
  if (warmup >= total) return nn::linear_lr(0.01, 1.0, warmup);
  return nn::sequential_lr({nn::linear_lr(0.01, 1.0, warmup), nn::cosine_annealing_lr(total - warmup)}, {warmup});
}

}  // namespace

std::shared_ptr<nn::Module> make_model(const std::string& name, int64_t in_channels, int64_t num_classes,
                                       uint64_t seed) {
  Generator gen{seed, 0};
  if (name == "tiny")
    return std::make_shared<models::ResNet>(models::ResNetConfig{.blocks = {1, 1},
                                                                 .widths = {8, 16},
                                                                 .stem = models::Stem::cifar,
                                                                 .in_channels = in_channels,
                                                                 .num_classes = num_classes},
                                            &gen);
  // Fashion-MNIST's 28x28 images: every zoo model with its CIFAR stem (stride 1, no pool).
  return models::create(name, {.num_classes = num_classes,
                               .in_channels = in_channels,
                               .stem = models::Stem::cifar,
                               .gen = &gen});
}

EvalResult evaluate(nn::Module& model, const std::string& data_dir, int64_t batch_size, int64_t limit) {
  data::MnistSplit test = data::load_fashion_mnist("test", data_dir.empty() ? data::fashion_mnist_dir() : data_dir);
  if (limit > 0 && limit < test.images.size(0)) {
    test.images = test.images.narrow(0, 0, limit);
    test.labels = test.labels.narrow(0, 0, limit);
  }
  const data::InMemoryLoader loader(test.images, test.labels, batch_size, false, 0, data::Normalize{{kMean}, {kStd}});
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::pair<quant::Quantizer*, quant::QuantState>> states;
  for (auto& [name, q] : quant::named_quantizers(model)) {
    states.emplace_back(q, q->state());
    if (q->state() != quant::QuantState::fp) q->set_state(quant::QuantState::eval);  // test data observes nothing
  }
  struct Restore {
    nn::Module& model;
    bool training;
    std::vector<std::pair<quant::Quantizer*, quant::QuantState>>& states;
    ~Restore() {
      model.train(training);
      for (auto& [q, state] : states) q->set_state(state);
    }
  } restore{model, was_training, states};
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0;
  int64_t top1 = 0, top5 = 0;
  for (int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
    const data::Batch b = loader.batch(0, i);
    const Tensor logits = model(b.images);
    loss_sum += cross_entropy(logits, b.labels, 0, Reduction::sum).item();
    top1 += nn::topk_correct(logits, b.labels, 1);
    top5 += nn::topk_correct(logits, b.labels, 5);
    r.images += b.labels.size(0);
  }
  const double n = static_cast<double>(std::max<int64_t>(1, r.images));
  r.loss = loss_sum / n;
  r.top1 = 100.0 * static_cast<double>(top1) / n;
  r.top5 = 100.0 * static_cast<double>(top5) / n;
  return r;
}

TrainResult train(const TrainConfig& c) {
  LOWBIT_CHECK(c.epochs > 0 && c.batch_size > 0 && c.lr > 0 && c.log_every > 0, "train: epochs (", c.epochs,
               "), batch size (", c.batch_size, "), lr (", c.lr, ") and log interval (", c.log_every,
               ") must be positive");
  const std::string data_dir = c.data_dir.empty() ? data::fashion_mnist_dir() : c.data_dir;
  data::MnistSplit train_split = data::load_fashion_mnist("train", data_dir);
  if (c.limit_train > 0 && c.limit_train < train_split.images.size(0)) {
    train_split.images = train_split.images.narrow(0, 0, c.limit_train);
    train_split.labels = train_split.labels.narrow(0, 0, c.limit_train);
  }
  const data::InMemoryLoader loader(train_split.images, train_split.labels, c.batch_size, true, c.seed,
                                    data::Normalize{{kMean}, {kStd}},
                                    data::Augment{.crop_padding = c.crop_padding, .horizontal_flip = c.horizontal_flip},
                                    /*drop_last=*/true);
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  LOWBIT_CHECK(steps_per_epoch > 0, "train: ", loader.size(), " training images make no batch of ", c.batch_size);

  auto model = make_model(c.model, 1, kClasses, c.seed);
  std::string recipe_json;
  if (c.quant) {
    // QAT: the float weights first (a resumed run loads everything from last.* below),
    // then the quantizers, initialised on calibration batches.
    LOWBIT_CHECK(c.resume || !c.quant_init.empty(), "train --quant: give the float checkpoint to start from (--init)");
    if (!c.resume) {
      std::map<std::string, std::string> meta;
      model->load_state_dict(nn::load_safetensors(c.quant_init, &meta), c.quant_init);
      LOWBIT_CHECK(!meta.count("quant"), "train --quant: ", c.quant_init, " is already quantized; start from a float checkpoint");
      LOWBIT_CHECK(!meta.count("model") || meta.at("model") == c.model, "train --quant: ", c.quant_init, " holds a ",
                   meta.count("model") ? meta.at("model") : "", ", not a ", c.model);
    }
    const quant::PrepareReport report = quant::prepare(*model, fashion_mnist_example(), c.recipe.options());
    std::filesystem::create_directories(c.out_dir);
    std::ofstream(c.out_dir + "/prepare.txt") << report.str();
    if (!c.resume) {
      const std::vector<Tensor> batches = calibration_batches(data_dir, c.calib_batches, c.batch_size, c.seed);
      quant::calibrate(*model, [&](int64_t i) { return batches[static_cast<size_t>(i)]; }, c.calib_batches);
    }
    quant::set_state(*model, quant::QuantState::qat);
    recipe_json = c.recipe.to_json();
  }
  model->train();
  auto optimizer = make_optimizer(c, *model);
  const nn::LrSchedule schedule = make_schedule(c, steps_per_epoch);

  std::filesystem::create_directories(c.out_dir);
  const std::string last = c.out_dir + "/last.safetensors", last_state = c.out_dir + "/last.train.safetensors";
  const std::string best = c.out_dir + "/best.safetensors";
  JsonLog log(c.out_dir + "/log.jsonl");

  int64_t epoch = 0, next_batch = 0, step = 0;
  double best_top1 = -1;
  if (c.resume) {
    std::map<std::string, std::string> meta;
    model->load_state_dict(nn::load_safetensors(last), last);
    optimizer->load_state(nn::load_safetensors(last_state, &meta));
    const Json saved = Json::parse(meta.at("config"));
    LOWBIT_CHECK(saved == identity_of(c), "train --resume: ", last_state,
                 " was written by a run with other settings:\n  saved ", saved.dump(), "\n  now   ",
                 identity_of(c).dump());
    epoch = std::stoll(meta.at("epoch"));
    next_batch = std::stoll(meta.at("next_batch"));
    step = std::stoll(meta.at("step"));
    best_top1 = std::stod(meta.at("best_top1"));
    default_generator() = Generator{std::stoull(meta.at("generator_seed")), std::stoull(meta.at("generator_offset"))};
  } else {
    default_generator() = Generator{c.seed, 0};
  }
  Json start{{"event", "start"},
             {"config", identity_of(c)},
             {"resume", c.resume},
             {"step", step},
             {"steps_per_epoch", steps_per_epoch},
             {"parameters", nn::parameter_count(*model)}};
  if (c.quant) {
    start["quant_options"] = c.recipe.options().str();
    start["quantizers"] = quant::named_quantizers(*model).size();
    std::fprintf(stderr, "train --quant: %s\n  (%zu quantizers; placement in %s/prepare.txt)\n",
                 c.recipe.options().str().c_str(), quant::named_quantizers(*model).size(), c.out_dir.c_str());
  }
  log.write(start);

  auto save = [&](const char* why) {
    save_model(last, *model, c.model, recipe_json);
    const Generator g = default_generator();
    nn::save_safetensors(last_state, optimizer->state(),
                         {{"config", identity_of(c).dump()},
                          {"epoch", std::to_string(epoch)},
                          {"next_batch", std::to_string(next_batch)},
                          {"step", std::to_string(step)},
                          {"best_top1", std::to_string(best_top1)},
                          {"generator_seed", std::to_string(g.seed)},
                          {"generator_offset", std::to_string(g.offset)}});
    log.write(Json{{"event", "checkpoint"}, {"why", why}, {"step", step}, {"path", last}});
  };

  TrainResult result;
  const bool quantized = !quant::named_quantizers(*model).empty();
  const auto t_run = Clock::now();
  double train_seconds = 0;
  int64_t images = 0;
  bool stopped = false;
  while (epoch < c.epochs && !stopped) {
    if (c.quant && c.freeze_bn_epoch >= 0 && epoch >= c.freeze_bn_epoch)  // saved with the model: resumes agree
      for (auto& [name, m] : model->named_modules())
        if (auto* fused = dynamic_cast<quant::ConvBn2d*>(m); fused && !fused->bn_frozen()) fused->freeze_bn();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    const auto t_epoch = Clock::now();
    for (; next_batch < steps_per_epoch; ++next_batch) {
      if (c.max_steps > 0 && step >= c.max_steps) {
        stopped = true;
        break;
      }
      const auto t_step = Clock::now();
      const data::Batch b = loader.batch(epoch, next_batch);
      schedule.apply(*optimizer, step);  // every group from its initial lr (c.lr)
      const double lr = optimizer->lr(0);
      // Quantizer diagnostics (clip fractions, ranges, LSQ's g) cost a pass over each
      // quantized tensor: collected on the steps that are logged only.
      const bool log_step = (step + 1) % c.log_every == 0 || next_batch + 1 == steps_per_epoch;  // step counts from 1 below
      if (quantized) quant::set_collect_stats(*model, log_step);
      const Tensor logits = (*model)(b.images);
      const Tensor loss = cross_entropy(logits, b.labels, c.label_smoothing);
      optimizer->zero_grad();
      backward(loss);
      optimizer->step();
      if (quantized) quant::after_optimizer_step(*model);  // LSQ: s <- max(|s|, eps)
      ++step;
      train_seconds += seconds_since(t_step);
      const double loss_value = loss.item();
      if (result.steps == 0) result.first_loss = loss_value;
      result.last_loss = loss_value;
      ++result.steps;
      const int64_t n = b.labels.size(0);
      images += n;
      seen += n;
      loss_sum += loss_value * static_cast<double>(n);
      correct += nn::topk_correct(detach(logits), b.labels, 1);
      const double img_s = static_cast<double>(images) / std::max(train_seconds, 1e-9);
      if (log_step) {
        Json entry{{"event", "step"},
                   {"epoch", epoch},
                   {"step", step},
                   {"loss", loss_value},
                   {"train_loss", loss_sum / static_cast<double>(seen)},
                   {"train_top1", 100.0 * static_cast<double>(correct) / static_cast<double>(seen)},
                   {"lr", lr},
                   {"images_per_second", img_s}};
        if (quantized) entry["quant"] = Json::parse(quant::stats_json(*model));
        log.write(entry);
      }
      const double fraction = static_cast<double>(next_batch + 1) / static_cast<double>(steps_per_epoch);
      char line[256];
      std::snprintf(line, sizeof line, "epoch %lld/%lld %s %5.1f%%  loss %.4f  acc %5.2f%%  lr %.4f  %.0f img/s",
                    static_cast<long long>(epoch + 1), static_cast<long long>(c.epochs), progress_bar(fraction).c_str(),
                    100.0 * fraction, loss_sum / static_cast<double>(seen),
                    100.0 * static_cast<double>(correct) / static_cast<double>(seen), lr, img_s);
      if (c.progress_bar) {
        std::fprintf(stderr, "\r%s", line);
      } else if (step % c.log_every == 0) {
        std::fprintf(stderr, "%s\n", line);
      }
    }
    if (c.progress_bar) std::fprintf(stderr, "\n");
    if (stopped) break;
    ++epoch;
    next_batch = 0;
    const EvalResult ev = evaluate(*model, data_dir, 256, c.limit_test);
    result.evaluated = true;
    result.test_top1 = ev.top1;
    result.test_top5 = ev.top5;
    result.test_loss = ev.loss;
    const bool is_best = ev.top1 > best_top1;
    if (is_best) best_top1 = ev.top1;
    log.write(Json{{"event", "epoch"},
                   {"epoch", epoch},
                   {"step", step},
                   {"test_loss", ev.loss},
                   {"test_top1", ev.top1},
                   {"test_top5", ev.top5},
                   {"best_top1", best_top1},
                   {"epoch_seconds", seconds_since(t_epoch)},
                   {"images_per_second", static_cast<double>(images) / std::max(train_seconds, 1e-9)}});
    std::fprintf(stderr, "epoch %lld/%lld: test loss %.4f  top-1 %.2f%%  top-5 %.2f%%%s\n",
                 static_cast<long long>(epoch), static_cast<long long>(c.epochs), ev.loss, ev.top1, ev.top5,
                 is_best ? "  (best)" : "");
    save("epoch");
    if (is_best) save_model(best, *model, c.model, recipe_json);
  }
  if (stopped) save("max_steps");
  result.best_top1 = best_top1;
  result.seconds = train_seconds;
  result.images_per_second = static_cast<double>(images) / std::max(train_seconds, 1e-9);
  log.write(Json{{"event", "summary"},
                 {"steps", step},
                 {"epochs_done", epoch},
                 {"train_seconds", train_seconds},
                 {"wall_seconds", seconds_since(t_run)},
                 {"images_per_second", result.images_per_second},
                 {"test_top1", result.test_top1},
                 {"test_top5", result.test_top5},
                 {"best_top1", best_top1}});
  return result;
}

}  // namespace lowbit::tools
