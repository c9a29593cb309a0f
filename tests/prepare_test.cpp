// quant/graph.h, quant/prepare.h, quant/calibrate.h, quant/recipe.h: the dataflow trace,
// quantizer placement by graph policy on zoo models, conv-BN folding, first/last layers,
// shared quantizers, calibration, BN re-calibration and the recipe.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "autograd/autograd.h"
#include "models/resnet.h"
#include "models/zoo.h"
#include "nn/nn.h"
#include "quant/calibrate.h"
#include "quant/conv_bn.h"
#include "quant/graph.h"
#include "quant/prepare.h"
#include "quant/qlayers.h"
#include "quant/quantizer_lsq.h"
#include "quant/recipe.h"
#include "quant/state.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace lowbit {
namespace {

using quant::Algorithm;
using quant::QuantOptions;

std::shared_ptr<models::ResNet> tiny_resnet(uint64_t seed = 1) {
  Generator gen{seed, 0};
  return std::make_shared<models::ResNet>(
      models::ResNetConfig{.blocks = {1, 1}, .widths = {4, 8}, .stem = models::Stem::cifar, .in_channels = 1,
                           .num_classes = 5},
      &gen);
}

Tensor input_batch(int64_t n, int64_t c = 1, int64_t hw = 12, uint64_t seed = 7) {
  Generator gen{seed, 0};
  return normal({n, c, hw, hw}, 0, 1, DType::f32, Device::cpu(), &gen);
}

QuantOptions options_for(const std::string& backend, int wb, int ab, Algorithm algorithm = Algorithm::fixed) {
  QuantOptions o;
  o.algorithm = algorithm;
  o.backend = quant::backend_preset(backend, wb, ab);
  return o;
}

std::map<std::string, quant::Quantizer*> quantizers_of(nn::Module& m) {
  std::map<std::string, quant::Quantizer*> out;
  for (auto& [name, q] : quant::named_quantizers(m)) out[name] = q;
  return out;
}

// The BN's running statistics get non-trivial values, so that folding changes something.
void randomize_bn(nn::Module& model, uint64_t seed) {
  Generator gen{seed, 0};
  NoGradGuard no_grad;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      const Shape c{bn->num_features};
      bn->running_mean.copy_(normal(c, 0, 0.1, DType::f32, Device::cpu(), &gen));
      bn->running_var.copy_(uniform(c, 0.75, 1.25, DType::f32, Device::cpu(), &gen));
      bn->weight.copy_(uniform(c, 0.75, 1.25, DType::f32, Device::cpu(), &gen));
      bn->bias.copy_(normal(c, 0, 0.1, DType::f32, Device::cpu(), &gen));
    }
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(sub(a, b))).item(); }

TEST(Graph, TracesResNetDataflow) {
  auto model = tiny_resnet();
  const quant::ModelGraph g = quant::trace_graph(*model, input_batch(1));
  std::map<std::string, int> node;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!node.count(g.nodes[i].name)) node[g.nodes[i].name] = static_cast<int>(i);
  ASSERT_TRUE(node.count("conv1") && node.count("layer1.0.conv2") && node.count("fc") && node.count("layer2.0.add"));
  EXPECT_EQ(g.nodes[node["conv1"]].inputs[0], g.input);
  // layer1.0.conv2 reads the ReLU after bn1: non-negative; conv1 reads the (signed) input.
  const int v = g.nodes[node["layer1.0.conv2"]].inputs[0];
  EXPECT_EQ(g.nodes[g.values[v].producer].type, "ReLU");
  EXPECT_TRUE(g.values[v].non_negative);
  EXPECT_FALSE(g.values[g.input].non_negative);
  // fc reads a view (flatten in the forward) of the average pool's output.
  const int fc_in = g.nodes[node["fc"]].inputs[0];
  EXPECT_EQ(g.nodes[g.values[fc_in].producer].type, "AdaptiveAvgPool2d");
  EXPECT_TRUE(g.values[fc_in].non_negative);
  EXPECT_EQ(g.values[g.output].producer, node["fc"]);
  // The residual add of a downsampling block reads bn2 and the downsample BN.
  const quant::GraphNode& add = g.nodes[node["layer2.0.add"]];
  EXPECT_EQ(g.nodes[g.values[add.inputs[0]].producer].name, "layer2.0.bn2");
  EXPECT_EQ(g.nodes[g.values[add.inputs[1]].producer].name, "layer2.0.downsample.1");
  // The ReLU module is called twice per block (after bn1 and after the add): two nodes.
  EXPECT_EQ(g.calls_of(model->child("layer1")->child("0")->child("relu").get()).size(), 2u);
  EXPECT_TRUE(model->is_training());  // modes restored
  EXPECT_NE(g.str().find("layer1.0.conv1 Conv2d"), std::string::npos);
}

