// Fashion-MNIST to an ImageNet-layout tree of JPEG/PNG files (see export_images.h).
#include "tools/export_images.h"

#include <stb_image_resize.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/image.h"
#include "tensor/error.h"
#include "tensor/kernels/philox.h"
#include "tools/progress.h"

namespace lowbit::tools {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kBlock = 512;  // images per parallel block; progress is reported between blocks

struct Draw {
  double size_factor;   // in [0.75, 1.25]
  uint8_t fg[3], bg[3];  // colours
};

// One Philox block per (seed, split, index): counter_lo = index, counter_hi = split + 1.
Draw draw(uint64_t seed, int split, int64_t index) {
  const Philox4x32 r = philox4x32_10(static_cast<uint64_t>(index), static_cast<uint64_t>(split) + 1, seed);
  Draw d;
  d.size_factor = 0.75 + 0.5 * (static_cast<double>(r.x[0]) / 4294967296.0);
  for (int c = 0; c < 3; ++c) {
    d.fg[c] = static_cast<uint8_t>(r.x[1] >> (8 * c));
    d.bg[c] = static_cast<uint8_t>(r.x[2] >> (8 * c));
  }
  // Keep the object visible: push the two colours apart if they came out close.
  const int fg_luma = d.fg[0] + d.fg[1] + d.fg[2], bg_luma = d.bg[0] + d.bg[1] + d.bg[2];
  if (std::abs(fg_luma - bg_luma) < 192)
    for (int c = 0; c < 3; ++c) {
      d.fg[c] = static_cast<uint8_t>(std::max<int>(d.fg[c], 160));
      d.bg[c] = static_cast<uint8_t>(std::min<int>(d.bg[c], 80));
    }
  return d;
}

// One 28x28 grayscale image, coloured or not, resized or not.
data::Image render(const uint8_t* gray, int64_t h, int64_t w, const ExportConfig& c, const Draw& d) {
  data::Image rgb(h, w);
  for (int64_t p = 0; p < h * w; ++p)
    for (int ch = 0; ch < 3; ++ch) {
      const int v = gray[p];
      const int value = c.color ? d.bg[ch] + ((d.fg[ch] - d.bg[ch]) * v + (d.fg[ch] >= d.bg[ch] ? 127 : -127)) / 255
                                : v;
      rgb.pixels[static_cast<size_t>(p * 3 + ch)] = static_cast<uint8_t>(value);
    }
  int64_t out_w = c.width > 0 ? c.width : w, out_h = c.height > 0 ? c.height : h;
  if (c.vary_size) {
    out_w = std::max<int64_t>(1, std::llround(static_cast<double>(out_w) * d.size_factor));
    out_h = std::max<int64_t>(1, std::llround(static_cast<double>(out_h) * d.size_factor));
  }
  if (out_w == w && out_h == h) return rgb;
  data::Image resized(out_h, out_w);
  LOWBIT_CHECK(stbir_resize_uint8(rgb.pixels.data(), static_cast<int>(w), static_cast<int>(h), 0,
                                  resized.pixels.data(), static_cast<int>(out_w), static_cast<int>(out_h), 0, 3),
               "export-images: stb_image_resize failed for ", out_w, "x", out_h);
  return resized;
}

std::string class_dir(int64_t label) { return std::to_string(label) + "-" + data::fashion_mnist_classes()[label]; }

}  // namespace

