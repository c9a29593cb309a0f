#include "quant/graph.h"

#include <map>
#include <set>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace lowbit::quant {

namespace {

bool makes_non_negative(const std::string& type) { return type == "ReLU" || type == "ReLU6"; }

bool keeps_sign(const std::string& type) {
  static const std::set<std::string> kinds = {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten",
                                              "Identity",  "Dropout",   "StochasticDepth"};
  return kinds.count(type) > 0;
}

}  // namespace

std::vector<int> ModelGraph::calls_of(const nn::Module* module) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].module == module) out.push_back(static_cast<int>(i));
  return out;
}

int ModelGraph::source_of(int value) const {
  while (value >= 0 && values[value].producer >= 0) {
    const GraphNode& n = nodes[values[value].producer];
    if (!keeps_sign(n.type) || n.inputs.size() != 1) break;
    value = n.inputs[0];
  }
  return value;
}

std::string ModelGraph::str() const {
  std::string out = str_cat("input v", input, "\n");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const GraphNode& n = nodes[i];
    std::string ins;
    for (int v : n.inputs) ins += str_cat(ins.empty() ? "" : ", ", "v", v);
    out += str_cat(i, " ", n.name.empty() ? "(model)" : n.name, " ", n.type, " (", ins, ") -> v", n.output,
                   n.pass_through ? " (pass-through)" : "", " ", shape_str(values[n.output].sizes),
                   values[n.output].non_negative ? " >= 0" : "", "\n");
  }
  return out + str_cat("output v", output, "\n");
}

ModelGraph trace_graph(nn::Module& model, const Tensor& example) {
  std::map<const nn::Module*, std::string> names;
  std::vector<std::pair<nn::Module*, bool>> modes;
  for (auto& [name, m] : model.named_modules()) {
    names.emplace(m, name);
    modes.emplace_back(m, m->is_training());
  }
  auto restore_modes = [&] {
    for (auto& [m, training] : modes) m->train(training);
  };

  ModelGraph g;
  std::map<const Storage*, int> value_of;  // storage -> the latest value living in it
  std::vector<Tensor> keep_alive;          // no storage address is reused during the trace
  auto new_value = [&](const Tensor& t, int producer) {
    g.values.push_back(GraphValue{.producer = producer, .sizes = t.sizes()});
    const int id = static_cast<int>(g.values.size()) - 1;
    value_of[t.storage().get()] = id;
    keep_alive.push_back(t);
    return id;
  };
  auto value_for_input = [&](const Tensor& t) {
    auto it = value_of.find(t.storage().get());
    return it != value_of.end() ? it->second : new_value(t, GraphValue::kUnknown);
  };

  g.input = new_value(example, GraphValue::kModelInput);
  Tensor output;
  try {
    model.eval();
    NoGradGuard no_grad;
    nn::ModuleTrace trace([&](const nn::Module& m, std::span<const Tensor> inputs, const Tensor& out) {
      if (!m.children().empty()) return;  // containers: their leaves are the nodes
      GraphNode node{.name = names.count(&m) ? names.at(&m) : "?",
                     .type = m.type(),
                     .module = const_cast<nn::Module*>(&m)};
      for (const Tensor& t : inputs) node.inputs.push_back(value_for_input(t));
      const int index = static_cast<int>(g.nodes.size());
      for (size_t a = 0; a < node.inputs.size(); ++a)
        g.values[node.inputs[a]].consumers.emplace_back(index, static_cast<int>(a));
      for (const Tensor& t : inputs)
        if (t.storage() == out.storage()) node.pass_through = true;
      if (node.pass_through && node.inputs.size() == 1) {
        node.output = node.inputs[0];
      } else {
        node.output = new_value(out, index);
        bool non_negative = makes_non_negative(node.type);
        if (keeps_sign(node.type) || node.type == "Add" || node.type == "Concat") {
          non_negative = !node.inputs.empty();
          for (int v : node.inputs) non_negative = non_negative && g.values[v].non_negative;
        }
        g.values[node.output].non_negative = non_negative;
      }
      g.nodes.push_back(std::move(node));
    });
    output = model(example);
  } catch (...) {
    restore_modes();
    throw;
  }
  restore_modes();
  g.output = value_for_input(output);
  return g;
}

}  // namespace lowbit::quant
