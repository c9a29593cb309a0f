// nn/: Module (registration, hierarchical names in torch's order, children, modes,
// zero_grad, printing), load_state_dict (round trip, strict errors, all-or-nothing,
// copies into the existing handles), every layer against the functional op it wraps or
// numbers worked out by hand, an f64 gradcheck of a small model through its parameters,
// init statistics, summarize() and topk_correct.
#include "nn/nn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::bit_equal;
using test::random_tensor;
using Mods = std::vector<std::shared_ptr<nn::Module>>;

// A module whose registration functions are public, to build trees by hand.
class Probe : public nn::Module {
 public:
  explicit Probe(std::string type = "Probe") : Module(std::move(type)) {}
  using nn::Module::register_buffer;
  using nn::Module::register_module;
  using nn::Module::register_parameter;
};

// x -> x + c and x -> x * c: two maps that do not commute, to see the order of calls.
class AddConst : public nn::Module {
 public:
  explicit AddConst(double c) : Module("AddConst"), c(c) {}
  Tensor forward(const Tensor& x) override { return add(x, c); }
  const double c;
};
class MulConst : public nn::Module {
 public:
  explicit MulConst(double c) : Module("MulConst"), c(c) {}
  Tensor forward(const Tensor& x) override { return mul(x, c); }
  const double c;
};

// conv(x) + x through an Add module: a container whose leaves include a two-input layer.
class Residual : public nn::Module {
 public:
  explicit Residual(int64_t channels) : Module("Residual") {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(channels, channels, 3,
                                                                nn::Conv2dOptions{.padding = {1, 1}, .bias = false}));
    add = register_module("add", std::make_shared<nn::Add>());
  }
  Tensor forward(const Tensor& x) override { return (*add)((*conv)(x), x); }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::Add> add;
};

std::vector<std::string> names_of(const nn::NamedTensors& list) {
  std::vector<std::string> out;
  for (const auto& [name, t] : list) out.push_back(name);
  return out;
}

const Tensor& entry(const nn::NamedTensors& list, const std::string& name) {
  for (const auto& [n, t] : list)
    if (n == name) return t;
  throw Error("no entry " + name);
}

double max_abs(const Tensor& t) { return raw::max(raw::abs(t.to(DType::f64))).item(); }

double sample_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  double mean = 0, ss = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

double sample_mean(const Tensor& t) { return raw::mean(t.to(DType::f64)).item(); }

// Conv(1->4) BN ReLU MaxPool Flatten Linear(64->10) for inputs [N, 1, 8, 8]; the
// generator seed fixes the initial weights.
std::shared_ptr<nn::Sequential> small_cnn(uint64_t seed) {
  Generator gen{seed, 0};
  return std::make_shared<nn::Sequential>(
      Mods{std::make_shared<nn::Conv2d>(1, 4, 3, nn::Conv2dOptions{.padding = {1, 1}, .gen = &gen}),
           std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>(),
           std::make_shared<nn::MaxPool2d>(nn::Pair{2, 2}), std::make_shared<nn::Flatten>(),
           std::make_shared<nn::Linear>(64, 10, nn::LinearOptions{.gen = &gen})});
}

// Clones of every state tensor, to compare against later.
std::vector<Tensor> snapshot(const nn::Module& m) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out.push_back(t.clone());
  return out;
}

