// ImageFolder and TensorDataset (see dataset.h).
#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "data/cifar.h"
#include "data/idx.h"
#include "tensor/error.h"

namespace lowbit::data {

namespace fs = std::filesystem;

const std::vector<std::string> kImageExtensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                   ".pgm", ".tif",  ".tiff", ".webp"};

namespace {

bool has_image_extension(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const std::string& ext : kImageExtensions)
    if (lower.size() >= ext.size() && lower.compare(lower.size() - ext.size(), ext.size(), ext) == 0) return true;
  return false;
}

// Every directory under `dir` (itself included, symbolic links followed), sorted by path:
// torchvision walks sorted(os.walk(dir, followlinks=True)), which orders the (root, dirs,
// files) tuples by root.
std::vector<fs::path> directories_sorted(const fs::path& dir) {
  std::vector<fs::path> dirs{dir};
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it)
    if (it->is_directory()) dirs.push_back(it->path());
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return dirs;
}

void check_index(int64_t index, int64_t size, const char* what) {
  LOWBIT_CHECK(index >= 0 && index < size, what, ": sample index ", index, " is out of range for ", size, " samples");
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root) : root_(root) {
  std::error_code ec;
  LOWBIT_CHECK(fs::is_directory(root, ec), "ImageFolder: ", root, ": not a directory");
  for (const fs::directory_entry& entry : fs::directory_iterator(root))
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  LOWBIT_CHECK(!classes_.empty(), "ImageFolder: ", root, ": no class directories (expected root/<class>/<image>)");
  for (size_t label = 0; label < classes_.size(); ++label) {
    const size_t before = paths_.size();
    for (const fs::path& dir : directories_sorted(fs::path(root) / classes_[label])) {
      std::vector<std::string> names;
      for (const fs::directory_entry& entry : fs::directory_iterator(dir))
        if (!entry.is_directory() && has_image_extension(entry.path().filename().string()))
          names.push_back(entry.path().filename().string());
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) {
        paths_.push_back(fs::relative(dir / name, root).string());
        labels_.push_back(static_cast<int64_t>(label));
      }
    }
    LOWBIT_CHECK(paths_.size() > before, "ImageFolder: ", root, ": class directory '", classes_[label],
                 "' holds no image files (extensions .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp)");
  }
}

ImageFolder ImageFolder::from_list(const std::string& root, const std::string& list_file,
                                   std::vector<std::string> classes) {
  std::ifstream in(list_file);
  LOWBIT_CHECK(in.good(), "ImageFolder::from_list: ", list_file, ": cannot open");
  ImageFolder d;
  d.root_ = root;
  int64_t max_label = -1, line_number = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // lists written on Windows
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t last = line.find_last_not_of(" \t");
    const size_t split = line.find_last_of(" \t", last);
    LOWBIT_CHECK(split != std::string::npos && split > first, "ImageFolder::from_list: ", list_file, ":", line_number,
                 ": expected 'path label', got '", line, "'");
    const std::string path = line.substr(first, line.find_last_not_of(" \t", split) + 1 - first);
    const std::string field = line.substr(split + 1, last - split);
    int64_t label = -1;
    size_t used = 0;
    try {
      label = std::stoll(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LOWBIT_CHECK(used == field.size() && label >= 0, "ImageFolder::from_list: ", list_file, ":", line_number,
                 ": the label '", field, "' is not a non-negative integer");
    LOWBIT_CHECK(classes.empty() || label < static_cast<int64_t>(classes.size()), "ImageFolder::from_list: ",
                 list_file, ":", line_number, ": label ", label, " is out of range for ", classes.size(), " classes");
    d.paths_.push_back(path);
    d.labels_.push_back(label);
    max_label = std::max(max_label, label);
  }
  LOWBIT_CHECK(!d.paths_.empty(), "ImageFolder::from_list: ", list_file, ": no samples");
  if (classes.empty())
    for (int64_t c = 0; c <= max_label; ++c) classes.push_back(std::to_string(c));
  d.classes_ = std::move(classes);
  return d;
}

int64_t ImageFolder::label(int64_t index) const {
  check_index(index, size(), "ImageFolder");
  return labels_[static_cast<size_t>(index)];
}

const std::string& ImageFolder::path(int64_t index) const {
  check_index(index, size(), "ImageFolder");
  return paths_[static_cast<size_t>(index)];
}

std::string ImageFolder::sample_name(int64_t index) const { return (fs::path(root_) / path(index)).string(); }

Image ImageFolder::image(int64_t index) const { return read_image(sample_name(index)); }

TensorDataset::TensorDataset(Tensor images, Tensor labels, std::vector<std::string> classes, std::string name)
    : classes_(std::move(classes)), name_(std::move(name)) {
  LOWBIT_CHECK(images.defined() && images.dtype() == DType::u8 && (images.dim() == 3 || images.dim() == 4),
               "TensorDataset ", name_, ": images must be u8 [N, H, W] or [N, C, H, W], got ", describe(images));
  n_ = images.size(0);
  c_ = images.dim() == 4 ? images.size(1) : 1;
  h_ = images.size(-2);
  w_ = images.size(-1);
  LOWBIT_CHECK(c_ == 1 || c_ == 3, "TensorDataset ", name_, ": images need 1 or 3 channels, got ", describe(images));
  LOWBIT_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == n_ && !is_floating(labels.dtype()) && labels.dtype() != DType::b8,
               "TensorDataset ", name_, ": labels must be integers [", n_, "], got ", describe(labels));
  images_ = images.to(Device::cpu()).contiguous().reshape({n_, c_, h_, w_});
  labels_ = labels.to(Device::cpu()).to(DType::i64).contiguous();
  const int64_t* l = labels_.data<int64_t>();
  for (int64_t i = 0; i < n_; ++i)
    LOWBIT_CHECK(l[i] >= 0 && l[i] < static_cast<int64_t>(classes_.size()), "TensorDataset ", name_, ": label ",
                 l[i], " of sample ", i, " is out of range for ", classes_.size(), " classes");
}

int64_t TensorDataset::label(int64_t index) const {
  check_index(index, n_, "TensorDataset");
  return labels_.data<int64_t>()[index];
}

Image TensorDataset::image(int64_t index) const {
  check_index(index, n_, "TensorDataset");
  Image out(h_, w_);
  const uint8_t* src = images_.data<uint8_t>() + index * c_ * h_ * w_;
  for (int64_t p = 0; p < h_ * w_; ++p)
    for (int64_t c = 0; c < Image::channels; ++c) out.pixels[static_cast<size_t>(p * 3 + c)] = src[(c_ == 1 ? 0 : c) * h_ * w_ + p];
  return out;
}

std::string TensorDataset::sample_name(int64_t index) const { return str_cat(name_, "[", index, "]"); }

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                 "sandal",  "shirt",   "sneaker",  "bag",   "ankle-boot"};
  return names;
}

TensorDataset fashion_mnist_dataset(const std::string& split, const std::string& dir) {
  const MnistSplit s = load_fashion_mnist(split, dir.empty() ? fashion_mnist_dir() : dir);
  return TensorDataset(s.images, s.labels, fashion_mnist_classes(), "fashion-mnist/" + split);
}

TensorDataset cifar10_dataset(const std::string& dir, const std::string& split) {
  const CifarSplit s = load_cifar10(dir, split);
  return TensorDataset(s.images, s.labels, cifar10_classes(), "cifar10/" + split);
}

}  // namespace lowbit::data
