#include "quant/prepare.h"

#include <algorithm>
#include <climits>
#include <map>
#include <numeric>
#include <set>

#include "nn/batch_norm.h"
#include "nn/container.h"
#include "quant/graph.h"
#include "quant/qlayers.h"
#include "quant/quantizer_dorefa.h"
#include "quant/quantizer_dsq.h"
#include "quant/quantizer_fixed.h"
#include "quant/quantizer_lsq.h"
#include "quant/quantizer_lsq_plus.h"
#include "quant/quantizer_pact.h"
#include "quant/state.h"
#include "tensor/error.h"

namespace lowbit::quant {

namespace {

struct AlgorithmName {
  Algorithm algorithm;
  const char* name;
};
constexpr AlgorithmName kAlgorithms[] = {{Algorithm::fixed, "fixed"},   {Algorithm::lsq, "lsq"},
                                         {Algorithm::lsq_plus, "lsqplus"}, {Algorithm::pact, "pact"},
                                         {Algorithm::dorefa, "dorefa"}, {Algorithm::dsq, "dsq"}};

// The per-tensor-only quantizers refuse per-channel configs themselves; this says which
// override to use, in the words of the command line.
void require_per_tensor(const QuantOptions& o, const QuantizerConfig& c, const char* quantizer) {
  LOWBIT_CHECK(!c.per_channel(), "quant::prepare: algorithm ", to_string(o.algorithm), " quantizes weights with ",
               quantizer, ", which is per tensor, but backend ", o.backend.name,
               " wants per-channel weights; override it with weight_per_channel=false");
}

}  // namespace

const char* to_string(Algorithm algorithm) {
  for (const auto& a : kAlgorithms)
    if (a.algorithm == algorithm) return a.name;
  return "?";
}

Algorithm parse_algorithm(std::string_view name) {
  for (const auto& a : kAlgorithms)
    if (name == a.name) return a.algorithm;
  throw_error(str_cat("quant: unknown algorithm '", name, "' (fixed, lsq, lsqplus, pact, dorefa or dsq)"));
}

const std::vector<std::string>& algorithm_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& a : kAlgorithms) v.emplace_back(a.name);
    return v;
  }();
  return names;
}

std::string QuantOptions::str() const {
  return str_cat("algorithm=", to_string(algorithm), " fold=", to_string(fold), " weight_observer=", weight_observer,
                 " activation_observer=", activation_observer, " backend=(", backend.str(), ")");
}

std::shared_ptr<Quantizer> make_weight_quantizer(const QuantOptions& o, const QuantizerConfig& c) {
  switch (o.algorithm) {
    case Algorithm::fixed:
      return std::make_shared<FixedQuantizer>(c, o.weight_observer);
    case Algorithm::lsq:
    case Algorithm::lsq_plus:
      if (c.scheme == QScheme::asymmetric) {  // LSQ+ is LSQ with a learned offset
        require_per_tensor(o, c, "LSQ+ (LSQ's asymmetric form)");
        return std::make_shared<LsqPlusQuantizer>(c, LsqPlusOptions{.tensor = LsqTensorKind::weight});
      }
      return std::make_shared<LsqQuantizer>(c, LsqOptions{.tensor = LsqTensorKind::weight});
    case Algorithm::pact:  // PACT is an activation method: weights as fixed (see prepare.h)
      return std::make_shared<FixedQuantizer>(c, o.weight_observer);
    case Algorithm::dorefa:
      require_per_tensor(o, c, "DoReFa");
      return std::make_shared<DorefaQuantizer>(
          c, DorefaOptions{.tensor = DorefaTensorKind::weight, .variant = DorefaVariant::mqbench});
    case Algorithm::dsq:
      require_per_tensor(o, c, "DSQ");
      return std::make_shared<DsqQuantizer>(c);
  }
  throw_error("quant: unknown algorithm");
}

