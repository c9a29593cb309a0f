// `lowbit export-images`: the command line of tools/export_images.h.
#include <unistd.h>

#include <cstdio>
#include <regex>

#include "tools/commands.h"
#include "tools/export_images.h"

namespace lowbit::tools {

void add_export_images_command(CLI::App& app) {
  auto config = std::make_shared<ExportConfig>();
  auto size = std::make_shared<std::string>("28x28");
  auto splits = std::make_shared<std::string>("train,test");
  auto plain = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "export-images",
      "Write Fashion-MNIST as an ImageNet-layout tree of JPEG/PNG files (<out>/train/<class>/, <out>/val/<class>/), "
      "optionally upscaled and coloured, for the ImageFolder loader.");
  cmd->add_option("--out", config->out_dir, "root of the tree")->required();
  cmd->add_option("--data-dir", config->data_dir, "Fashion-MNIST IDX directory (default: Debian's package)");
  cmd->add_option("--splits", *splits, "train, test or train,test (test is written as val/)")
      ->check(CLI::IsMember({"train", "test", "train,test", "test,train"}))
      ->capture_default_str();
  cmd->add_option("--format", config->format, "jpeg | png | mixed (every fourth image a PNG)")
      ->check(CLI::IsMember({"jpeg", "png", "mixed"}))
      ->capture_default_str();
  cmd->add_option("--size", *size, "WIDTHxHEIGHT of the written images (e.g. 500x375)")->capture_default_str();
  cmd->add_flag("--vary-size", config->vary_size, "scale each image's size by a factor in [0.75, 1.25]");
  cmd->add_flag("--color", config->color, "colour each image (a foreground and a background colour)");
  cmd->add_option("--quality", config->quality, "JPEG quality")->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("--per-class", config->per_class, "the first N images of each class (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", config->seed, "seed of the colours and sizes")->capture_default_str();
  cmd->add_flag("--plain", *plain, "periodic plain lines even on a terminal");
  cmd->callback([config, size, splits, plain] {
    std::smatch m;
    const std::regex wxh("([0-9]+)x([0-9]+)");
    if (!std::regex_match(*size, m, wxh)) throw CLI::ValidationError("--size", "expected WIDTHxHEIGHT, got " + *size);
    config->width = std::stoll(m[1]);
    config->height = std::stoll(m[2]);
    if (config->width == 28 && config->height == 28) config->width = config->height = 0;
    config->splits.clear();
    for (const char* s : {"train", "test"})
      if (splits->find(s) != std::string::npos) config->splits.push_back(s);
    config->progress_bar = !*plain && isatty(fileno(stderr));
    const ExportResult r = export_images(*config);
    std::printf("wrote %lld images (%.1f MB) to %s in %.1f s (%.0f img/s)\n", static_cast<long long>(r.images),
                static_cast<double>(r.bytes) / 1e6, config->out_dir.c_str(), r.seconds,
                static_cast<double>(r.images) / std::max(r.seconds, 1e-9));
  });
}

}  // namespace lowbit::tools
