// The model zoo by name: models::create("resnet18", {.num_classes = 10}) builds the same
// network as the model's own constructor (resnet.h, mobilenet_v2.h, efficientnet_lite.h,
// regnet.h) and is what the CLI's --model uses. model_names() lists the names in the
// order of the README's table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/layers.h"
#include "nn/module.h"

namespace lowbit::models {

std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options = {});
const std::vector<std::string>& model_names();

}  // namespace lowbit::models