::testing::AssertionResult state_equals(const nn::Module& m, const std::vector<Tensor>& snap) {
  const nn::NamedTensors state = m.state_dict();
  if (state.size() != snap.size()) return ::testing::AssertionFailure() << "state dict changed size";
  for (size_t i = 0; i < state.size(); ++i) {
    auto r = bit_equal(snap[i], state[i].second, state[i].first);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

// ---- Module: registration ----

TEST(Module, RegistrationErrorsNameTheModuleAndTheName) {
  Probe p("Widget");
  const Tensor w = p.register_parameter("w", zeros({2}));
  EXPECT_LOWBIT_ERROR(p.register_parameter("w", zeros({2})), "Widget", "'w'", "already registered");
  EXPECT_LOWBIT_ERROR(p.register_buffer("w", zeros({2})), "Widget", "'w'", "already registered");
  EXPECT_LOWBIT_ERROR(p.register_module("w", std::make_shared<nn::ReLU>()), "Widget", "'w'", "already registered");
  EXPECT_LOWBIT_ERROR(p.register_parameter("a.b", zeros({2})), "Widget", "'a.b'");
  EXPECT_LOWBIT_ERROR(p.register_buffer("x.y", zeros({2})), "Widget", "'x.y'");
  EXPECT_LOWBIT_ERROR(p.register_module("m.n", std::make_shared<nn::ReLU>()), "Widget", "'m.n'");
  EXPECT_LOWBIT_ERROR(p.register_parameter("", zeros({2})), "Widget", "''");
  EXPECT_LOWBIT_ERROR(p.register_buffer("", zeros({2})), "Widget", "''");
  EXPECT_LOWBIT_ERROR(p.register_module("", std::make_shared<nn::ReLU>()), "Widget", "''");
  EXPECT_LOWBIT_ERROR(p.register_module("c", std::shared_ptr<nn::ReLU>()), "Widget", "'c'", "null");
  EXPECT_LOWBIT_ERROR(p.register_parameter("u", Tensor()), "Widget", "'u'", "undefined");
  EXPECT_LOWBIT_ERROR(p.register_buffer("u", Tensor()), "Widget", "'u'", "undefined");
  // A failed registration registers nothing: the names stay free.
  EXPECT_EQ(names_of(p.state_dict()), std::vector<std::string>{"w"});
  EXPECT_TRUE(p.children().empty());
  auto c = p.register_module("c", std::make_shared<nn::ReLU>());
  EXPECT_EQ(p.child("c"), c);
  p.register_buffer("u", zeros({1}));
  EXPECT_EQ(names_of(p.state_dict()), (std::vector<std::string>{"w", "u"}));

  nn::Sequential seq;
  EXPECT_LOWBIT_ERROR(seq.push_back(std::shared_ptr<nn::ReLU>()), "Sequential", "'0'", "null");
  EXPECT_EQ(seq.size(), 0);
}

TEST(Module, RegisterReturnsTheSameHandleAndParametersRequireGrad) {
  Probe p;
  Tensor t = zeros({3});
  const Tensor r = p.register_parameter("t", t);
  EXPECT_TRUE(r.same_impl(t));
  EXPECT_TRUE(requires_grad(t));
  Tensor b = zeros({3});
  p.register_buffer("b", b);
  EXPECT_FALSE(requires_grad(b));

  auto model = small_cnn(1);
  const std::vector<Tensor> params = model->parameters();
  ASSERT_EQ(params.size(), 6u);  // conv w, b; bn w, b; linear w, b
  for (const Tensor& q : params) {
    EXPECT_TRUE(requires_grad(q));
    EXPECT_TRUE(is_leaf(q));
  }
  for (const auto& [name, buf] : model->named_buffers()) EXPECT_FALSE(requires_grad(buf)) << name;
}

// ---- Module: names and torch's order ----

TEST(Module, HierarchicalNamesInTorchOrder) {
  // Children registered before the root's own tensors: the order must still be own
  // parameters, own buffers, then children (torch's), not registration order.
  auto root = std::make_shared<Probe>("Root");
  auto conv = std::make_shared<nn::Conv2d>(1, 2, 3);
  auto bn = std::make_shared<nn::BatchNorm2d>(2);
  auto body = root->register_module("body", std::make_shared<nn::Sequential>(Mods{conv, bn}));
  root->register_buffer("step", zeros({}, DType::i64));
  const Tensor alpha = root->register_parameter("alpha", ones({1}));
  auto head = root->register_module("head", std::make_shared<nn::Linear>(2, 3));

  const nn::NamedTensors state = root->state_dict();
  EXPECT_EQ(names_of(state), (std::vector<std::string>{"alpha", "step", "body.0.weight", "body.0.bias", "body.1.weight",
                                                       "body.1.bias", "body.1.running_mean", "body.1.running_var",
                                                       "body.1.num_batches_tracked", "head.weight", "head.bias"}));
  EXPECT_EQ(names_of(root->named_parameters()),
            (std::vector<std::string>{"alpha", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                                      "head.weight", "head.bias"}));
  EXPECT_EQ(
      names_of(root->named_buffers()),
      (std::vector<std::string>{"step", "body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked"}));
  // The entries are the layers' own handles.
  EXPECT_TRUE(entry(state, "alpha").same_impl(alpha));
  EXPECT_TRUE(entry(state, "body.0.weight").same_impl(conv->weight));
  EXPECT_TRUE(entry(state, "body.0.bias").same_impl(conv->bias));
  EXPECT_TRUE(entry(state, "body.1.running_var").same_impl(bn->running_var));
  EXPECT_TRUE(entry(state, "head.weight").same_impl(head->weight));
  EXPECT_EQ(entry(state, "body.1.num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(entry(state, "body.1.num_batches_tracked").dim(), 0);

  const auto modules = root->named_modules();
  const std::vector<std::pair<std::string, nn::Module*>> expected = {
      {"", root.get()}, {"body", body.get()}, {"body.0", conv.get()}, {"body.1", bn.get()}, {"head", head.get()}};
  EXPECT_EQ(modules, expected);
}

TEST(Module, NamedModulesDeepNesting) {
  auto inner = std::make_shared<nn::Sequential>(Mods{std::make_shared<nn::ReLU>(), std::make_shared<nn::Identity>()});
  auto mid = std::make_shared<nn::Sequential>(Mods{std::make_shared<nn::Identity>(), inner});
  nn::Sequential root(Mods{mid, std::make_shared<nn::ReLU6>()});
  std::vector<std::string> names;
  for (auto& [name, m] : root.named_modules()) names.push_back(name + ":" + m->type());
  EXPECT_EQ(names, (std::vector<std::string>{":Sequential", "0:Sequential", "0.0:Identity", "0.1:Sequential",
                                             "0.1.0:ReLU", "0.1.1:Identity", "1:ReLU6"}));
}

TEST(Module, ChildAndReplaceChild) {
  auto model = small_cnn(2);
  const auto conv = std::dynamic_pointer_cast<nn::Conv2d>(model->child("0"));
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(model->child("1")->type(), "BatchNorm2d");
  EXPECT_LOWBIT_ERROR(model->child("7"), "Sequential", "'7'");
  EXPECT_LOWBIT_ERROR(model->child("0.weight"), "Sequential", "'0.weight'");

  // Swap the BatchNorm2d for an Identity: same place, its state leaves the state dict,
  // and the forward pass goes through the replacement.
  const Tensor x = random_tensor({2, 1, 8, 8}, DType::f32, 3);
  auto identity = std::make_shared<nn::Identity>();
  model->replace_child("1", identity);
  ASSERT_EQ(model->children().size(), 6u);
  EXPECT_EQ(model->children()[1].first, "1");
  EXPECT_EQ(model->children()[1].second, identity);
  EXPECT_EQ(model->child("1"), identity);
  EXPECT_EQ(names_of(model->state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "5.weight", "5.bias"}));
  const auto linear = std::dynamic_pointer_cast<nn::Linear>(model->child("5"));
  const Tensor expected = linear->forward(flatten(max_pool2d(relu(conv->forward(x)), {2, 2}, {2, 2}), 1));
  EXPECT_TRUE(bit_equal(expected, (*model)(x), "model with the BatchNorm2d replaced"));

  EXPECT_LOWBIT_ERROR(model->replace_child("9", identity), "Sequential", "'9'");
  EXPECT_LOWBIT_ERROR(model->replace_child("0", nullptr), "Sequential", "'0'", "null");
  EXPECT_EQ(model->child("0"), conv);  // unchanged by the failed replacement
}

TEST(Module, TrainEvalRecurse) {
  auto model = std::make_shared<nn::Sequential>(Mods{
      std::make_shared<nn::Sequential>(Mods{std::make_shared<nn::BatchNorm2d>(2), std::make_shared<nn::Dropout>()}),
      std::make_shared<nn::ReLU>()});
  auto all = [&](bool training) {
    for (auto& [name, m] : model->named_modules())
      if (m->is_training() != training) return false;
    return true;
  };
  EXPECT_TRUE(all(true));  // modules start in training mode, as torch's
  model->eval();
  EXPECT_TRUE(all(false));
  model->train();
  EXPECT_TRUE(all(true));
  model->train(false);
  EXPECT_TRUE(all(false));
  model->train(true);
  // Only the subtree of the child changes.
  model->child("0")->eval();
  for (auto& [name, m] : model->named_modules())
    EXPECT_EQ(m->is_training(), !(name == "0" || name.starts_with("0."))) << name;
}

TEST(Module, ZeroGradAfterBackward) {
  auto model = small_cnn(4);
  model->eval();       // running statistics: the conv bias gets a gradient (batch statistics would cancel it)
  model->zero_grad();  // before any backward: nothing to zero, no error
  for (const Tensor& p : model->parameters()) EXPECT_FALSE(grad(p).defined());
  const Tensor x = random_tensor({2, 1, 8, 8}, DType::f32, 5);
  backward(sum(mul((*model)(x), (*model)(x))));
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(grad(p).defined()) << name;
    EXPECT_GT(max_abs(grad(p)), 0) << name;
  }
  model->zero_grad();
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(grad(p).defined()) << name;
    EXPECT_EQ(max_abs(grad(p)), 0) << name;
  }
  // A parameter that backward never reached keeps no gradient.
  Probe probe;
  const Tensor used = probe.register_parameter("used", ones({2}));
  const Tensor unused = probe.register_parameter("unused", ones({2}));
  backward(sum(mul(used, 3.0)));
  probe.zero_grad();
  EXPECT_EQ(max_abs(grad(used)), 0);
  EXPECT_FALSE(grad(unused).defined());
}

TEST(Module, StrIsTorchsTree) {
  nn::Sequential model(Mods{
      std::make_shared<nn::Conv2d>(3, 8, 3, nn::Conv2dOptions{.stride = {2, 2}, .padding = {1, 1}, .bias = false}),
      std::make_shared<nn::BatchNorm2d>(8),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Sequential>(
          Mods{std::make_shared<nn::Conv2d>(8, 8, std::array<int64_t, 2>{3, 1},
                                            nn::Conv2dOptions{.padding = {1, 0}, .dilation = {2, 1}, .groups = 4}),
               std::make_shared<nn::MaxPool2d>(nn::Pair{2, 2}), std::make_shared<nn::Flatten>()}),
      std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Linear>(32, 10),
  });
  const std::string expected =
      "Sequential(\n"
      "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n"
      "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True)\n"
      "  (2): ReLU()\n"
      "  (3): Sequential(\n"
      "    (0): Conv2d(8, 8, kernel_size=(3, 1), stride=(1, 1), padding=(1, 0), dilation=(2, 1), groups=4)\n"
      "    (1): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))\n"
      "    (2): Flatten(start_dim=1, end_dim=-1)\n"
      "  )\n"
      "  (4): Dropout(p=0.25)\n"
      "  (5): Linear(in_features=32, out_features=10, bias=True)\n"
      ")";
  EXPECT_EQ(model.str(), expected);
  EXPECT_EQ(nn::ReLU().str(), "ReLU()");
  EXPECT_EQ(nn::Concat(1).str(), "Concat(dim=1)");
  EXPECT_EQ(nn::Linear(4, 2, {.bias = false}).str(), "Linear(in_features=4, out_features=2, bias=False)");
  EXPECT_EQ(nn::AvgPool2d({3, 3}, {2, 2}, {1, 1}).str(),
            "AvgPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  EXPECT_EQ(nn::AdaptiveAvgPool2d({1, 1}).str(), "AdaptiveAvgPool2d(output_size=(1, 1))");
}

// ---- load_state_dict ----

TEST(LoadStateDict, RoundTripBetweenDifferentlyInitialisedModels) {
  auto a = small_cnn(10), b = small_cnn(20);
  // Move a's running statistics and counter away from their initial values.
  (*a)(random_tensor({4, 1, 8, 8}, DType::f32, 6, 0, 3));
  const nn::NamedTensors sa = a->state_dict();
  {
    const nn::NamedTensors sb = b->state_dict();
    ASSERT_FALSE(bit_equal(entry(sa, "0.weight"), entry(sb, "0.weight"), "precondition"));
    ASSERT_FALSE(bit_equal(entry(sa, "1.running_mean"), entry(sb, "1.running_mean"), "precondition"));
  }
  const nn::NamedTensors before = b->state_dict();
  const void* weight_data = entry(before, "0.weight").data_ptr();
  b->load_state_dict(sa);

  const nn::NamedTensors sb = b->state_dict();
  ASSERT_EQ(names_of(sb), names_of(sa));
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(bit_equal(sa[i].second, sb[i].second, sa[i].first));
    // Values are copied into the existing tensors: same handles, same storage, not a's.
    EXPECT_TRUE(sb[i].second.same_impl(before[i].second)) << sa[i].first;
    EXPECT_NE(sb[i].second.storage(), sa[i].second.storage()) << sa[i].first;
  }
  EXPECT_EQ(entry(sb, "1.num_batches_tracked").item(), 1.0);
  const auto conv = std::dynamic_pointer_cast<nn::Conv2d>(b->child("0"));
  EXPECT_TRUE(conv->weight.same_impl(b->named_parameters()[0].second));
  EXPECT_EQ(conv->weight.data_ptr(), weight_data);
  for (const Tensor& p : b->parameters()) EXPECT_TRUE(requires_grad(p) && is_leaf(p));

  // Both models now compute the same function.
  a->eval();
  b->eval();
  const Tensor x = random_tensor({2, 1, 8, 8}, DType::f32, 7);
  EXPECT_TRUE(bit_equal((*a)(x), (*b)(x), "outputs after loading"));

  // Later changes to the source do not reach the model, nor the other way round.
  const std::vector<Tensor> snap = snapshot(*b);
  for (const auto& [name, t] : a->state_dict()) {
    Tensor dst = t;
    dst.fill_(7);
  }
  EXPECT_TRUE(state_equals(*b, snap));
  Tensor w = conv->weight;
  w.fill_(-1);
  EXPECT_EQ(max_abs(raw::sub(entry(a->state_dict(), "0.weight"), full({4, 1, 3, 3}, 7))), 0);
}

TEST(LoadStateDict, CopiesFromStridedSources) {
  nn::Linear lin(3, 2);
  const Tensor w = random_tensor({3, 2}, DType::f32, 8).t();  // [2, 3], not contiguous
  ASSERT_FALSE(w.is_contiguous());
  const Tensor b = random_tensor({2}, DType::f32, 9);
  lin.load_state_dict({{"weight", w}, {"bias", b}});
  EXPECT_TRUE(bit_equal(w.contiguous(), lin.weight, "weight"));
  EXPECT_TRUE(bit_equal(b, lin.bias, "bias"));
}

TEST(LoadStateDict, StrictErrorsListEveryProblemAndChangeNothing) {
  auto a = small_cnn(30), b = small_cnn(40);
  (*a)(random_tensor({4, 1, 8, 8}, DType::f32, 10));
  nn::NamedTensors state;
  for (const auto& [name, t] : a->state_dict()) {
    if (name == "0.bias") continue;  // missing
    if (name == "1.running_mean")
      state.emplace_back(name, t.to(DType::f64));  // dtype
    else if (name == "5.weight")
      state.emplace_back(name, zeros({10, 63}));  // shape
    else
      state.emplace_back(name, t);
    if (name == "1.weight") state.emplace_back(name, t);  // duplicate
  }
  state.emplace_back("extra.weight", zeros({1}));  // unexpected
  const std::vector<Tensor> snap = snapshot(*b);
  try {
    b->load_state_dict(state, "runs/ckpt.safetensors");
    ADD_FAILURE() << "expected lowbit::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("runs/ckpt.safetensors: ", 0), 0u) << msg;
    for (const std::string frag :
         {"Sequential", "(5 problems)", "duplicate entry '1.weight'", "missing '0.bias'",
          "'1.running_mean' is f64[4] but the model has f32[4]",
          "'5.weight' is f32[10,63] but the model has f32[10,64]", "unexpected 'extra.weight'"})
      EXPECT_NE(msg.find(frag), std::string::npos) << "message: " << msg << "\nmissing: " << frag;
  }
  // Nothing was copied, although most entries were fine.
  EXPECT_TRUE(state_equals(*b, snap));

  // One problem at a time, with the default source.
  nn::NamedTensors one = a->state_dict();
  one.pop_back();  // 5.bias
  EXPECT_LOWBIT_ERROR(b->load_state_dict(one), "state dict: ", "(1 problem)", "missing '5.bias'");
  one = a->state_dict();
  one[1].second = Tensor();
  EXPECT_LOWBIT_ERROR(b->load_state_dict(one), "'0.bias' is undefined but the model has f32[4]");
  one = a->state_dict();
  for (auto& [name, t] : one)
    if (name == "1.num_batches_tracked") t = t.to(DType::f32);
  EXPECT_LOWBIT_ERROR(b->load_state_dict(one), "'1.num_batches_tracked' is f32[] but the model has i64[]");
  EXPECT_TRUE(state_equals(*b, snap));
}

// ---- layers ----

TEST(Conv2dLayer, ForwardIsTheFunctionalOp) {
  Generator gen{50, 0};
  nn::Conv2d plain(3, 5, 3, {.stride = {2, 2}, .padding = {1, 1}, .gen = &gen});
  EXPECT_EQ(plain.weight.sizes(), (Shape{5, 3, 3, 3}));
  EXPECT_EQ(plain.bias.sizes(), (Shape{5}));
  const Tensor x = random_tensor({2, 3, 9, 8}, DType::f32, 11);
  const Tensor y = plain(x);
  EXPECT_EQ(y.sizes(), (Shape{2, 5, 5, 4}));
  EXPECT_TRUE(bit_equal(conv2d(x, plain.weight, plain.bias, {2, 2}, {1, 1}), y, "stride 2 padding 1"));

  nn::Conv2d odd(4, 6, std::array<int64_t, 2>{3, 2},
                 {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2, .bias = false, .gen = &gen});
  EXPECT_EQ(odd.weight.sizes(), (Shape{6, 2, 3, 2}));
  EXPECT_FALSE(odd.bias.defined());
  EXPECT_EQ(names_of(odd.named_parameters()), std::vector<std::string>{"weight"});
  const Tensor x2 = random_tensor({2, 4, 7, 9}, DType::f32, 12);
  const Tensor y2 = odd(x2);
  EXPECT_EQ(y2.sizes(), (Shape{2, 6, 4, 7}));
  EXPECT_TRUE(bit_equal(conv2d(x2, odd.weight, Tensor(), {2, 1}, {1, 0}, {1, 2}, 2), y2, "strided dilated grouped"));

  // A 1x1 convolution is a linear map per pixel: an independent check of the numbers.
  nn::Conv2d pointwise(3, 2, 1, {.gen = &gen});
  const Tensor x3 = random_tensor({2, 3, 4, 5}, DType::f32, 13);
  const Tensor per_pixel =
      permute(linear(permute(x3, {0, 2, 3, 1}), reshape(pointwise.weight, {2, 3}), pointwise.bias), {0, 3, 1, 2});
  EXPECT_TRUE(all_close(per_pixel, pointwise(x3), 1e-5, 1e-6, "1x1 conv vs per-pixel linear"));
}

TEST(Conv2dLayer, BadArguments) {
  EXPECT_LOWBIT_ERROR(nn::Conv2d(4, 6, 3, {.groups = 4}), "Conv2d", "groups 4");
  EXPECT_LOWBIT_ERROR(nn::Conv2d(0, 6, 3), "Conv2d", "positive");
  nn::Conv2d conv(3, 4, 3);
  EXPECT_THROW(conv(zeros({1, 2, 5, 5})), Error);
}

TEST(LinearLayer, ForwardOn2dAnd3dInputs) {
  Generator gen{60, 0};
  nn::Linear lin(5, 4, {.gen = &gen});
  EXPECT_EQ(lin.weight.sizes(), (Shape{4, 5}));
  EXPECT_EQ(lin.bias.sizes(), (Shape{4}));
  const Tensor x = random_tensor({3, 5}, DType::f32, 14);
  const Tensor expected = add(matmul(x, transpose(lin.weight, 0, 1)), lin.bias);
  EXPECT_TRUE(all_close(expected, lin(x), 1e-6, 1e-6, "2-D"));

  const Tensor x3 = random_tensor({2, 3, 5}, DType::f32, 15);
  const Tensor y3 = lin(x3);
  ASSERT_EQ(y3.sizes(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_TRUE(all_close(add(matmul(x3.select(0, i), transpose(lin.weight, 0, 1)), lin.bias), y3.select(0, i), 1e-6,
                          1e-6, "3-D, batch " + std::to_string(i)));

  nn::Linear no_bias(5, 4, {.bias = false, .gen = &gen});
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(names_of(no_bias.named_parameters()), std::vector<std::string>{"weight"});
  EXPECT_TRUE(all_close(matmul(x, transpose(no_bias.weight, 0, 1)), no_bias(x), 1e-6, 1e-6, "no bias"));
  EXPECT_THROW(lin(zeros({3, 6})), Error);
  EXPECT_LOWBIT_ERROR(nn::Linear(0, 3), "Linear", "in_features 0");
}

// Expected batch-norm numbers, in f64 from the values: per channel of x [N, C, H, W].
struct ChannelStats {
  std::vector<double> mean, biased_var, unbiased_var;
};
ChannelStats channel_stats(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  const std::vector<double> v = x.to_vector<double>();
  ChannelStats s;
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) m += v[static_cast<size_t>((n * C + c) * HW + i)];
    m /= static_cast<double>(N * HW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) ss += std::pow(v[static_cast<size_t>((n * C + c) * HW + i)] - m, 2);
    s.mean.push_back(m);
    s.biased_var.push_back(ss / static_cast<double>(N * HW));
    s.unbiased_var.push_back(ss / static_cast<double>(N * HW - 1));
  }
  return s;
}

// (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]
Tensor normalised(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                  const std::vector<double>& gamma, const std::vector<double>& beta, double eps) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  std::vector<double> v = x.to_vector<double>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        double& e = v[static_cast<size_t>((n * C + c) * HW + i)];
        e = (e - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
      }
  return from_vector(v, x.sizes());
}

