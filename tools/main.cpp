// lowbit: the command-line entry point. `lowbit --help` lists the subcommands.
#include <cstdio>
#include <exception>

#include "tensor/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"lowbit: a tensor and autograd engine for quantization research"};
  app.require_subcommand(1);
  lowbit::tools::add_demo_command(app);
  lowbit::tools::add_train_command(app);
  lowbit::tools::add_eval_command(app);
  lowbit::tools::add_ptq_command(app);
  lowbit::tools::add_quant_report_command(app);
  lowbit::tools::add_export_images_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lowbit::Error& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowbit: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
