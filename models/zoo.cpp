#include "models/zoo.h"

#include <utility>

#include "models/efficientnet_lite.h"
#include "models/mobilenet_v2.h"
#include "models/regnet.h"
#include "models/resnet.h"
#include "tensor/error.h"

namespace lowbit::models {

namespace {

using Factory = std::shared_ptr<nn::Module> (*)(const ModelOptions&);

template <auto make>
std::shared_ptr<nn::Module> build(const ModelOptions& o) {
  return make(o);
}

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"resnet18", build<resnet18>},
      {"resnet34", build<resnet34>},
      {"resnet50", build<resnet50>},
      {"resnet20", build<resnet20>},
      {"resnet56", build<resnet56>},
      {"mobilenet_v2", build<mobilenet_v2>},
      {"efficientnet_lite0", build<efficientnet_lite0>},
      {"regnet_x_400mf", build<regnet_x_400mf>},
      {"regnet_x_600mf", build<regnet_x_600mf>},
      {"regnet_x_800mf", build<regnet_x_800mf>},
  };
  return table;
}

}  // namespace

std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options) {
  for (const auto& [n, make] : factories()) {
    if (n == name) return make(options);
  }
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw_error(str_cat("models::create: unknown model '", name, "' (known: ", known, ")"));
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : factories()) out.push_back(entry.first);
    return out;
  }();
  return names;
}

}  // namespace lowbit::models