TEST(BatchNorm2dLayer, TrainUsesBatchStatsAndUpdatesRunningStatsEvalDoesNot) {
  EXPECT_EQ(nn::BatchNorm2d(3).options.momentum, 0.1);  // torch's default
  const double momentum = 0.3, eps = 1e-5;
  nn::BatchNorm2d bn(3, {.momentum = momentum, .dtype = DType::f64});
  EXPECT_EQ(names_of(bn.state_dict()),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  const std::vector<double> gamma = {0.5, 2.0, -1.0}, beta = {0.1, -0.2, 0.3};
  {
    Tensor g = bn.weight, b = bn.bias;
    g.copy_(from_vector(gamma));
    b.copy_(from_vector(beta));
  }
  EXPECT_EQ(bn.num_batches_tracked.item(), 0.0);

  const Tensor x1 = random_tensor({4, 3, 5, 5}, DType::f64, 16, -1, 3);
  const ChannelStats s1 = channel_stats(x1);
  EXPECT_TRUE(
      all_close(normalised(x1, s1.mean, s1.biased_var, gamma, beta, eps), bn(x1), 1e-10, 1e-12, "training output"));
  std::vector<double> rm(3), rv(3);
  for (size_t c = 0; c < 3; ++c) {
    rm[c] = (1 - momentum) * 0 + momentum * s1.mean[c];
    rv[c] = (1 - momentum) * 1 + momentum * s1.unbiased_var[c];
  }
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after 1 batch"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after 1 batch"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 1.0);

  const Tensor x2 = random_tensor({2, 3, 4, 4}, DType::f64, 17, -2, 1);
  const ChannelStats s2 = channel_stats(x2);
  bn(x2);
  for (size_t c = 0; c < 3; ++c) {
    rm[c] = (1 - momentum) * rm[c] + momentum * s2.mean[c];
    rv[c] = (1 - momentum) * rv[c] + momentum * s2.unbiased_var[c];
  }
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after 2 batches"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after 2 batches"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 2.0);

  // Eval: the running statistics normalise, and nothing moves.
  bn.eval();
  const Tensor y = bn(x1);
  EXPECT_TRUE(all_close(normalised(x1, rm, rv, gamma, beta, eps), y, 1e-10, 1e-12, "eval output"));
  bn(x2);
  EXPECT_TRUE(all_close(from_vector(rm), bn.running_mean, 1e-12, 1e-14, "running mean after eval"));
  EXPECT_TRUE(all_close(from_vector(rv), bn.running_var, 1e-12, 1e-14, "running var after eval"));
  EXPECT_EQ(bn.num_batches_tracked.item(), 2.0);
}