std::shared_ptr<Quantizer> make_activation_quantizer(const QuantOptions& o, const QuantizerConfig& c,
                                                     bool non_negative) {
  switch (o.algorithm) {
    case Algorithm::fixed:
    case Algorithm::dorefa:
      return std::make_shared<FixedQuantizer>(c, o.activation_observer);
    case Algorithm::lsq:
      if (c.scheme == QScheme::symmetric)
        return std::make_shared<LsqQuantizer>(c, LsqOptions{.tensor = LsqTensorKind::activation});
      return std::make_shared<LsqPlusQuantizer>(c, LsqPlusOptions{.tensor = LsqTensorKind::activation});
    case Algorithm::lsq_plus:
      return std::make_shared<LsqPlusQuantizer>(c, LsqPlusOptions{.tensor = LsqTensorKind::activation});
    case Algorithm::pact: {
      // PACT's unsigned form clips to [0, alpha]: right after a ReLU, wrong for a tensor
      // that may be negative (an asymmetric backend's uint8 range covers negatives through
      // its zero point). There PACT clips to [-alpha, alpha] (MQBench's signed extension).
      QuantizerConfig pc = c;
      if (!non_negative && pc.kind == IntKind::unsigned_full) {
        pc.kind = IntKind::signed_full;
        pc.scheme = QScheme::symmetric;
      }
      return std::make_shared<PactQuantizer>(pc);
    }
    case Algorithm::dsq:
      return std::make_shared<DsqQuantizer>(c);
  }
  throw_error("quant: unknown algorithm");
}

std::string PrepareReport::str() const {
  std::string out = str_cat("quant::prepare: ", options, "\n");
  out += str_cat("layers replaced (", replaced.size(), "):\n");
  for (const auto& r : replaced) out += str_cat("  ", r, "\n");
  size_t width = 0;
  for (const auto& q : quantizers) width = std::max(width, q.name.size());
  out += str_cat("quantizers placed (", quantizers.size(), "):\n");
  for (const auto& q : quantizers)
    out += str_cat("  ", q.name, std::string(width - q.name.size() + 2, ' '), q.config, "\n", std::string(width + 4, ' '),
                   q.why, "\n");
  return out;
}

namespace {

// Where an activation quantizer is held: a node's input argument, or its output (-1).
struct Attachment {
  int node;
  int slot;
  bool operator<(const Attachment& o) const {
    const int a = slot < 0 ? INT_MAX : slot, b = o.slot < 0 ? INT_MAX : o.slot;
    return node != o.node ? node < o.node : a < b;
  }
};

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int v) { return parent[v] == v ? v : parent[v] = find(parent[v]); }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

bool is_weight_layer(const std::string& type) { return type == "Conv2d" || type == "Linear"; }

std::string slot_name(const GraphNode& n, int slot) {
  if (n.type == "Add") return slot < 0 ? "output_quant" : str_cat("input", slot, "_quant");
  return "input_quant";  // weight layers and Concat (one quantizer for all inputs)
}

