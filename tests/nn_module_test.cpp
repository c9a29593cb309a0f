// nn/ Module: registration, hierarchical names in torch's order, children, modes,
// zero_grad, printing; load_state_dict (round trip, strict errors, all-or-nothing, copies
// into the existing handles); summarize(). The layers are in nn_layers_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/grad_test_util.h"
#include "tests/nn_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::AddConst;
using test::all_close;
using test::bit_equal;
using test::max_abs;
using test::Mods;
using test::MulConst;
using test::names_of;
using test::Probe;
using test::random_tensor;
using test::Residual;

const Tensor& entry(const nn::NamedTensors& list, const std::string& name) {
  for (const auto& [n, t] : list)
    if (n == name) return t;
  throw Error("no entry " + name);
}

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

}  // namespace
}  // namespace lowbit