TEST(BatchNorm2dLayer, BadInputAndFailedCallsAreNotCounted) {
  nn::BatchNorm2d bn(3);
  EXPECT_LOWBIT_ERROR(bn(zeros({4, 3, 5})), "BatchNorm2d(3)", "[4,3,5]");
  EXPECT_LOWBIT_ERROR(bn(zeros({4, 2, 5, 5})), "BatchNorm2d(3)", "[4,2,5,5]");
  // One value per channel cannot give a training variance; f64 input to an f32 layer.
  EXPECT_THROW(bn(zeros({1, 3, 1, 1})), Error);
  EXPECT_THROW(bn(zeros({2, 3, 2, 2}, DType::f64)), Error);
  EXPECT_EQ(bn.num_batches_tracked.item(), 0.0);
  EXPECT_EQ(max_abs(bn.running_mean), 0.0);
  EXPECT_EQ(max_abs(raw::sub(bn.running_var, 1.0)), 0.0);
  EXPECT_LOWBIT_ERROR(nn::BatchNorm2d(3, {.momentum = 1.5}), "BatchNorm2d", "momentum 1.5");

  nn::BatchNorm2d plain(2, {.affine = false});
  EXPECT_FALSE(plain.weight.defined());
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_EQ(names_of(plain.state_dict()),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  const Tensor x = random_tensor({3, 2, 2, 2}, DType::f32, 18);
  const ChannelStats s = channel_stats(x);
  EXPECT_TRUE(all_close(normalised(x, s.mean, s.biased_var, {1, 1}, {0, 0}, 1e-5), plain(x), 1e-5, 1e-5, "no affine"));
}

TEST(ActivationLayers, ReluAndRelu6) {
  const Tensor x = from_vector<float>({-3, -0.5f, 0, 0.25f, 2, 6, 7.5f}, {7});
  EXPECT_TRUE(bit_equal(from_vector<float>({0, 0, 0, 0.25f, 2, 6, 7.5f}, {7}), nn::ReLU()(x), "ReLU"));
  EXPECT_TRUE(bit_equal(from_vector<float>({0, 0, 0, 0.25f, 2, 6, 6}, {7}), nn::ReLU6()(x), "ReLU6"));
}

TEST(PoolLayers, DefaultsAndFunctionalOps) {
  const Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 1, 4, 4});
  nn::MaxPool2d max_default({2, 2});
  EXPECT_EQ(max_default.stride, (nn::Pair{2, 2}));  // stride defaults to the kernel
  EXPECT_TRUE(bit_equal(from_vector<float>({5, 7, 13, 15}, {1, 1, 2, 2}), max_default(x), "MaxPool2d(2)"));
  nn::AvgPool2d avg_default({2, 2});
  EXPECT_EQ(avg_default.stride, (nn::Pair{2, 2}));
  EXPECT_TRUE(bit_equal(from_vector<float>({2.5f, 4.5f, 10.5f, 12.5f}, {1, 1, 2, 2}), avg_default(x), "AvgPool2d(2)"));

  const Tensor r = random_tensor({2, 3, 7, 6}, DType::f32, 19);
  nn::MaxPool2d max_odd({3, 2}, {2, 1}, {1, 1}, {1, 2});
  EXPECT_TRUE(bit_equal(max_pool2d(r, {3, 2}, {2, 1}, {1, 1}, {1, 2}), max_odd(r), "MaxPool2d with all arguments"));
  for (bool include_pad : {true, false}) {
    nn::AvgPool2d avg({3, 3}, {2, 2}, {1, 1}, include_pad);
    EXPECT_TRUE(bit_equal(avg_pool2d(r, {3, 3}, {2, 2}, {1, 1}, include_pad), avg(r),
                          include_pad ? "AvgPool2d count_include_pad" : "AvgPool2d !count_include_pad"));
  }
  // The two padding conventions differ at the border (a corner window has 4 of 9 inside).
  const Tensor in = nn::AvgPool2d({3, 3}, {2, 2}, {1, 1}, true)(x);
  const Tensor ex = nn::AvgPool2d({3, 3}, {2, 2}, {1, 1}, false)(x);
  EXPECT_FLOAT_EQ(in.reshape({-1}).select(0, 0).item(), (0 + 1 + 4 + 5) / 9.0);
  EXPECT_FLOAT_EQ(ex.reshape({-1}).select(0, 0).item(), (0 + 1 + 4 + 5) / 4.0);

  nn::AdaptiveAvgPool2d global({1, 1});
  const Tensor g = global(r);
  EXPECT_EQ(g.sizes(), (Shape{2, 3, 1, 1}));
  EXPECT_TRUE(all_close(mean(r, {2, 3}, true), g, 1e-6, 1e-6, "AdaptiveAvgPool2d(1, 1)"));
  EXPECT_TRUE(bit_equal(avg_default(x), nn::AdaptiveAvgPool2d({2, 2})(x), "AdaptiveAvgPool2d(2, 2) on 4x4"));
}

