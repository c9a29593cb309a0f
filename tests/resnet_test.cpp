// models/resnet: torchvision's ResNet-18 names, shapes and numbers, against golden data
// made with PyTorch by tests/golden/make_resnet_golden.py (its docstring says how the
// deterministic weights are chosen; the same formula fills the lowbit model here), and
// the CIFAR ResNet-20's structure.
#include "models/resnet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
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
  std::vector<double> eval, train, running_mean;
};

Golden read_golden() {
  const std::string path = std::string(LOWBIT_SOURCE_DIR) + "/tests/golden/resnet18_golden.txt";
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
      (kind == "eval" ? g.eval : kind == "train" ? g.train : g.running_mean).push_back(v);
    }
  }
  return g;
}

std::string shape_csv(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out;
}

// The golden script's fill(): tensor t of the state dict, element i.
void fill(nn::Module& model) {
  int64_t t = 0;
  for (auto& [name, tensor] : model.state_dict()) {
    Tensor dst = tensor;
    if (name.ends_with("num_batches_tracked")) {
      dst.fill_(0);
    } else {
      std::vector<double> v(static_cast<size_t>(dst.numel()));
      for (size_t i = 0; i < v.size(); ++i) {
        v[i] = 0.05 * std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(t));
        if (name.ends_with("running_var")) v[i] = 1 + 0.5 * v[i];
      }
      dst.copy_(from_vector(v, dst.sizes()));  // rounded once to the model's dtype
    }
    ++t;
  }
}

Tensor golden_input() {
  std::vector<double> x(2 * 3 * 64 * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11 * static_cast<double>(i));
  return from_vector(x, {2, 3, 64, 64});
}

TEST(ResNet, Resnet18StateDictIsTorchvisions) {
  const Golden g = read_golden();
  auto model = models::resnet18(10);
  const nn::NamedTensors state = model->state_dict();
  ASSERT_EQ(state.size(), g.params.size());
  for (size_t i = 0; i < state.size(); ++i) {
    const auto& [name, dtype, shape] = g.params[i];
    EXPECT_EQ(state[i].first, name) << "entry " << i;
    EXPECT_EQ(shape_csv(state[i].second.sizes()), shape) << name;
    EXPECT_EQ(state[i].second.dtype() == DType::i64, dtype == "int64") << name;
  }
  EXPECT_EQ(model->named_parameters().size(), 62u);  // 20 convs + 20 BNs x 2 + fc x 2
}

// The f64 model against PyTorch's f64 logits: eval (running statistics) and train (batch
// statistics, which also moves the running mean by momentum 0.1). Both sum in different
// orders, so they agree to about 1e-13 relative, not bit for bit. The f32 model agrees to
// about 1e-4 of the logits' scale (training mode: batch norm over 2 x 2 x 2 values in layer4 amplifies f32
// rounding).
TEST(ResNet, Resnet18MatchesPyTorch) {
  const Golden g = read_golden();
  for (DType dtype : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double rtol = dtype == DType::f64 ? 1e-11 : 5e-4, atol = dtype == DType::f64 ? 1e-13 : 1e-4;
    auto model = std::make_shared<models::ResNet>(models::ResNetConfig{.num_classes = 10, .dtype = dtype});
    fill(*model);
    const Tensor x = golden_input().to(dtype);
    model->eval();
    Tensor y = (*model)(x);
    EXPECT_TRUE(test::all_close(from_vector(g.eval, {2, 10}), y.to(DType::f64), rtol, atol, "eval logits"));
    model->train();
    y = (*model)(x);
    EXPECT_TRUE(test::all_close(from_vector(g.train, {2, 10}), y.to(DType::f64), rtol, atol, "train logits"));
    auto block = std::dynamic_pointer_cast<models::BasicBlock>(
        std::dynamic_pointer_cast<nn::Sequential>(model->child("layer1"))->child("0"));
    ASSERT_NE(block, nullptr);
    EXPECT_TRUE(test::all_close(from_vector(g.running_mean, {4}),
                                block->bn1->running_mean.narrow(0, 0, 4).to(DType::f64), rtol, atol,
                                "running mean after one training batch"));
    EXPECT_EQ(block->bn1->num_batches_tracked.item(), 1.0);
  }
}

