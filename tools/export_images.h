// Fashion-MNIST as an ImageNet-layout tree of real JPEG and PNG files: what
// `lowbit export-images` runs, as a plain function that tests call. The ImageFolder
// dataset, the decoder and the loader are then exercised on real image files (ImageNet
// itself cannot be downloaded here).
//
//   <out>/train/<label>-<class>/<index>.JPEG     the 60000 training images
//   <out>/val/<label>-<class>/<index>.JPEG       the 10000 test images
//
// Class directories are "0-t-shirt" ... "9-ankle-boot", so their sorted order is the label
// order; file names are the image's index in its split, zero-padded. Options:
//   format   jpeg (stb_image_write, baseline, 4:2:0 chroma), png, or mixed (every fourth
//            image, index % 4 == 3, a PNG: ImageFolders mix formats);
//   size     width x height of the written images (0x0: the original 28x28), upscaled
//            with stb_image_resize; vary_size scales each image's size by a factor in
//            [0.75, 1.25] so that the tree holds images of many sizes;
//   color    each image gets a foreground and a background colour: pixel value v becomes
//            bg + (fg - bg) * v / 255 per channel, so the files are true 3-channel images
//            (colour transforms have something to act on).
// Every random choice is a Philox draw keyed by (seed, split, index): the same options
// give the same files for any number of threads. Each file is written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::tools {

struct ExportConfig {
  std::string data_dir;                              // Fashion-MNIST IDX files; empty: Debian's package
  std::string out_dir;                               // the tree's root
  std::vector<std::string> splits = {"train", "test"};  // "test" is written as val/
  std::string format = "jpeg";                       // jpeg | png | mixed
  int64_t width = 0, height = 0;                     // 0: keep 28x28
  bool vary_size = false;
  bool color = false;
  int quality = 90;    // JPEG quality, 1..100
  int64_t per_class = 0;  // the first N images of each class in each split (0: all); every class stays present
  uint64_t seed = 0;
  bool progress_bar = false;  // a live bar instead of periodic lines (on a terminal)
};

struct ExportResult {
  int64_t images = 0, bytes = 0;
  double seconds = 0;
};

// Writes the tree (creating directories as needed; existing files are replaced) and
// <out>/export.jsonl: a "start" record, "progress" records and a "summary".
ExportResult export_images(const ExportConfig& config);

}  // namespace lowbit::tools