TEST(Prepare, AcademicResNet20) {
  auto model = models::resnet20({.num_classes = 10, .in_channels = 1});
  const Tensor x = input_batch(2, 1, 16);
  const quant::PrepareReport r = quant::prepare(*model, x, options_for("academic", 4, 4, Algorithm::lsq));
  // 19 3x3 convs + 2 downsample convs + fc: 22 weight quantizers; activations: the stem
  // input, each block's input and the ReLU inside each of the 9 blocks, the fc input.
  int weights = 0, acts = 0;
  for (const auto& q : r.quantizers) (q.tensor == "weight" ? weights : acts)++;
  EXPECT_EQ(weights, 22);
  EXPECT_EQ(acts, 1 + 9 * 2 + 1);
  auto qs = quantizers_of(*model);
  EXPECT_EQ(qs.size(), 42u);
  // academic: BN not folded, stays a BatchNorm2d beside a QConv2d.
  EXPECT_EQ(model->child("conv1")->type(), "QConv2d");
  EXPECT_EQ(model->child("bn1")->type(), "BatchNorm2d");
  EXPECT_EQ(model->child("fc")->type(), "QLinear");
  // First and last layers at 8 bits (weights and inputs), the rest at 4.
  EXPECT_EQ(qs.at("conv1.weight_quant")->config.bits, 8);
  EXPECT_EQ(qs.at("conv1.input_quant")->config.bits, 8);
  EXPECT_EQ(qs.at("fc.weight_quant")->config.bits, 8);
  EXPECT_EQ(qs.at("fc.input_quant")->config.bits, 8);
  EXPECT_EQ(qs.at("layer1.0.conv1.weight_quant")->config.bits, 4);
  // Unsigned after ReLU (academic), signed for the normalised image.
  EXPECT_EQ(qs.at("layer1.0.conv2.input_quant")->config.kind, quant::IntKind::unsigned_full);
  EXPECT_EQ(qs.at("conv1.input_quant")->config.kind, quant::IntKind::signed_full);
  // The block input of layer2.0 feeds conv1 and the downsample conv: one quantizer.
  auto l2 = model->child("layer2")->child("0");
  auto conv1 = std::dynamic_pointer_cast<quant::QConv2d>(l2->child("conv1"));
  auto down = std::dynamic_pointer_cast<quant::QConv2d>(l2->child("downsample")->child("0"));
  ASSERT_TRUE(conv1 && down);
  EXPECT_EQ(conv1->input_quant.quantizer, down->input_quant.quantizer);
  EXPECT_TRUE(conv1->input_quant.owner.empty());
  EXPECT_EQ(down->input_quant.owner, "layer2.0.conv1.input_quant");
  EXPECT_EQ(qs.count("layer2.0.downsample.0.input_quant"), 0u);
  // The add stays float in graph 1.
  EXPECT_EQ(l2->child("add")->type(), "Add");
  EXPECT_NE(r.str().find("layer2.0.conv1.input_quant"), std::string::npos);
}

