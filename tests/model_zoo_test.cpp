// models/zoo: every model against PyTorch. tests/golden/make_models_golden.py builds
// torchvision's networks (timm's names for EfficientNet-Lite0) in PyTorch, fills them with
// deterministic weights and writes their state-dict names and shapes and their logits;
// here the lowbit model of the same name (models::create) is filled with the same
// formula and must give the same logits, in eval mode and after one training-mode forward.
// Also: published parameter and MAC counts, create() by name, CIFAR stems, and the
// structure quant/ relies on (a BatchNorm after every conv, a module for every add).
#include "models/zoo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

struct Golden {
  std::vector<std::tuple<std::string, std::string, std::string>> params;  // name, dtype, "64,3,7,7"
  std::map<std::string, std::vector<double>> values;                     // eval64, train64, eval32, ...
};

Golden read_golden(const std::string& model) {
  const std::string path = std::string(LOWBIT_SOURCE_DIR) + "/tests/golden/models/" + model + ".txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  Golden g;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string kind;
    ss >> kind;
    if (kind == "param") {
      std::string name, dtype, shape;
      ss >> name >> dtype >> shape;
      g.params.emplace_back(name, dtype, shape == "-" ? "" : shape);
    } else {
      double v;
      ss >> v;
      g.values[kind].push_back(v);
    }
  }
  return g;
}

std::string shape_csv(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out;
}

// The golden script's scrambled_sin(): sin(0.37 i + 1.3 t + 0.7 ((i * i) mod 1009)), the
// same operations in the same order, so the same doubles.
double scrambled_sin(int64_t i, int64_t t) {
  const auto k = static_cast<double>((i * i) % 1009);
  return std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(t) + 0.7 * k);
}

// The golden script's fill(): tensor t of the state dict, element i.
void fill(nn::Module& model) {
  int64_t t = 0;
  for (auto& [name, tensor] : model.state_dict()) {
    Tensor dst = tensor;
    if (name.ends_with("num_batches_tracked")) {
      dst.fill_(0);
      ++t;
      continue;
    }
    const double fan_in = static_cast<double>(dst.numel() / dst.size(0));
    std::vector<double> v(static_cast<size_t>(dst.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
      const double s = scrambled_sin(static_cast<int64_t>(i), t);
      if (name.ends_with("running_var")) v[i] = 1 + 0.25 * s;
      else if (name.ends_with("running_mean") || name.ends_with("bias")) v[i] = 0.1 * s;
      else if (dst.dim() == 1) v[i] = 1 + 0.2 * s;  // BN weight
      else v[i] = 2 * s / std::sqrt(fan_in);
    }
    dst.copy_(from_vector(v, dst.sizes()));  // rounded once to the model's dtype
    ++t;
  }
}

Tensor golden_input() {
  std::vector<double> x(2 * 3 * 128 * 128);
  for (size_t i = 0; i < x.size(); ++i) x[i] = scrambled_sin(static_cast<int64_t>(i), -1);
  return from_vector(x, {2, 3, 128, 128});
}

// Training mode with the random layers (Dropout, StochasticDepth) off, as the script does.
void train_mode(nn::Module& model) {
  model.train();
  for (auto& [name, m] : model.named_modules()) {
    if (m->type() == "Dropout" || m->type() == "StochasticDepth") m->eval();
  }
}

// max |actual - expected| / max |expected|: the error relative to the logits' scale.
double relative_error(const std::vector<double>& expected, const Tensor& actual) {
  const std::vector<double> a = actual.to(DType::f64).to_vector<double>();
  EXPECT_EQ(a.size(), expected.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), expected.size()); ++i) {
    err = std::max(err, std::abs(a[i] - expected[i]));
    scale = std::max(scale, std::abs(expected[i]));
  }
  return err / scale;
}

class ZooGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooGolden, StateDictIsPyTorchs) {
  const Golden g = read_golden(GetParam());
  auto model = models::create(GetParam(), {.num_classes = 10});
  const nn::NamedTensors state = model->state_dict();
  ASSERT_EQ(state.size(), g.params.size());
  for (size_t i = 0; i < state.size(); ++i) {
    const auto& [name, dtype, shape] = g.params[i];
    EXPECT_EQ(state[i].first, name) << "entry " << i;
    EXPECT_EQ(shape_csv(state[i].second.sizes()), shape) << name;
    EXPECT_EQ(state[i].second.dtype() == DType::i64, dtype == "int64") << name;
  }
}

