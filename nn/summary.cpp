#include "nn/summary.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"

namespace lowbit::nn {

namespace {

// 1234567 -> "1,234,567"
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

Summary summarize(Module& model, const Shape& input_shape, DType dtype) {
  std::map<const Module*, std::string> names;
  std::vector<std::pair<Module*, bool>> modes;
  for (auto& [name, m] : model.named_modules()) {
    names[m] = name.empty() ? "(model)" : name;
    modes.emplace_back(m, m->is_training());
  }
  // Parents first, so children end with their own mode; also when the forward pass throws.
  auto restore_modes = [&] {
    for (auto& [m, training] : modes) m->train(training);
  };
  Summary s;
  try {
    model.eval();
    NoGradGuard no_grad;
    ModuleTrace trace([&](const Module& m, std::span<const Tensor> inputs, const Tensor& output) {
      if (!m.children().empty()) return;  // containers: their leaves have rows
      SummaryRow row{names.count(&m) ? names[&m] : "?", m.type(), output.sizes(), 0,
                     m.macs(inputs.empty() ? Tensor() : inputs[0], output)};
      for (auto& [n, p] : m.named_parameters()) row.params += p.numel();
      s.rows.push_back(row);
    });
    model(zeros(input_shape, dtype));
  } catch (...) {
    restore_modes();
    throw;
  }
  restore_modes();
  for (auto& [n, p] : model.named_parameters()) {
    s.total_params += p.numel();
    if (requires_grad(p)) s.trainable_params += p.numel();
  }
  for (const auto& row : s.rows) s.total_macs += row.macs;
  return s;
}

std::string Summary::str() const {
  size_t name_w = 5, type_w = 4, shape_w = 12;
  for (const auto& r : rows) {
    name_w = std::max(name_w, r.name.size());
    type_w = std::max(type_w, r.type.size());
    shape_w = std::max(shape_w, shape_str(r.output).size());
  }
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                  const std::string& e) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-*s  %-*s  %-*s  %12s  %15s\n", static_cast<int>(name_w), a.c_str(),
                  static_cast<int>(type_w), b.c_str(), static_cast<int>(shape_w), c.c_str(), d.c_str(), e.c_str());
    return std::string(buf);
  };
  std::string out = line("layer", "type", "output shape", "params", "MACs");
  out += std::string(name_w + type_w + shape_w + 12 + 15 + 8, '-') + "\n";
  for (const auto& r : rows)
    out +=
        line(r.name, r.type, shape_str(r.output), r.params ? grouped(r.params) : "-", r.macs ? grouped(r.macs) : "-");
  out += "total params: " + grouped(total_params) + " (trainable " + grouped(trainable_params) + ")\n";
  out += "total MACs per forward: " + grouped(total_macs) + "\n";
  return out;
}

int64_t parameter_count(const Module& model) {
  int64_t n = 0;
  for (const auto& [name, p] : model.named_parameters()) n += p.numel();
  return n;
}

}  // namespace lowbit::nn