TEST(Prepare, FpStateComputesTheFloatModel) {
  for (const std::string backend : {"academic", "tensorrt", "fbgemm"}) {
    SCOPED_TRACE(backend);
    auto model = tiny_resnet();
    randomize_bn(*model, 3);
    model->eval();
    const Tensor x = input_batch(3);
    Tensor expected;
    {
      NoGradGuard no_grad;
      expected = (*model)(x);
    }
    const auto before = model->state_dict();
    quant::prepare(*model, x, options_for(backend, 8, 8));
    model->eval();
    NoGradGuard no_grad;
    const Tensor y = (*model)(x);
    // academic keeps the float layers bit for bit; folding BN into the conv changes the
    // arithmetic (w*gamma/sigma), not the function.
    if (backend == std::string("academic")) {
      EXPECT_EQ(max_abs_diff(y, expected), 0.0);
    } else {
      EXPECT_LT(max_abs_diff(y, expected), 1e-4 * (1 + max(abs(expected)).item()));
    }
    // Every float tensor is still in the model (the same tensor, not a copy).
    std::set<const TensorImpl*> after;
    for (auto& [name, t] : model->state_dict()) after.insert(&t.impl());
    for (auto& [name, t] : before) EXPECT_TRUE(after.count(&t.impl())) << name;
  }
}

TEST(Prepare, TensorRtFoldsBnAndQuantizesOnlyTheShortcut) {
  auto model = tiny_resnet();
  quant::prepare(*model, input_batch(1), options_for("tensorrt", 8, 8));
  auto l1 = model->child("layer1")->child("0");
  EXPECT_EQ(l1->child("conv1")->type(), "ConvBn2d");
  EXPECT_EQ(l1->child("bn1")->type(), "Identity");
  auto add = std::dynamic_pointer_cast<quant::QAdd>(l1->child("add"));
  ASSERT_TRUE(add);
  EXPECT_FALSE(add->input0_quant);  // bn2's output: fused into conv2's accumulator
  ASSERT_TRUE(add->input1_quant);   // the shortcut: the block input, conv1's quantizer
  auto conv1 = std::dynamic_pointer_cast<quant::ConvBn2d>(l1->child("conv1"));
  EXPECT_EQ(add->input1_quant.quantizer, conv1->input_quant.quantizer);
  EXPECT_FALSE(add->output_quant);
  // The downsampling block: input 0 (bn2) fused, input 1 (the downsample branch) quantized.
  auto add2 = std::dynamic_pointer_cast<quant::QAdd>(model->child("layer2")->child("0")->child("add"));
  ASSERT_TRUE(add2);
  EXPECT_FALSE(add2->input0_quant);
  EXPECT_TRUE(add2->input1_quant);
  EXPECT_TRUE(add2->input1_quant.owner.empty());  // nothing else reads the downsample output
  // Per-channel narrow symmetric weights.
  auto qs = quantizers_of(*model);
  EXPECT_TRUE(qs.at("layer1.0.conv1.weight_quant")->config.per_channel());
  EXPECT_EQ(qs.at("layer1.0.conv1.weight_quant")->config.kind, quant::IntKind::signed_narrow);
}

TEST(Prepare, FullGraphQuantizesBothAddInputsAndOutput) {
  auto model = tiny_resnet();
  quant::prepare(*model, input_batch(1), options_for("tvm", 8, 8));
  auto l1 = model->child("layer1")->child("0");
  auto add = std::dynamic_pointer_cast<quant::QAdd>(l1->child("add"));
  ASSERT_TRUE(add);
  EXPECT_TRUE(add->input0_quant && add->input1_quant && add->output_quant);
  EXPECT_TRUE(add->input0_quant.owner.empty());
  EXPECT_TRUE(add->output_quant.owner.empty());
  auto conv1 = std::dynamic_pointer_cast<quant::ConvBn2d>(l1->child("conv1"));
  EXPECT_EQ(add->input1_quant.quantizer, conv1->input_quant.quantizer);
  EXPECT_TRUE(quantizers_of(*model).at("layer1.0.conv1.weight_quant")->config.power_of_two);
  EXPECT_NE(add->str().find("input1_quant=shared(layer1.0.conv1.input_quant)"), std::string::npos);
}