// Splits "a.b.c" into ("a.b", "c").
std::pair<std::string, std::string> split_name(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return {"", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

}  // namespace

PrepareReport prepare(nn::Module& model, const Tensor& example, const QuantOptions& options) {
  LOWBIT_CHECK(!model.children().empty(), "quant::prepare: the model is a single ", model.type(),
               " layer; put it in an nn::Sequential so that it can be replaced");
  LOWBIT_CHECK(named_quantizers(model).empty(), "quant::prepare: the model already has quantizers (",
               named_quantizers(model).front().first, "); prepare a float model");
  const BackendConfig& backend = options.backend;
  LOWBIT_CHECK(options.algorithm != Algorithm::dorefa || !backend.fold_bn,
               "quant::prepare: DoReFa normalises weights to [-1, 1] (tanh(w) / max|tanh(w)|, QUANT_NUMERICS §5.5), "
               "which drops the weight's scale; a folded BN evaluates conv(x, q(w*gamma/sigma)) at the weight's own "
               "scale (§7), so the evaluated model would not be the trained one. Backend ", backend.name,
               " folds BN: keep BN as its own layer, override it with fold_bn=false");
  const ModelGraph g = trace_graph(model, example);

  std::map<std::string, nn::Module*> by_name;
  for (auto& [name, m] : model.named_modules()) by_name.emplace(name, m);
  auto type_of = [&](int node) -> const std::string& { return g.nodes[node].type; };
  auto producer = [&](int value) { return g.values[value].producer; };

  // Conv + BN pairs (folded when the backend folds BN): the conv's only reader is the BN.
  std::map<int, int> bn_of_conv, conv_of_bn;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    if (n.type != "BatchNorm2d" || n.inputs.size() != 1) continue;
    const int p = producer(n.inputs[0]);
    if (p < 0 || type_of(p) != "Conv2d" || g.values[n.inputs[0]].consumers.size() != 1) continue;
    if (g.calls_of(n.module).size() != 1 || g.calls_of(g.nodes[p].module).size() != 1) continue;
    bn_of_conv[p] = static_cast<int>(i);
    conv_of_bn[static_cast<int>(i)] = p;
  }
  const bool fold = backend.fold_bn;

  // The weight layer whose accumulator computes a value (a conv, a linear, or a conv's BN).
  auto accumulator_of = [&](int value) {
    const int p = producer(value);
    if (p < 0) return -1;
    if (is_weight_layer(type_of(p))) return p;
    if (conv_of_bn.count(p)) return conv_of_bn.at(p);
    return -1;
  };

  // First and last layers.
  std::set<int> first_last;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_weight_layer(g.nodes[i].type) && !g.nodes[i].inputs.empty() && g.source_of(g.nodes[i].inputs[0]) == g.input)
      first_last.insert(static_cast<int>(i));
  const int last = accumulator_of(g.source_of(g.output));
  if (last >= 0) first_last.insert(last);
  auto bits_for = [&](int node, int bits) {
    return backend.first_last_8bit && first_last.count(node) && bits < 8 ? 8 : bits;
  };

  // Activation attachments by the graph policy, grouped by value (concat inputs joined).
  UnionFind groups(g.values.size());
  std::map<int, std::vector<Attachment>> attach;  // value -> where its quantizer is held
  std::map<int, std::string> reason;              // value -> why (the first rule that placed it)
  auto want = [&](int value, Attachment a, std::string why) {
    attach[value].push_back(a);
    reason.emplace(value, std::move(why));
  };
  const int graph = static_cast<int>(backend.graph);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    const int node = static_cast<int>(i);
    if (is_weight_layer(n.type)) {
      want(n.inputs[0], {node, 0}, str_cat("input of ", n.type, " (every graph policy)"));
    } else if (n.type == "Add" && graph >= 2) {
      int fused = -1;
      if (graph == 2)
        for (int k = 0; k < 2 && fused < 0; ++k)
          if (accumulator_of(n.inputs[k]) >= 0) fused = k;
      for (int k = 0; k < 2; ++k) {
        if (k == fused) continue;
        want(n.inputs[k], {node, k},
             graph == 2 ? str_cat("shortcut input of ", n.name, " (graph 2: the add is fused into the accumulator of ",
                                  fused >= 0 ? g.nodes[accumulator_of(n.inputs[fused])].name : "no conv", ")")
                        : str_cat("input ", k, " of ", n.name, " (graph 3: both inputs of every add)"));
      }
      if (graph == 3) want(n.output, {node, -1}, str_cat("output of ", n.name, " (graph 3: every add's output)"));
    } else if (n.type == "Concat" && graph >= 2) {
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        want(n.inputs[k], {node, static_cast<int>(k)},
             str_cat("input of ", n.name, " (concat inputs share one (s, z))"));
        groups.join(n.inputs[k], n.inputs[0]);
      }
      groups.join(n.output, n.inputs[0]);  // the result is on the inputs' grid
    }
  }

  // Every module the plan replaces must be called exactly once per forward.
  auto check_single_call = [&](int node) {
    const GraphNode& n = g.nodes[node];
    LOWBIT_CHECK(g.calls_of(n.module).size() == 1, "quant::prepare: ", n.name, " (", n.type, ") is called ",
                 g.calls_of(n.module).size(),
                 " times in one forward; a quantized layer needs its own module at each call site");
    LOWBIT_CHECK(!n.name.empty() && n.name != "?", "quant::prepare: a ", n.type,
                 " layer called in the forward is not a registered child of the model");
  };

  // The replacements, built before anything is changed.
  PrepareReport report;
  report.options = options.str();
  std::map<int, std::shared_ptr<nn::Module>> replacement;  // node -> new module
  std::map<int, ActQuant*> slots_input;                    // weight layer / concat node -> its input slot
  std::vector<std::pair<std::string, std::string>> identity_slots;  // BNs folded away: (parent, child)
  auto child_ptr = [&](const std::string& name) {
    const auto [parent, child] = split_name(name);
    return by_name.at(parent)->child(child);
  };
  std::vector<PlacedQuantizer> weights_placed;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    const int node = static_cast<int>(i);
    if (!is_weight_layer(n.type)) continue;
    check_single_call(node);
    const int bits = bits_for(node, backend.weight_bits);
    const bool edge = first_last.count(node) > 0;
    const std::string why_bits = edge && bits != backend.weight_bits ? ", first/last layer at 8 bits" : "";
    if (n.type == "Conv2d") {
      auto conv = std::dynamic_pointer_cast<nn::Conv2d>(child_ptr(n.name));
      LOWBIT_CHECK(conv != nullptr, "quant::prepare: ", n.name, " says Conv2d but is not an nn::Conv2d");
      auto wq = make_weight_quantizer(options, backend.weight_config(conv->out_channels, bits));
      if (fold && bn_of_conv.count(node)) {
        const GraphNode& b = g.nodes[bn_of_conv.at(node)];
        auto bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(child_ptr(b.name));
        LOWBIT_CHECK(bn != nullptr, "quant::prepare: ", b.name, " says BatchNorm2d but is not an nn::BatchNorm2d");
        auto fused = std::make_shared<ConvBn2d>(conv, bn, options.fold, wq);
        replacement[node] = fused;
        slots_input[node] = &fused->input_quant;
        identity_slots.push_back(split_name(b.name));
        report.replaced.push_back(str_cat(n.name, ": Conv2d + ", b.name, " -> ConvBn2d(", to_string(options.fold),
                                          "); ", b.name, " -> Identity"));
        weights_placed.push_back({n.name + ".weight_quant", "weight", str_cat(wq->type(), " ", wq->config.str()),
                                  str_cat("folded weight w*gamma/sigma of ", n.name, " (fold_bn=true)", why_bits)});
      } else {
        auto q = std::make_shared<QConv2d>(conv, wq);
        replacement[node] = q;
        slots_input[node] = &q->input_quant;
        report.replaced.push_back(str_cat(n.name, ": Conv2d -> QConv2d"));
        weights_placed.push_back({n.name + ".weight_quant", "weight", str_cat(wq->type(), " ", wq->config.str()),
                                  str_cat("weight of ", n.name, fold ? "" : " (fold_bn=false: BN stays float)",
                                          why_bits)});
      }
    } else {
      auto linear = std::dynamic_pointer_cast<nn::Linear>(child_ptr(n.name));
      LOWBIT_CHECK(linear != nullptr, "quant::prepare: ", n.name, " says Linear but is not an nn::Linear");
      auto wq = make_weight_quantizer(options, backend.weight_config(linear->out_features, bits));
      auto q = std::make_shared<QLinear>(linear, wq);
      replacement[node] = q;
      slots_input[node] = &q->input_quant;
      report.replaced.push_back(str_cat(n.name, ": Linear -> QLinear"));
      weights_placed.push_back({n.name + ".weight_quant", "weight", str_cat(wq->type(), " ", wq->config.str()),
                                str_cat("weight of ", n.name, why_bits)});
    }
  }
  // Merge layers that hold a quantizer.
  for (const auto& [value, list] : attach)
    for (const Attachment& a : list) {
      const GraphNode& n = g.nodes[a.node];
      if (replacement.count(a.node)) continue;
      check_single_call(a.node);
      if (n.type == "Add") {
        replacement[a.node] = std::make_shared<QAdd>();
        report.replaced.push_back(str_cat(n.name, ": Add -> QAdd"));
      } else if (n.type == "Concat") {
        auto* concat = dynamic_cast<nn::Concat*>(n.module);
        auto q = std::make_shared<QConcat>(concat->dim);
        slots_input[a.node] = &q->input_quant;
        replacement[a.node] = q;
        report.replaced.push_back(str_cat(n.name, ": Concat -> QConcat"));
      }
    }

  // One activation quantizer per group, owned by its first holder.
  std::map<int, std::vector<int>> members;  // group root -> values
  for (const auto& [value, list] : attach) members[groups.find(value)].push_back(value);
  struct Planned {
    Attachment owner;
    std::vector<Attachment> holders;
    std::shared_ptr<Quantizer> quantizer;
    PlacedQuantizer placed;
  };
  std::vector<Planned> planned;
  for (const auto& [root, values] : members) {
    Planned p;
    bool non_negative = true;
    int bits = backend.activation_bits;
    std::string why;
    for (int v : values) {
      non_negative = non_negative && g.values[v].non_negative;
      for (const Attachment& a : attach.at(v)) {
        p.holders.push_back(a);
        if (is_weight_layer(type_of(a.node))) bits = std::max(bits, bits_for(a.node, backend.activation_bits));
      }
      why += (why.empty() ? "" : "; ") + reason.at(v);
    }
    std::sort(p.holders.begin(), p.holders.end());
    // A concat holds one quantizer for all its inputs: one holder per concat node.
    p.holders.erase(std::unique(p.holders.begin(), p.holders.end(),
                                [&](const Attachment& a, const Attachment& b) {
                                  return a.node == b.node && type_of(a.node) == "Concat";
                                }),
                    p.holders.end());
    p.owner = p.holders.front();
    const QuantizerConfig config = backend.activation_config(non_negative, bits);
    p.quantizer = make_activation_quantizer(options, config, non_negative);
    const GraphNode& owner = g.nodes[p.owner.node];
    std::string readers;
    for (const Attachment& a : p.holders)
      readers += str_cat(readers.empty() ? "" : ", ", g.nodes[a.node].name, a.slot < 0 ? " (output)" : "");
    const int v0 = values.front();
    const int prod = producer(v0);
    const std::string made_by = prod == GraphValue::kModelInput ? "the model input"
                                : prod == GraphValue::kUnknown  ? "a functional op"
                                                                : str_cat(g.nodes[prod].name, " (", type_of(prod), ")");
    p.placed = {str_cat(owner.name, ".", slot_name(owner, p.owner.slot)), "activation",
                str_cat(p.quantizer->type(), " ", config.str()),
                str_cat(why, "; made by ", made_by, non_negative ? ", non-negative" : "", "; held by ", readers,
                        bits != backend.activation_bits ? "; first/last layer at 8 bits" : "")};
    planned.push_back(std::move(p));
  }

  // Apply: swap the layers in, then hand out the activation quantizers.
  for (const auto& [node, module] : replacement) {
    const auto [parent, child] = split_name(g.nodes[node].name);
    by_name.at(parent)->replace_child(child, module);
  }
  for (const auto& [parent, child] : identity_slots) {
    auto identity = std::make_shared<nn::Identity>();
    identity->train(by_name.at(parent)->is_training());
    by_name.at(parent)->replace_child(child, identity);
  }
  std::sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) { return a.owner < b.owner; });
  for (Planned& p : planned) {
    for (const Attachment& a : p.holders) {
      nn::Module& holder = *replacement.at(a.node);
      const GraphNode& n = g.nodes[a.node];
      const bool owns = a.node == p.owner.node && a.slot == p.owner.slot;
      ActQuant q{p.quantizer, owns ? "" : p.placed.name};
      ActQuant* slot = nullptr;
      if (auto* add = dynamic_cast<QAdd*>(&holder))
        slot = a.slot < 0 ? &add->output_quant : a.slot == 0 ? &add->input0_quant : &add->input1_quant;
      else
        slot = slots_input.at(a.node);
      if (slot->quantizer == p.quantizer) continue;  // a concat's other inputs
      quant::attach(holder, slot_name(n, a.slot), *slot, q);
    }
    report.quantizers.push_back(p.placed);
  }
  // Each new layer (with its quantizers) in the mode of the layer it replaces.
  for (const auto& [node, module] : replacement) module->train(g.nodes[node].module->is_training());
  // Weight quantizers first in the report, in execution order, then activations.
  report.quantizers.insert(report.quantizers.begin(), weights_placed.begin(), weights_placed.end());
  return report;
}

}  // namespace lowbit::quant