ExportResult export_images(const ExportConfig& c) {
  LOWBIT_CHECK(!c.out_dir.empty(), "export-images: no output directory given");
  LOWBIT_CHECK(c.format == "jpeg" || c.format == "png" || c.format == "mixed",
               "export-images: format must be jpeg, png or mixed, got '", c.format, "'");
  LOWBIT_CHECK((c.width == 0) == (c.height == 0) && c.width >= 0 && c.height >= 0 && c.width <= 8192 &&
                   c.height <= 8192,
               "export-images: size must be WxH with both in 1..8192 (or 0x0 for 28x28), got ", c.width, "x",
               c.height);
  LOWBIT_CHECK(c.quality >= 1 && c.quality <= 100, "export-images: quality must be in 1..100, got ", c.quality);
  LOWBIT_CHECK(c.per_class >= 0, "export-images: per_class must be >= 0, got ", c.per_class);
  const std::string data_dir = c.data_dir.empty() ? data::fashion_mnist_dir() : c.data_dir;

  fs::create_directories(c.out_dir);
  JsonLog log(c.out_dir + "/export.jsonl");
  log.write({{"event", "start"},
             {"data_dir", data_dir},
             {"format", c.format},
             {"width", c.width},
             {"height", c.height},
             {"vary_size", c.vary_size},
             {"color", c.color},
             {"quality", c.quality},
             {"per_class", c.per_class},
             {"seed", c.seed}});
  const auto start = std::chrono::steady_clock::now();
  ExportResult result;
  for (const std::string& split : c.splits) {
    LOWBIT_CHECK(split == "train" || split == "test", "export-images: split must be train or test, got '", split, "'");
    const data::MnistSplit mnist = data::load_fashion_mnist(split, data_dir);
    const int split_id = split == "train" ? 0 : 1;
    const std::string split_dir = c.out_dir + (split == "train" ? "/train" : "/val");
    const int64_t h = mnist.images.size(1), w = mnist.images.size(2);
    for (int64_t label = 0; label < 10; ++label) fs::create_directories(split_dir + "/" + class_dir(label));
    const uint8_t* images = mnist.images.data<uint8_t>();
    const uint8_t* labels = mnist.labels.data<uint8_t>();
    std::vector<int64_t> chosen;  // image indices, ascending
    int64_t taken[10] = {};
    for (int64_t i = 0; i < mnist.images.size(0); ++i)
      if (c.per_class == 0 || taken[labels[i]]++ < c.per_class) chosen.push_back(i);
    const auto n = static_cast<int64_t>(chosen.size());
    for (int64_t first = 0; first < n; first += kBlock) {
      const int64_t last = std::min(n, first + kBlock);
      int64_t block_bytes = 0;
      std::string error;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : block_bytes)
      for (int64_t j = first; j < last; ++j) {
        const int64_t i = chosen[static_cast<size_t>(j)];
        try {
          const Draw d = draw(c.seed, split_id, i);
          const data::Image image = render(images + i * h * w, h, w, c, d);
          const bool png = c.format == "png" || (c.format == "mixed" && i % 4 == 3);
          char name[32];
          std::snprintf(name, sizeof name, "/%05lld.%s", static_cast<long long>(i), png ? "png" : "JPEG");
          const std::string path = split_dir + "/" + class_dir(labels[i]) + name;
          if (png) {
            data::write_png(path, image);
          } else {
            data::write_jpeg(path, image, c.quality);
          }
          block_bytes += static_cast<int64_t>(fs::file_size(path));
        } catch (const std::exception& e) {
#pragma omp critical
          if (error.empty()) error = e.what();
        }
      }
      LOWBIT_CHECK(error.empty(), error);
      result.images += last - first;
      result.bytes += block_bytes;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double fraction = static_cast<double>(last) / static_cast<double>(n);
      log.write({{"event", "progress"}, {"split", split}, {"images", last}, {"of", n}, {"seconds", seconds}});
      char line[200];
      std::snprintf(line, sizeof line, "export %s %s %5.1f%%  %lld/%lld images  %.0f img/s", split.c_str(),
                    progress_bar(fraction).c_str(), 100.0 * fraction, static_cast<long long>(last),
                    static_cast<long long>(n), static_cast<double>(result.images) / std::max(seconds, 1e-9));
      if (c.progress_bar) {
        std::fprintf(stderr, "\r%s", line);
        if (last == n) std::fprintf(stderr, "\n");
      } else if (last == n || (first / kBlock) % 20 == 19) {
        std::fprintf(stderr, "%s\n", line);
      }
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log.write({{"event", "summary"}, {"images", result.images}, {"bytes", result.bytes}, {"seconds", result.seconds}});
  return result;
}

}  // namespace lowbit::tools
