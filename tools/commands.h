// The subcommands of the `lowbit` tool, each in its own file.
#pragma once

#include <CLI/CLI.hpp>

#include "quant/recipe.h"

namespace lowbit::tools {

// Registers `lowbit demo` on the app.
void add_demo_command(CLI::App& app);
// Registers `lowbit train` and `lowbit eval` (train_command.cpp).
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
// Registers `lowbit ptq` and `lowbit quant-report` (quant_command.cpp).
void add_ptq_command(CLI::App& app);
void add_quant_report_command(CLI::App& app);
// The quantization recipe options (--algorithm, --backend, --w-bits, --a-bits, --set,
// --fold, --w-observer, --a-observer) shared by train --quant and ptq.
void add_recipe_options(CLI::App* cmd, quant::QuantRecipe* recipe);
// Registers `lowbit export-images` (export_images_command.cpp).
void add_export_images_command(CLI::App& app);

}  // namespace lowbit::tools
