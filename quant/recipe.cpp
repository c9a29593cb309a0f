#include "quant/recipe.h"

#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace lowbit::quant {

QuantOptions QuantRecipe::options() const {
  QuantOptions o;
  o.algorithm = parse_algorithm(algorithm);
  o.backend = backend_preset(backend, weight_bits, activation_bits);
  for (const std::string& assignment : overrides) apply_override(o.backend, assignment);
  o.fold = parse_fold_strategy(fold);
  o.weight_observer = weight_observer;
  o.activation_observer = activation_observer;
  return o;
}

std::string QuantRecipe::to_json() const {
  return nlohmann::json{{"algorithm", algorithm},
                        {"backend", backend},
                        {"weight_bits", weight_bits},
                        {"activation_bits", activation_bits},
                        {"overrides", overrides},
                        {"fold", fold},
                        {"weight_observer", weight_observer},
                        {"activation_observer", activation_observer}}
      .dump();
}

QuantRecipe QuantRecipe::from_json(const std::string& text, const std::string& source) {
  QuantRecipe r;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    r.algorithm = j.at("algorithm").get<std::string>();
    r.backend = j.at("backend").get<std::string>();
    r.weight_bits = j.at("weight_bits").get<int>();
    r.activation_bits = j.at("activation_bits").get<int>();
    r.overrides = j.at("overrides").get<std::vector<std::string>>();
    r.fold = j.at("fold").get<std::string>();
    r.weight_observer = j.at("weight_observer").get<std::string>();
    r.activation_observer = j.at("activation_observer").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw_error(str_cat(source, ": the quantization recipe is not valid (", e.what(), "): ", text.substr(0, 200)));
  }
  return r;
}

}  // namespace lowbit::quant
