#include "quant/state.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "tensor/error.h"

namespace lowbit::quant {

std::vector<std::pair<std::string, Quantizer*>> named_quantizers(nn::Module& module) {
  std::vector<std::pair<std::string, Quantizer*>> out;
  for (auto& [name, m] : module.named_modules())
    if (auto* q = dynamic_cast<Quantizer*>(m)) out.emplace_back(name, q);
  return out;
}

void set_state(nn::Module& module, QuantState state) {
  for (auto& [name, q] : named_quantizers(module)) q->set_state(state);
}

void pin_state(nn::Module& module, std::optional<QuantState> state) {
  for (auto& [name, q] : named_quantizers(module)) q->pin_state(state);
}

void after_optimizer_step(nn::Module& module) {
  for (auto& [name, q] : named_quantizers(module)) q->after_step();
}

void set_collect_stats(nn::Module& module, bool on) {
  for (auto& [name, q] : named_quantizers(module)) q->set_collect_stats(on);
}

std::string quantizer_table(nn::Module& module) {
  const auto quantizers = named_quantizers(module);
  size_t width = 0;
  for (const auto& [name, q] : quantizers) width = std::max(width, name.size());
  std::string out;
  for (const auto& [name, q] : quantizers) {
    out += name + std::string(width + 2 - name.size(), ' ') + q->type() + "  " + q->extra_repr() + "\n";
  }
  return out;
}

namespace {

// A per-channel vector as {min, mean, max}; a per-tensor one as its value.
template <typename T>
nlohmann::json summary(const std::vector<T>& v) {
  if (v.size() == 1) return v[0];
  if (v.empty()) return nullptr;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return {{"min", *lo}, {"mean", mean}, {"max", *hi}};
}

nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace

std::string stats_json(nn::Module& module) {
  nlohmann::json all = nlohmann::json::object();
  for (const auto& [name, q] : named_quantizers(module)) {
    const QuantizerStats s = q->stats();
    all[name] = {{"type", q->type()},
                 {"state", to_string(q->state())},
                 {"bits", q->config.bits},
                 {"scale", summary(s.scale)},
                 {"zero_point", summary(s.zero_point)},
                 {"range_min", summary(s.range_min)},
                 {"range_max", summary(s.range_max)},
                 {"clip_fraction", number_or_null(s.clip_fraction)},
                 {"grad_scale", number_or_null(s.grad_scale)}};
  }
  return all.dump();
}

}  // namespace lowbit::quant