// f64: both sum in different orders, so they agree to about 1e-13 of the logits' scale,
// not bit for bit. f32: against PyTorch's f32 logits (the same f64 weights rounded to f32)
// and against the f64 ones, within 1e-4 of the logits' scale. Measured: eval <= 3e-6;
// training mode up to 6e-5 for ResNet-50, whose 53 batch-statistics BNs each amplify f32
// rounding (PyTorch's own f32 logits differ from its f64 ones by 2e-5 there).
TEST_P(ZooGolden, LogitsMatchPyTorch) {
  const Golden g = read_golden(GetParam());
  for (DType dtype : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::string tag = dtype == DType::f64 ? "64" : "32";
    const double tol = dtype == DType::f64 ? 1e-11 : 1e-4;
    auto model = models::create(GetParam(), {.num_classes = 10, .dtype = dtype});
    fill(*model);
    const Tensor x = golden_input().to(dtype);
    model->eval();
    const Tensor eval_logits = (*model)(x);
    train_mode(*model);
    const Tensor train_logits = (*model)(x);
    const double e_eval = relative_error(g.values.at("eval" + tag), eval_logits);
    const double e_train = relative_error(g.values.at("train" + tag), train_logits);
    EXPECT_LE(e_eval, tol);
    EXPECT_LE(e_train, tol);
    std::printf("%s %s: eval %.2e, train %.2e relative to PyTorch %s", GetParam().c_str(), dtype_name(dtype),
                e_eval, e_train, dtype_name(dtype));
    if (dtype == DType::f32) {
      const double e_eval64 = relative_error(g.values.at("eval64"), eval_logits);
      const double e_train64 = relative_error(g.values.at("train64"), train_logits);
      EXPECT_LE(e_eval64, tol);
      EXPECT_LE(e_train64, tol);
      std::printf("; eval %.2e, train %.2e relative to f64", e_eval64, e_train64);
    }
    std::printf("\n");
    // The first BN's running mean moved by momentum x batch mean, as torch's.
    const nn::NamedTensors state = model->state_dict();
    const auto mean = std::find_if(state.begin(), state.end(),
                                   [](const auto& e) { return e.first.ends_with("running_mean"); });
    ASSERT_NE(mean, state.end());
    EXPECT_LE(relative_error(g.values.at("running_mean"), mean->second.narrow(0, 0, 4)), tol) << mean->first;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ZooGolden,
                         ::testing::Values("resnet18", "resnet50", "mobilenet_v2", "efficientnet_lite0",
                                           "regnet_x_400mf", "regnet_x_600mf"));

// Published sizes at 224 x 224 and 1000 classes. Parameters: torchvision's model docs
// (resnet18/34/50, mobilenet_v2, regnet_x_400mf/800mf), timm's efficientnet_lite0 (4.65M;
// the TF release rounds to 4.7M), pycls's RegNetX-600MF (6.2M). MACs: torchvision's
// "GFLOPS" column, which counts multiply-adds (1.81, 3.66, 4.09, 0.30, 0.41, 0.80), pycls's
// 0.60 for RegNetX-600MF; EfficientNet-Lite0's conv and linear MACs are 0.385 G (the TF
// release's 407M also counts BN, activations and adds).
TEST(ModelZoo, PublishedParameterAndMacCounts) {
  struct Row {
    const char* name;
    int64_t params;
    double gmacs, tol;
  };
  const Row rows[] = {{"resnet18", 11'689'512, 1.81, 0.005},       {"resnet34", 21'797'672, 3.66, 0.005},
                      {"resnet50", 25'557'032, 4.09, 0.005},       {"mobilenet_v2", 3'504'872, 0.30, 0.005},
                      {"efficientnet_lite0", 4'652'008, 0.385, 0.001}, {"regnet_x_400mf", 5'495'976, 0.41, 0.005},
                      {"regnet_x_600mf", 6'196'040, 0.60, 0.005},  {"regnet_x_800mf", 7'259'656, 0.80, 0.005}};
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    Generator gen{1, 0};
    auto model = models::create(r.name, {.gen = &gen});
    EXPECT_EQ(nn::parameter_count(*model), r.params);
    model->eval();
    const nn::Summary s = nn::summarize(*model, {1, 3, 224, 224});
    EXPECT_EQ(s.total_params, r.params);
    EXPECT_NEAR(static_cast<double>(s.total_macs) / 1e9, r.gmacs, r.tol);
    std::printf("%-20s %11lld params  %.3f GMACs\n", r.name, static_cast<long long>(s.total_params),
                static_cast<double>(s.total_macs) / 1e9);
  }
}