TEST(Prepare, EveryZooModelOnEveryBackend) {
  for (const std::string& name : models::model_names()) {
    for (const std::string& backend : quant::backend_names()) {
      SCOPED_TRACE(name + " " + backend);
      Generator gen{5, 0};
      auto model = models::create(name, {.num_classes = 4, .in_channels = 3, .stem = models::Stem::cifar, .gen = &gen});
      const Tensor x = input_batch(2, 3, 16, 11);
      const quant::PrepareReport r = quant::prepare(*model, x, options_for(backend, 8, 8));
      EXPECT_FALSE(r.quantizers.empty());
      for (auto& [n, m] : model->named_modules()) {
        // No float weight layer is left in the forward (ConvBn2d keeps its conv as a child).
        if (m->type() == "Conv2d") EXPECT_TRUE(n.size() >= 5 && n.substr(n.size() - 5) == ".conv") << n;
        if (m->type() == "Linear") ADD_FAILURE() << n << " is still a float Linear";
      }
      quant::calibrate(*model, [&](int64_t) { return x; }, 1);
      quant::set_state(*model, quant::QuantState::eval);
      model->eval();
      NoGradGuard no_grad;
      const Tensor y = (*model)(x);
      EXPECT_EQ(y.sizes(), (Shape{2, 4}));
      EXPECT_TRUE(std::isfinite(sum(y).item()));
    }
  }
}

// Two branches concatenated: graph 3 gives both inputs one quantizer.
class Branches : public nn::Module {
 public:
  Branches() : Module("Branches") {
    a = register_child("a", std::make_shared<nn::Conv2d>(1, 2, 3, nn::Conv2dOptions{.padding = {1, 1}}));
    b = register_child("b", std::make_shared<nn::Conv2d>(1, 3, 1));
    cat = register_child("cat", std::make_shared<nn::Concat>(1));
    head = register_child("head", std::make_shared<nn::Conv2d>(5, 2, 1));
  }
  Tensor forward(const Tensor& x) override { return head(cat->operator()({a(x), b(x)})); }
  nn::Child<nn::Conv2d> a, b, head;
  nn::Child<nn::Concat> cat;
};

TEST(Prepare, ConcatInputsShareOneQuantizer) {
  auto model = std::make_shared<Branches>();
  quant::prepare(*model, input_batch(1, 1, 6), options_for("snpe", 8, 8));
  auto cat = std::dynamic_pointer_cast<quant::QConcat>(model->child("cat"));
  ASSERT_TRUE(cat);
  ASSERT_TRUE(cat->input_quant);
  auto head = std::dynamic_pointer_cast<quant::QConv2d>(model->child("head"));
  EXPECT_EQ(head->input_quant.quantizer, cat->input_quant.quantizer);  // the concat output: same grid
  quant::calibrate(*model, [&](int64_t) { return input_batch(2, 1, 6); }, 1);
  quant::set_state(*model, quant::QuantState::eval);
  NoGradGuard no_grad;
  EXPECT_EQ((*model)(input_batch(2, 1, 6)).sizes(), (Shape{2, 2, 6, 6}));
}

// One conv called twice: refused, and the model is left as it was.
class Twice : public nn::Module {
 public:
  Twice() : Module("Twice") { conv = register_child("conv", std::make_shared<nn::Conv2d>(1, 1, 1)); }
  Tensor forward(const Tensor& x) override { return conv(conv(x)); }
  nn::Child<nn::Conv2d> conv;
};