TEST(DropoutLayer, IdentityInEvalAndForPZero) {
  const Tensor x = random_tensor({4, 5}, DType::f32, 20);
  Generator gen{1, 0};
  nn::Dropout d(0.5, &gen);
  d.eval();
  EXPECT_TRUE(bit_equal(x, d(x), "eval"));
  nn::Dropout zero(0.0, &gen);
  EXPECT_TRUE(zero.is_training());
  EXPECT_TRUE(bit_equal(x, zero(x), "p = 0"));
  EXPECT_EQ(gen.offset, 0u);  // neither drew random numbers
  nn::Dropout all(1.0, &gen);
  EXPECT_EQ(max_abs(all(x)), 0.0);
  EXPECT_LOWBIT_ERROR(nn::Dropout(1.5), "Dropout", "1.5");
  EXPECT_LOWBIT_ERROR(nn::Dropout(-0.1), "Dropout");
}

TEST(DropoutLayer, MaskStatisticsWithASeededGenerator) {
  const double p = 0.3;
  const int64_t n = 100'000;
  const Tensor x = ones({n});
  Generator gen{123, 0};
  nn::Dropout d(p, &gen);
  const Tensor y = d(x);
  EXPECT_GT(gen.offset, 0u);
  const float kept = static_cast<float>(1 / (1 - p));
  int64_t zeros_count = 0, kept_count = 0;
  for (float v : y.to_vector<float>()) {
    zeros_count += v == 0;
    kept_count += std::fabs(v - kept) <= 1e-6f;
  }
  EXPECT_EQ(zeros_count + kept_count, n);  // every element is 0 or 1 / (1 - p)
  // The fraction dropped is p within 0.01 (7 standard deviations for 100k draws).
  EXPECT_NEAR(static_cast<double>(zeros_count) / n, p, 0.01);
  EXPECT_NEAR(sample_mean(y), 1.0, 0.02);  // inverted dropout keeps the expectation

  // Same (seed, offset): the same mask; the generator moved on: another mask.
  Generator again{123, 0};
  nn::Dropout d2(p, &again);
  EXPECT_TRUE(bit_equal(y, d2(x), "same seed"));
  EXPECT_FALSE(bit_equal(y, d(x), "next draw"));
}