// What quant/ relies on: each conv has its own BatchNorm right after it (never pre-fused,
// never shared), and every residual addition is an nn::Add module.
TEST(ModelZoo, EveryConvHasItsBatchNormAndEveryAddIsAModule) {
  const std::map<std::string, int64_t> adds = {{"resnet18", 8},           {"resnet34", 16},
                                               {"resnet50", 16},          {"resnet20", 9},
                                               {"resnet56", 27},          {"mobilenet_v2", 10},
                                               {"efficientnet_lite0", 9}, {"regnet_x_400mf", 22},
                                               {"regnet_x_600mf", 16},    {"regnet_x_800mf", 16}};
  for (const std::string& name : models::model_names()) {
    SCOPED_TRACE(name);
    Generator gen{1, 0};
    auto model = models::create(name, {.num_classes = 10, .gen = &gen});
    std::vector<nn::Module*> seq;
    int64_t n_add = 0;
    for (auto& [path, m] : model->named_modules()) {
      if (m->type() == "Conv2d" || m->type() == "BatchNorm2d") seq.push_back(m);
      if (m->type() == "Add") ++n_add;
    }
    ASSERT_EQ(seq.size() % 2, 0u);
    for (size_t i = 0; i < seq.size(); i += 2) {
      auto* conv = dynamic_cast<nn::Conv2d*>(seq[i]);
      auto* bn = dynamic_cast<nn::BatchNorm2d*>(seq[i + 1]);
      ASSERT_TRUE(conv && bn) << "module " << i << " of the conv/BN sequence";
      EXPECT_EQ(bn->num_features, conv->out_channels);
      EXPECT_FALSE(conv->options.bias);
    }
    ASSERT_TRUE(adds.count(name)) << "add the model's residual count to this test";
    EXPECT_EQ(n_add, adds.at(name));
  }
}

TEST(ModelZoo, CreateByNameAndCifarStems) {
  EXPECT_EQ(models::model_names().front(), "resnet18");
  try {
    models::create("resnet19");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'resnet19'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mobilenet_v2"), std::string::npos) << e.what();
  }
  // Small inputs (Fashion-MNIST's 28x28 grey images) with the stride-1 stem.
  for (const std::string& name : models::model_names()) {
    SCOPED_TRACE(name);
    Generator gen{2, 0};
    auto model = models::create(name, {.num_classes = 7, .in_channels = 1, .stem = models::Stem::cifar, .gen = &gen});
    const Tensor y = (*model)(normal({2, 1, 28, 28}, 0, 1, DType::f32, Device::cpu(), &gen));
    EXPECT_EQ(y.sizes(), (Shape{2, 7}));
    EXPECT_TRUE(std::isfinite(raw::sum(y).item()));
  }
}

// Same seed, same weights: models are built deterministically from their generator.
TEST(ModelZoo, SameSeedSameWeights) {
  for (const char* name : {"mobilenet_v2", "efficientnet_lite0"}) {
    Generator a{11, 0}, b{11, 0};
    auto m1 = models::create(name, {.num_classes = 5, .gen = &a});
    auto m2 = models::create(name, {.num_classes = 5, .gen = &b});
    const auto s1 = m1->state_dict(), s2 = m2->state_dict();
    for (size_t i = 0; i < s1.size(); ++i) {
      EXPECT_EQ(raw::sum(raw::abs(raw::sub(s1[i].second, s2[i].second))).item(), 0.0) << s1[i].first;
    }
  }
}

}  // namespace
}  // namespace lowbit
