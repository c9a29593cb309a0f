// CIFAR-10 binary reader (see cifar.h).
#include "data/cifar.h"

#include <cstdint>
#include <cstring>
#include <filesystem>

#include "data/image.h"
#include "tensor/error.h"

namespace lowbit::data {

namespace {
constexpr int64_t kPixels = 3 * 32 * 32;
constexpr int64_t kRecord = 1 + kPixels;
}  // namespace

CifarSplit read_cifar10(const std::vector<std::string>& files) {
  LOWBIT_CHECK(!files.empty(), "read_cifar10: no files given");
  std::vector<std::vector<uint8_t>> contents;
  int64_t total = 0;
  for (const std::string& file : files) {
    contents.push_back(read_file_bytes(file));
    const auto size = static_cast<int64_t>(contents.back().size());
    LOWBIT_CHECK(size > 0 && size % kRecord == 0, "read_cifar10: ", file, ": ", size,
                 " bytes is not a whole number of 3073-byte records (label + 3x32x32 pixels); truncated?");
    total += size / kRecord;
  }
  CifarSplit out{empty({total, 3, 32, 32}, DType::u8), empty({total}, DType::u8)};
  uint8_t* images = out.images.data<uint8_t>();
  uint8_t* labels = out.labels.data<uint8_t>();
  int64_t n = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const std::vector<uint8_t>& bytes = contents[f];
    for (int64_t r = 0; r < static_cast<int64_t>(bytes.size()) / kRecord; ++r, ++n) {
      const uint8_t* record = bytes.data() + r * kRecord;
      LOWBIT_CHECK(record[0] <= 9, "read_cifar10: ", files[f], ": record ", r, " has label ", int(record[0]),
                   " (CIFAR-10 labels are 0..9; is this CIFAR-100?)");
      labels[n] = record[0];
      std::memcpy(images + n * kPixels, record + 1, kPixels);
    }
  }
  return out;
}

CifarSplit load_cifar10(const std::string& dir, const std::string& split) {
  LOWBIT_CHECK(split == "train" || split == "test", "load_cifar10: split must be 'train' or 'test', got '", split, "'");
  LOWBIT_CHECK(std::filesystem::is_directory(dir), "load_cifar10: ", dir, ": not a directory");
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  return read_cifar10(files);
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace lowbit::data