TEST(StructuralLayers, FlattenIdentitySequential) {
  const Tensor x = random_tensor({2, 3, 4, 5}, DType::f32, 21);
  EXPECT_TRUE(bit_equal(x.reshape({2, 60}), nn::Flatten()(x), "Flatten()"));
  EXPECT_TRUE(bit_equal(x.reshape({2, 12, 5}), nn::Flatten(1, 2)(x), "Flatten(1, 2)"));
  EXPECT_TRUE(bit_equal(x.reshape({120}), nn::Flatten(0)(x), "Flatten(0)"));
  EXPECT_TRUE(nn::Identity()(x).same_impl(x));

  // (x + 1) * 3 - 2 != x * 3 + 1 - 2 ...: the children run in index order.
  auto seq = std::make_shared<nn::Sequential>(Mods{std::make_shared<AddConst>(1), std::make_shared<MulConst>(3)});
  auto last = seq->push_back(std::make_shared<AddConst>(-2));
  EXPECT_EQ(seq->size(), 3);
  EXPECT_EQ(seq->child("2"), last);
  std::vector<std::string> names;
  for (const auto& [name, m] : seq->children()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0", "1", "2"}));
  const Tensor v = from_vector<float>({0, 1, 2}, {3});
  EXPECT_TRUE(bit_equal(from_vector<float>({1, 4, 7}, {3}), (*seq)(v), "Sequential order"));
  EXPECT_TRUE(bit_equal(v, nn::Sequential()(v), "empty Sequential"));
}

TEST(MergeLayers, AddAndConcat) {
  nn::Add add_layer;
  const Tensor a = random_tensor({2, 3}, DType::f32, 22), b = random_tensor({2, 3}, DType::f32, 23);
  EXPECT_TRUE(bit_equal(raw::add(a, b), add_layer(a, b), "Add"));
  EXPECT_LOWBIT_ERROR(add_layer(a, zeros({3})), "Add", "[2,3]", "[3]");  // no broadcasting
  EXPECT_LOWBIT_ERROR(add_layer(a, zeros({3, 2})), "Add", "[2,3]", "[3,2]");
  EXPECT_LOWBIT_ERROR(static_cast<nn::Module&>(add_layer)(a), "Add");  // no one-input call

  nn::Concat cat_layer;  // channels
  const Tensor p = random_tensor({2, 1, 2, 2}, DType::f32, 24), q = random_tensor({2, 3, 2, 2}, DType::f32, 25);
  const Tensor y = cat_layer({p, q});
  ASSERT_EQ(y.sizes(), (Shape{2, 4, 2, 2}));
  EXPECT_TRUE(bit_equal(p, y.narrow(1, 0, 1).contiguous(), "first input"));
  EXPECT_TRUE(bit_equal(q, y.narrow(1, 1, 3).contiguous(), "second input"));
  EXPECT_LOWBIT_ERROR(cat_layer({}), "Concat", "no inputs");
  EXPECT_THROW(cat_layer({p, zeros({2, 1, 3, 2})}), Error);
  EXPECT_EQ(nn::Concat(2)({p, p}).sizes(), (Shape{2, 1, 4, 2}));
}

// Conv2d -> BatchNorm2d (training) -> ReLU -> AvgPool2d -> Flatten -> Linear in f64: the
// Jacobian of the output with respect to the input and every parameter. gradcheck
// differentiates its own copies of the inputs, so the layers' parameter handles point at
// those copies while f runs (and are restored afterwards).
TEST(NnGradcheck, SmallSequentialWrtParametersAndInput) {
  Generator gen{70, 0};
  auto conv =
      std::make_shared<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = {1, 1}, .dtype = DType::f64, .gen = &gen});
  auto bn = std::make_shared<nn::BatchNorm2d>(3, nn::BatchNormOptions{.dtype = DType::f64});
  auto lin = std::make_shared<nn::Linear>(12, 2, nn::LinearOptions{.dtype = DType::f64, .gen = &gen});
  nn::Sequential model(Mods{conv, bn, std::make_shared<nn::ReLU>(), std::make_shared<nn::AvgPool2d>(nn::Pair{2, 2}),
                            std::make_shared<nn::Flatten>(), lin});
  ASSERT_TRUE(bn->is_training());
  std::vector<Tensor*> slots = {&conv->weight, &conv->bias, &bn->weight, &bn->bias, &lin->weight, &lin->bias};
  const std::vector<Tensor> params = model.parameters();
  ASSERT_EQ(params.size(), slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    ASSERT_TRUE(slots[i]->same_impl(params[i])) << i;
    ASSERT_EQ(slots[i]->dtype(), DType::f64) << i;
  }

  std::vector<Tensor> inputs = {random_tensor({2, 2, 4, 4}, DType::f64, 26)};
  for (const Tensor* s : slots) inputs.push_back(s->clone());
  inputs[3] = random_tensor({3}, DType::f64, 27, 0.5, 1.5);   // gamma away from 1
  inputs[4] = random_tensor({3}, DType::f64, 28, -0.5, 0.5);  // beta away from 0
  auto f = [&](const std::vector<Tensor>& in) {
    std::vector<Tensor> saved;
    for (size_t i = 0; i < slots.size(); ++i) {
      saved.push_back(*slots[i]);
      *slots[i] = in[i + 1];
    }
    auto restore = [&] {
      for (size_t i = 0; i < slots.size(); ++i) *slots[i] = saved[i];
    };
    try {
      Tensor y = model(in[0]);
      restore();
      return y;
    } catch (...) {
      restore();
      throw;
    }
  };
  EXPECT_TRUE(test::grad_ok(f, inputs, "Conv2d-BatchNorm2d-ReLU-AvgPool2d-Flatten-Linear"));
  for (size_t i = 0; i < slots.size(); ++i) EXPECT_TRUE(slots[i]->same_impl(params[i])) << i;

  // Through the registered parameters themselves: backward reaches every one of them.
  backward(sum(model(inputs[0])));
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(grad(p).defined()) << name;
}

// ---- init ----

