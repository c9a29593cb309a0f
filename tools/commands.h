// The subcommands of the `lowbit` tool, each in its own file.
#pragma once

#include <CLI/CLI.hpp>

namespace lowbit::tools {

// Registers `lowbit demo` on the app.
void add_demo_command(CLI::App& app);
// Registers `lowbit train` and `lowbit eval` (train_command.cpp).
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
// Registers `lowbit export-images` (export_images_command.cpp).
void add_export_images_command(CLI::App& app);

}  // namespace lowbit::tools