TEST(Prepare, RefusesWhatItCannotQuantize) {
  auto twice = std::make_shared<Twice>();
  try {
    quant::prepare(*twice, input_batch(1, 1, 4), options_for("academic", 8, 8));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv (Conv2d) is called 2 times"), std::string::npos) << e.what();
  }
  EXPECT_EQ(twice->child("conv")->type(), "Conv2d");

  auto single = std::make_shared<nn::Conv2d>(1, 1, 1);
  EXPECT_THROW(quant::prepare(*single, input_batch(1, 1, 4), options_for("academic", 8, 8)), Error);

  auto model = tiny_resnet();
  // Each refusal names the override that makes the combination work.
  const std::pair<Algorithm, const char*> refusals[] = {{Algorithm::dsq, "override it with weight_per_channel=false"},
                                                        {Algorithm::dorefa, "override it with fold_bn=false"}};
  for (const auto& [algorithm, message] : refusals) {
    try {
      quant::prepare(*model, input_batch(1), options_for("tensorrt", 4, 4, algorithm));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  QuantOptions dorefa = options_for("tensorrt", 4, 4, Algorithm::dorefa);
  quant::apply_override(dorefa.backend, "fold_bn=false");
  quant::apply_override(dorefa.backend, "weight_per_channel=false");
  EXPECT_NO_THROW(quant::prepare(*tiny_resnet(), input_batch(1), dorefa));
  EXPECT_EQ(model->child("conv1")->type(), "Conv2d");  // unchanged
  quant::prepare(*model, input_batch(1), options_for("academic", 8, 8));
  EXPECT_THROW(quant::prepare(*model, input_batch(1), options_for("academic", 8, 8)), Error);  // twice
}

TEST(Prepare, PactClipsPossiblyNegativeTensorsSymmetrically) {
  // fbgemm's activations are asymmetric uint8; PACT's unsigned clip [0, alpha] fits the
  // ReLU outputs, and the signed input image gets [-alpha, alpha].
  auto model = tiny_resnet();
  QuantOptions o = options_for("fbgemm", 8, 8, Algorithm::pact);
  quant::apply_override(o.backend, "weight_per_channel=false");
  quant::prepare(*model, input_batch(1), o);
  auto qs = quantizers_of(*model);
  EXPECT_EQ(qs.at("conv1.input_quant")->config.kind, quant::IntKind::signed_full);
  EXPECT_EQ(qs.at("layer1.0.conv2.input_quant")->config.kind, quant::IntKind::unsigned_full);
  EXPECT_EQ(qs.at("conv1.weight_quant")->type(), "FixedQuantizer");
}

TEST(Prepare, SharedQuantizerObservesOncePerForward) {
  auto model = tiny_resnet();
  QuantOptions o = options_for("academic", 8, 8);
  o.activation_observer = "ema_minmax";
  quant::prepare(*model, input_batch(1), o);
  auto q = quantizers_of(*model).at("layer2.0.conv1.input_quant");
  // Calibrating on the same batch k times gives the batch's own range with EMA whatever
  // k, but a double observation per forward would show in a tiny model with two batches:
  // compare one forward per batch against a model that observes each batch once by hand.
  const Tensor x1 = input_batch(2, 1, 12, 1), x2 = mul(input_batch(2, 1, 12, 2), 3.0);
  quant::calibrate(*model, [&](int64_t i) { return i == 0 ? x1 : x2; }, 2);
  auto reference = tiny_resnet();
  quant::prepare(*reference, input_batch(1), o);
  // Run the reference's layers up to layer2's input by hand, then observe once.
  quant::set_state(*reference, quant::QuantState::fp);
  reference->eval();
  NoGradGuard no_grad;
  auto block_input = [&](const Tensor& x) {
    nn::Module& r = *reference;
    Tensor h = (*r.child("relu"))((*r.child("bn1"))((*r.child("conv1"))(x)));
    return (*r.child("layer1"))(h);
  };
  auto rq = quantizers_of(*reference).at("layer2.0.conv1.input_quant");
  rq->set_state(quant::QuantState::calibrate);
  (*rq)(block_input(x1));
  (*rq)(block_input(x2));
  EXPECT_EQ(q->qparams().scale, rq->qparams().scale);
}

TEST(Calibrate, PtqW8A8IsCloseToFloat) {
  for (const std::string& backend : quant::backend_names()) {
  SCOPED_TRACE(backend);
  auto model = tiny_resnet();
  randomize_bn(*model, 4);
  const Tensor x = input_batch(8);
  model->eval();
  Tensor expected;
  {
    NoGradGuard no_grad;
    expected = (*model)(x);
  }
  quant::prepare(*model, x, options_for(backend, 8, 8));
  quant::calibrate(*model, [&](int64_t) { return x; }, 2);
  EXPECT_EQ(quantizers_of(*model).begin()->second->state(), quant::QuantState::calibrate);
  quant::set_state(*model, quant::QuantState::eval);
  NoGradGuard no_grad;
  const Tensor y = (*model)(x);
  const double signal = sum(mul(expected, expected)).item();
  const Tensor e = sub(y, expected);
  const double sqnr = 10 * std::log10(signal / sum(mul(e, e)).item());
  // tvm's power-of-two scales round s to the nearest 2^k: down by up to 2^-0.5, which
  // clips up to 29% of a calibrated range, so its error is larger.
  EXPECT_GT(sqnr, backend == "tvm" ? 12.0 : 25.0);
  EXPECT_GT(max_abs_diff(y, expected), 0.0);  // it is quantized
  }
}

TEST(Calibrate, BnRecalibrationIsThePlainAverage) {
  // academic keeps the BNs; fp quantizers make the average easy to compute by hand.
  auto model = tiny_resnet();
  quant::prepare(*model, input_batch(1), options_for("academic", 8, 8));
  quant::set_state(*model, quant::QuantState::fp);
  const Tensor x1 = input_batch(4, 1, 12, 1), x2 = add(input_batch(4, 1, 12, 2), 1.0);
  model->eval();
  EXPECT_EQ(quant::recalibrate_bn(*model, [&](int64_t i) { return i == 0 ? x1 : x2; }, 2), 6);  // stem, 2 + 2 in the blocks, downsample
  EXPECT_FALSE(model->is_training());
  auto bn1 = std::dynamic_pointer_cast<nn::BatchNorm2d>(model->child("bn1"));
  EXPECT_FALSE(bn1->options.cumulative_average);
  EXPECT_EQ(bn1->num_batches_tracked.item(), 2);
  // bn1's batch means are those of conv1's outputs (conv1 is a QConv2d in fp: the float conv).
  NoGradGuard no_grad;
  auto mean_of = [&](const Tensor& x) { return mean((*model->child("conv1"))(x), {0, 2, 3}); };
  const Tensor expected = mul(add(mean_of(x1), mean_of(x2)), 0.5);
  EXPECT_LT(max_abs_diff(bn1->running_mean, expected), 1e-6);
}

TEST(Calibrate, BnRecalibrationUnfreezesAndRefreezesConvBn) {
  auto model = tiny_resnet();
  QuantOptions o = options_for("tensorrt", 8, 8);
  o.fold = quant::FoldStrategy::jacob;
  quant::prepare(*model, input_batch(1), o);
  auto fused = std::dynamic_pointer_cast<quant::ConvBn2d>(model->child("conv1"));
  fused->freeze_bn();
  quant::calibrate(*model, [&](int64_t) { return input_batch(4); }, 1);
  quant::set_state(*model, quant::QuantState::eval);
  EXPECT_EQ(quant::recalibrate_bn(*model, [&](int64_t) { return input_batch(4); }, 1), 6);
  EXPECT_TRUE(fused->bn_frozen());
  EXPECT_EQ(fused->bn->num_batches_tracked.item(), 1);
}

TEST(Prepare, CheckpointRoundTrip) {
  auto model = tiny_resnet(1);
  QuantOptions o = options_for("academic", 4, 4, Algorithm::lsq);
  quant::prepare(*model, input_batch(1), o);
  quant::calibrate(*model, [&](int64_t) { return input_batch(4); }, 1);
  quant::set_state(*model, quant::QuantState::eval);
  auto copy = tiny_resnet(2);
  quant::prepare(*copy, input_batch(1), o);
  copy->load_state_dict(model->state_dict());
  model->eval();
  copy->eval();
  NoGradGuard no_grad;
  EXPECT_EQ(max_abs_diff((*model)(input_batch(3)), (*copy)(input_batch(3))), 0.0);
  EXPECT_EQ(quantizers_of(*copy).at("conv1.weight_quant")->state(), quant::QuantState::eval);
}

TEST(Recipe, JsonRoundTripAndErrors) {
  quant::QuantRecipe r;
  r.algorithm = "pact";
  r.backend = "tvm";
  r.weight_bits = 4;
  r.activation_bits = 3;
  r.overrides = {"first_last_8bit=false"};
  r.fold = "jacob";
  EXPECT_EQ(quant::QuantRecipe::from_json(r.to_json(), "test"), r);
  const QuantOptions o = r.options();
  EXPECT_EQ(o.algorithm, Algorithm::pact);
  EXPECT_EQ(o.backend.weight_bits, 4);
  EXPECT_FALSE(o.backend.first_last_8bit);
  EXPECT_EQ(o.fold, quant::FoldStrategy::jacob);
  r.algorithm = "lsqq";
  EXPECT_THROW(r.options(), Error);
  EXPECT_THROW(quant::QuantRecipe::from_json("{\"algorithm\": 3}", "x.safetensors"), Error);
  EXPECT_THROW(quant::QuantRecipe::from_json("not json", "x.safetensors"), Error);
}

}  // namespace
}  // namespace lowbit