TEST(Init, KaimingNormalStatistics) {
  // fan_in = 128 * 9 = 1152, fan_out = 64 * 9 = 576: stds differ by sqrt(2), far more
  // than the 3% tolerance (the sampling error of the std of 73728 draws is about 0.3%).
  Tensor w = empty({64, 128, 3, 3});
  const void* data = w.data_ptr();
  Generator gen{80, 0};
  struct Case {
    nn::FanMode mode;
    double slope, expected;
  };
  for (const Case& c :
       {Case{nn::FanMode::fan_in, 0, std::sqrt(2.0 / 1152)}, Case{nn::FanMode::fan_out, 0, std::sqrt(2.0 / 576)},
        Case{nn::FanMode::fan_in, 1, std::sqrt(1.0 / 1152)},  // gain sqrt(2 / (1 + 1))
        Case{nn::FanMode::fan_out, 0.2, std::sqrt(2.0 / 1.04 / 576)}}) {
    SCOPED_TRACE(str_cat(c.mode == nn::FanMode::fan_in ? "fan_in" : "fan_out", " slope ", c.slope));
    nn::kaiming_normal_(w, c.mode, c.slope, &gen);
    EXPECT_EQ(w.data_ptr(), data);  // in place
    EXPECT_NEAR(sample_std(w), c.expected, 0.03 * c.expected);
    EXPECT_LT(std::fabs(sample_mean(w)), 0.03 * c.expected);
  }
  Tensor w64 = empty({256, 300}, DType::f64);
  nn::kaiming_normal_(w64, nn::FanMode::fan_in, 0, &gen);
  EXPECT_EQ(w64.dtype(), DType::f64);
  EXPECT_NEAR(sample_std(w64), std::sqrt(2.0 / 300), 0.03 * std::sqrt(2.0 / 300));
}

TEST(Init, KaimingUniformStatistics) {
  Tensor w = empty({64, 128, 3, 3});
  Generator gen{81, 0};
  struct Case {
    nn::FanMode mode;
    double slope, bound;
  };
  for (const Case& c : {Case{nn::FanMode::fan_in, 0, std::sqrt(2.0) * std::sqrt(3.0 / 1152)},
                        Case{nn::FanMode::fan_out, 0, std::sqrt(2.0) * std::sqrt(3.0 / 576)},
                        Case{nn::FanMode::fan_out, std::sqrt(5.0), 1 / std::sqrt(576.0)}}) {
    SCOPED_TRACE(str_cat(c.mode == nn::FanMode::fan_in ? "fan_in" : "fan_out", " slope ", c.slope));
    nn::kaiming_uniform_(w, c.mode, c.slope, &gen);
    const double m = max_abs(w);
    EXPECT_LE(m, c.bound * (1 + 1e-6));
    EXPECT_GE(m, 0.99 * c.bound);
    EXPECT_NEAR(sample_std(w), c.bound / std::sqrt(3.0), 0.03 * c.bound / std::sqrt(3.0));
  }
}

TEST(Init, DefaultConvAndLinearBounds) {
  Generator gen{82, 0};
  struct Case {
    std::shared_ptr<nn::Module> layer;
    Tensor weight, bias;
    int64_t fan_in;
  };
  auto conv = std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions{.gen = &gen});
  auto grouped = std::make_shared<nn::Conv2d>(8, 8, 3, nn::Conv2dOptions{.groups = 4, .gen = &gen});
  auto big = std::make_shared<nn::Conv2d>(64, 64, 3, nn::Conv2dOptions{.gen = &gen});
  auto lin = std::make_shared<nn::Linear>(100, 10, nn::LinearOptions{.gen = &gen});
  for (const Case& c :
       {Case{conv, conv->weight, conv->bias, 16 * 9}, Case{grouped, grouped->weight, grouped->bias, 2 * 9},
        Case{big, big->weight, big->bias, 64 * 9}, Case{lin, lin->weight, lin->bias, 100}}) {
    SCOPED_TRACE(c.layer->str());
    EXPECT_EQ(nn::fan_in(c.weight), c.fan_in);
    const double bound = 1 / std::sqrt(static_cast<double>(c.fan_in));
    EXPECT_LE(max_abs(c.weight), bound * (1 + 1e-6));
    EXPECT_GE(max_abs(c.weight), 0.9 * bound);  // U(-bound, bound), not something narrower
    EXPECT_LE(max_abs(c.bias), bound * (1 + 1e-6));
    EXPECT_GT(max_abs(c.bias), 0);
  }
  EXPECT_NEAR(sample_std(big->weight), 1 / std::sqrt(3.0 * 576), 0.03 / std::sqrt(3.0 * 576));
}

TEST(Init, SameSeedSameWeights) {
  Generator g1{42, 0}, g2{42, 0}, g3{43, 0};
  nn::Conv2d a(3, 8, 3, {.gen = &g1}), b(3, 8, 3, {.gen = &g2}), c(3, 8, 3, {.gen = &g3});
  EXPECT_TRUE(bit_equal(a.weight, b.weight, "weight, same seed"));
  EXPECT_TRUE(bit_equal(a.bias, b.bias, "bias, same seed"));
  EXPECT_GT(g1.offset, 0u);
  EXPECT_EQ(g1.offset, g2.offset);
  EXPECT_FALSE(bit_equal(a.weight, c.weight, "weight, other seed"));
  EXPECT_FALSE(bit_equal(a.bias, c.bias, "bias, other seed"));
  // The next layer from the same generator gets other numbers.
  nn::Conv2d d(3, 8, 3, {.gen = &g1});
  EXPECT_FALSE(bit_equal(a.weight, d.weight, "weight, generator moved on"));

  // The default generator, through manual_seed.
  manual_seed(5);
  nn::Linear l1(6, 4);
  manual_seed(5);
  nn::Linear l2(6, 4);
  EXPECT_TRUE(bit_equal(l1.weight, l2.weight, "Linear after manual_seed"));
  EXPECT_TRUE(bit_equal(l1.bias, l2.bias, "Linear bias after manual_seed"));
}

TEST(Init, FansAndErrors) {
  EXPECT_EQ(nn::fan_in(zeros({4, 3})), 3);  // Linear weight [out, in]
  EXPECT_EQ(nn::fan_out(zeros({4, 3})), 4);
  EXPECT_EQ(nn::fan_in(zeros({8, 4, 3, 5})), 60);
  EXPECT_EQ(nn::fan_out(zeros({8, 4, 3, 5})), 120);
  EXPECT_LOWBIT_ERROR(nn::fan_in(zeros({5})), "fan_in", "[5]");
  EXPECT_LOWBIT_ERROR(nn::fan_out(zeros({5})), "fan_out", "[5]");
  EXPECT_LOWBIT_ERROR(nn::fan_in(zeros({})), "fan_in", "[]");
  EXPECT_LOWBIT_ERROR(nn::fan_in(Tensor()), "fan_in", "undefined");
  Tensor v = zeros({5});
  EXPECT_THROW(nn::kaiming_normal_(v), Error);
  EXPECT_THROW(nn::kaiming_uniform_(v), Error);
  EXPECT_EQ(max_abs(v), 0.0);  // untouched
  Tensor t = zeros({2, 2});
  nn::ones_(t);
  EXPECT_EQ(sample_mean(t), 1.0);
  nn::zeros_(t);
  EXPECT_EQ(max_abs(t), 0.0);
}

// ---- summary ----

// Conv BN ReLU [grouped conv, Residual(conv, add)] MaxPool Flatten Linear on [2, 1, 8, 8].
std::shared_ptr<nn::Sequential> summary_cnn() {
  Generator gen{90, 0};
  return std::make_shared<nn::Sequential>(Mods{
      std::make_shared<nn::Conv2d>(1, 4, 3, nn::Conv2dOptions{.padding = {1, 1}, .gen = &gen}),
      std::make_shared<nn::BatchNorm2d>(4),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Sequential>(
          Mods{std::make_shared<nn::Conv2d>(4, 4, 3, nn::Conv2dOptions{.padding = {1, 1}, .groups = 2, .gen = &gen}),
               std::make_shared<Residual>(4)}),
      std::make_shared<nn::MaxPool2d>(nn::Pair{2, 2}),
      std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(64, 10, nn::LinearOptions{.gen = &gen}),
  });
}