TEST(ResNet, Resnet20Structure) {
  Generator gen{7, 0};
  auto model = models::resnet20(10, 1, &gen);
  const int64_t params = nn::parameter_count(*model);
  // stem 144 + 32; stage 1: 3 x (2 x 2304 + 64); stage 2: 4608 + 9216 + 128 + 512 + 64
  // (1x1 shortcut) + 2 x 18560; stage 3: 18432 + 36864 + 256 + 2048 + 128 + 2 x 73984;
  // fc 650. About the paper's 0.27M.
  EXPECT_EQ(params, 272'186);
  const nn::Summary s = nn::summarize(*model, {1, 1, 28, 28});
  EXPECT_EQ(s.total_params, params);
  EXPECT_EQ(s.rows.back().type, "Linear");
  EXPECT_EQ(s.rows.back().output, (Shape{1, 10}));
  auto y = (*model)(zeros({2, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), (Shape{2, 10}));
  model->eval();
  EXPECT_FALSE(model->child("layer3")->is_training());
}

// torchvision's published parameter counts (torchvision.models docs: resnet18 11,689,512,
// resnet34 21,797,672) and MACs at 224 x 224 (its "GFLOPS" column, which counts
// multiply-adds: 1.81 and 3.66), from the model summary.
TEST(ResNet, ImagenetResnetsHaveTheirPublishedSize) {
  Generator gen{3, 0};
  auto r18 = models::resnet18(1000, 3, models::Stem::imagenet, &gen);
  EXPECT_EQ(nn::parameter_count(*r18), 11'689'512);
  const nn::Summary s18 = nn::summarize(*r18, {1, 3, 224, 224});
  EXPECT_EQ(s18.total_params, 11'689'512);
  EXPECT_NEAR(static_cast<double>(s18.total_macs) / 1e9, 1.81, 0.005);
  auto r34 = models::resnet34(1000, 3, models::Stem::imagenet, &gen);
  EXPECT_EQ(nn::parameter_count(*r34), 21'797'672);
  const nn::Summary s34 = nn::summarize(*r34, {1, 3, 224, 224});
  EXPECT_NEAR(static_cast<double>(s34.total_macs) / 1e9, 3.66, 0.005);
  EXPECT_EQ(r34->state_dict().size(), 218u);  // 36 convs + 36 BNs x 5 + fc x 2
}

// ResNet-56: 9 blocks per stage. The paper's network (parameter-free shortcuts, option A)
// has 853,018 parameters for 10 classes (the paper's 0.85M); here the two shape-changing
// shortcuts are 1x1 convs with BNs (option B): 16 x 32 + 64 and 32 x 64 + 128 more.
TEST(ResNet, Resnet56Structure) {
  Generator gen{5, 0};
  auto model = models::resnet56(10, 3, &gen);
  const int64_t params = nn::parameter_count(*model);
  const nn::Summary s = nn::summarize(*model, {1, 3, 32, 32});
  EXPECT_EQ(s.total_params, params);
  EXPECT_EQ(params, 853'018 + 16 * 32 + 64 + 32 * 64 + 128);
  EXPECT_EQ(model->child("layer3")->children().size(), 9u);
  EXPECT_EQ((*model)(zeros({2, 3, 32, 32})).sizes(), (Shape{2, 10}));
}

TEST(ResNet, ZeroInitResidualAndKaimingFanOut) {
  Generator gen{3, 0};
  models::ResNetConfig c;
  c.blocks = {1, 1};
  c.widths = {32, 64};
  c.stem = models::Stem::cifar;
  c.zero_init_residual = true;
  models::ResNet model(c, &gen);
  for (auto& [name, t] : model.named_parameters()) {
    if (name.ends_with("bn2.weight")) EXPECT_EQ(raw::sum(raw::abs(t)).item(), 0.0) << name;
  }
  // kaiming_normal_(fan_out, ReLU): std sqrt(2 / (C_out * 9)) for the 64-channel 3x3 conv.
  const Tensor w = model.named_parameters()[0].second;  // conv1: 32 x 3 x 3 x 3
  const double expected = std::sqrt(2.0 / (32 * 9));
  const double std = std::sqrt(raw::var(w.to(DType::f64)).item());
  EXPECT_NEAR(std, expected, 0.1 * expected);
}

}  // namespace
}  // namespace lowbit
