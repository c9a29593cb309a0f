// The ImageNet-style input pipeline end to end, on real JPEGs of ImageNet-like size.
//
//   build/release/bench/image_pipeline_bench [--dir DIR] [--per-class N] [--workers W] [--batch B]
//
// 1. Makes (once) a tree of Fashion-MNIST images upscaled to 500x375 and coloured, JPEG
//    quality 90 (tools/export_images.h; N per class, default 100: 1000 files) in DIR
//    (default build/bench-data/fmnist-500x375).
// 2. Pipeline: one epoch of ImageLoader with W workers (default 2), batches of B (default
//    64), TrainTransform (RandomResizedCrop 224 + flip + ColorJitter(0.4, 0.4, 0.4, 0.1) +
//    normalize), read from disk (page cache warm after the first epoch): images/s. Two
//    epochs; peak RSS after each (ru_maxrss) shows memory stays bounded by the queue.
// 3. Decode only: stb_image on the same files, bytes already in memory, on 1 thread (the
//    per-core rate) and on W threads. The target of the data issue: pipeline >= 0.8 x the
//    W-thread decode-only rate, i.e. reading, cropping, resizing, jittering and
//    normalising add little beyond decoding.
// 4. The transform alone, on already decoded images, 1 thread: ms per image.
// Prints a table and one JSON line with every figure.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/image.h"
#include "data/image_loader.h"
#include "data/image_transforms.h"
#include "tools/export_images.h"

namespace {

using lowbit::data::Image;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Decodes every file `threads` ways (file i on thread i % threads); returns seconds.
double decode_all(const std::vector<std::vector<uint8_t>>& files, int threads) {
  std::atomic<int64_t> pixels{0};  // keeps the decodes observable
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < files.size(); i += static_cast<size_t>(threads)) {
        const Image im = lowbit::data::decode_image(files[i].data(), files[i].size(), "bench");
        pixels += im.height * im.width;
      }
    });
  for (std::thread& t : pool) t.join();
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "build/bench-data/fmnist-500x375";
  int64_t per_class = 100, batch = 64;
  int workers = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dir") dir = value;
    else if (flag == "--per-class") per_class = std::stoll(value);
    else if (flag == "--workers") workers = std::stoi(value);
    else if (flag == "--batch") batch = std::stoll(value);
    else {
      std::fprintf(stderr, "unknown flag %s (--dir, --per-class, --workers, --batch)\n", flag.c_str());
      return 2;
    }
  }
  if (!std::filesystem::exists(dir + "/train")) {
    lowbit::tools::ExportConfig c;
    c.out_dir = dir;
    c.splits = {"train"};
    c.width = 500;
    c.height = 375;
    c.color = true;
    c.quality = 90;
    c.per_class = per_class;
    const lowbit::tools::ExportResult r = lowbit::tools::export_images(c);
    std::printf("made %lld JPEGs (%.1f MB) in %s in %.1f s\n", static_cast<long long>(r.images), r.bytes / 1e6,
                dir.c_str(), r.seconds);
  }
  const lowbit::data::ImageFolder folder(dir + "/train");
  const double rss_start = peak_rss_mb();

  lowbit::data::TrainTransform transform;
  transform.jitter = {0.4, 0.4, 0.4, 0.1};
  lowbit::data::ImageLoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.height = o.width = transform.size;
  lowbit::data::ImageLoader loader(folder, transform, o);
  double pipeline_rate[2] = {}, rss_after[2] = {};
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto t0 = Clock::now();
    int64_t images = 0;
    loader.start_epoch(epoch);
    while (auto b = loader.next()) images += b->images.size(0);
    pipeline_rate[epoch] = static_cast<double>(images) / seconds_since(t0);
    rss_after[epoch] = peak_rss_mb();
  }

  std::vector<std::vector<uint8_t>> files;
  for (int64_t i = 0; i < folder.size(); ++i) files.push_back(lowbit::data::read_file_bytes(folder.sample_name(i)));
  decode_all(files, 1);  // warm-up
  const double decode1 = static_cast<double>(files.size()) / decode_all(files, 1);
  const double decodeW = static_cast<double>(files.size()) / decode_all(files, workers);

  std::vector<Image> decoded;
  for (size_t i = 0; i < std::min<size_t>(files.size(), 200); ++i)
    decoded.push_back(lowbit::data::decode_image(files[i].data(), files[i].size(), "bench"));
  std::vector<float> out(static_cast<size_t>(3 * transform.size * transform.size));
  const auto t0 = Clock::now();
  for (size_t i = 0; i < decoded.size(); ++i)
    transform(decoded[i], lowbit::data::SampleKey{0, 0, static_cast<int64_t>(i)}, out.data());
  const double transform_ms = 1e3 * seconds_since(t0) / static_cast<double>(decoded.size());

  const double queue_mb = static_cast<double>(o.prefetch * batch * 3 * transform.size * transform.size * 4) / 1e6;
  std::printf("%lld files, %dx workers, batch %lld, TrainTransform %lld + jitter\n",
              static_cast<long long>(folder.size()), workers, static_cast<long long>(batch),
              static_cast<long long>(transform.size));
  std::printf("  decode only, 1 thread      %8.1f img/s  (%.2f ms/img)\n", decode1, 1e3 / decode1);
  std::printf("  decode only, %d threads     %8.1f img/s\n", workers, decodeW);
  std::printf("  transform only, 1 thread   %8.2f ms/img\n", transform_ms);
  std::printf("  pipeline epoch 1 / 2       %8.1f / %.1f img/s  = %.2f x decode-only (%d threads)\n", pipeline_rate[0],
              pipeline_rate[1], pipeline_rate[1] / decodeW, workers);
  std::printf("  peak RSS: %.0f MB before, %.0f MB after epoch 1, %.0f MB after epoch 2 (queue bound %.0f MB)\n",
              rss_start, rss_after[0], rss_after[1], queue_mb);
  const nlohmann::json j = {{"files", folder.size()},       {"workers", workers},
                            {"batch", batch},               {"decode_1_thread_img_s", decode1},
                            {"decode_img_s", decodeW},      {"transform_ms", transform_ms},
                            {"pipeline_img_s", pipeline_rate[1]}, {"pipeline_over_decode", pipeline_rate[1] / decodeW},
                            {"rss_start_mb", rss_start},    {"rss_epoch1_mb", rss_after[0]},
                            {"rss_epoch2_mb", rss_after[1]}, {"queue_bound_mb", queue_mb}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