TEST(Summary, RowsAndTotals) {
  auto model = summary_cnn();
  const nn::Summary s = nn::summarize(*model, {2, 1, 8, 8});
  struct Row {
    std::string name, type;
    Shape output;
    int64_t params, macs;
  };
  // MACs: Conv2d out.numel * C_in/groups * kH * kW, Linear out.numel * in_features.
  const std::vector<Row> expected = {
      {"0", "Conv2d", {2, 4, 8, 8}, 4 * 9 + 4, 512 * 1 * 9},
      {"1", "BatchNorm2d", {2, 4, 8, 8}, 8, 0},
      {"2", "ReLU", {2, 4, 8, 8}, 0, 0},
      {"3.0", "Conv2d", {2, 4, 8, 8}, 4 * 2 * 9 + 4, 512 * 2 * 9},
      {"3.1.conv", "Conv2d", {2, 4, 8, 8}, 4 * 4 * 9, 512 * 4 * 9},
      {"3.1.add", "Add", {2, 4, 8, 8}, 0, 0},
      {"4", "MaxPool2d", {2, 4, 4, 4}, 0, 0},
      {"5", "Flatten", {2, 64}, 0, 0},
      {"6", "Linear", {2, 10}, 650, 20 * 64},
  };
  ASSERT_EQ(s.rows.size(), expected.size()) << s.str();
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(s.rows[i].name, expected[i].name);
    EXPECT_EQ(s.rows[i].type, expected[i].type);
    EXPECT_EQ(s.rows[i].output, expected[i].output);
    EXPECT_EQ(s.rows[i].params, expected[i].params);
    EXPECT_EQ(s.rows[i].macs, expected[i].macs);
  }
  EXPECT_EQ(s.total_params, 40 + 8 + 76 + 144 + 650);
  EXPECT_EQ(s.trainable_params, s.total_params);
  EXPECT_EQ(s.total_macs, 4608 + 9216 + 18432 + 1280);
  const std::string table = s.str();
  EXPECT_NE(table.find("total params: 918 (trainable 918)"), std::string::npos) << table;
  EXPECT_NE(table.find("total MACs per forward: 33,536"), std::string::npos) << table;
  EXPECT_NE(table.find("3.1.conv"), std::string::npos) << table;
}

TEST(Summary, RestoresModesAndLeavesBatchNormStateAlone) {
  auto model = summary_cnn();
  auto bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(model->child("1"));
  ASSERT_NE(bn, nullptr);
  {
    Tensor rm = bn->running_mean, rv = bn->running_var, count = bn->num_batches_tracked;
    rm.copy_(from_vector<float>({0.5f, -1, 2, 0.25f}));
    rv.copy_(from_vector<float>({2, 0.5f, 1.5f, 3}));
    count.fill_(7);
  }
  auto modes = [&] {
    std::vector<std::pair<std::string, bool>> out;
    for (auto& [name, m] : model->named_modules()) out.emplace_back(name, m->is_training());
    return out;
  };
  // All training except the BatchNorm2d and the Residual's subtree.
  model->train();
  bn->eval();
  model->child("3")->child("1")->eval();
  const auto before = modes();
  const std::vector<Tensor> snap = snapshot(*model);
  nn::summarize(*model, {2, 1, 8, 8});
  EXPECT_EQ(modes(), before);
  EXPECT_TRUE(state_equals(*model, snap));  // running statistics and counter included
  EXPECT_EQ(bn->num_batches_tracked.item(), 7.0);

  model->train();
  nn::summarize(*model, {2, 1, 8, 8});
  for (auto& [name, m] : model->named_modules()) EXPECT_TRUE(m->is_training()) << name;
  EXPECT_TRUE(state_equals(*model, snap));
  model->eval();
  nn::summarize(*model, {2, 1, 8, 8});
  for (auto& [name, m] : model->named_modules()) EXPECT_FALSE(m->is_training()) << name;

  // A forward pass that fails (3 channels for a 1-channel conv) restores the modes too.
  model->train();
  bn->eval();
  const auto mixed = modes();
  EXPECT_THROW(nn::summarize(*model, {2, 3, 8, 8}), Error);
  EXPECT_EQ(modes(), mixed);
  EXPECT_TRUE(state_equals(*model, snap));
}

// ---- metrics ----

TEST(Metrics, TopkCorrectWithTies) {
  // Rank of the target = classes with a larger logit + equal logits at a lower index.
  const std::vector<double> logits = {
      0.1, 0.9, 0.3, 0.2, 0.0, -1,   // target 1: rank 0
      1,   1,   1,   1,   1,   1,    // target 0: rank 0 (ties: lower index first)
      1,   1,   1,   1,   1,   1,    // target 5: rank 5
      0.5, 0.2, 0.5, 0.1, 0.0, 0.0,  // target 2: rank 1 (index 0 ties and ranks first)
      3,   2,   1,   0,   -1,  -2,   // target 4: rank 4
      0,   0,   0,   0,   0,   1,    // target 4: rank 5 (index 5 above, 0..3 tie lower)
  };
  const std::vector<int64_t> target = {1, 0, 5, 2, 4, 4};
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x = from_vector(logits, {6, 6}).to(dtype);
    const Tensor t = from_vector(target);
    EXPECT_EQ(nn::topk_correct(x, t, 1), 2);
    EXPECT_EQ(nn::topk_correct(x, t, 2), 3);
    EXPECT_EQ(nn::topk_correct(x, t, 4), 3);
    EXPECT_EQ(nn::topk_correct(x, t, 5), 4);
    EXPECT_EQ(nn::topk_correct(x, t, 6), 6);
    EXPECT_EQ(nn::topk_correct(x, t, 100), 6);
    EXPECT_EQ(nn::topk_correct(x, t.to(DType::i32), 1), 2);
  }
  // A non-contiguous view of the logits ranks the same values.
  const Tensor xt = from_vector(logits, {6, 6}).t().contiguous().t();
  EXPECT_EQ(nn::topk_correct(xt, from_vector(target), 2), 3);
}

TEST(Metrics, TopkCorrectErrors) {
  const Tensor x = zeros({3, 4});
  const Tensor t = from_vector<int64_t>({0, 1, 3});
  EXPECT_LOWBIT_ERROR(nn::topk_correct(zeros({4}), t, 1), "topk_correct", "[4]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 1}), 1), "topk_correct", "[3,4]", "[2]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, zeros({3, 1}, DType::i64), 1), "topk_correct", "[3,1]");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 4, 1}), 1), "topk_correct", "target[1] = 4",
                      "[0, 4)");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<int64_t>({0, 1, -1}), 1), "target[2] = -1");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, t, 0), "topk_correct", "k must be >= 1", "0");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, t, -3), "k must be >= 1");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(x, from_vector<float>({0, 1.5f, 3}), 1), "topk_correct", "f32");
  EXPECT_LOWBIT_ERROR(nn::topk_correct(Tensor(), t, 1), "topk_correct", "undefined");
}

}  // namespace
}  // namespace lowbit
