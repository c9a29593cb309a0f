// The dataset interface the loader reads from, and its implementations:
//
//   ImageFolder     files on disk in the ImageNet / torchvision ImageFolder layout, or a
//                   flat list file of (path, label) lines; decoded on demand (image.h);
//   TensorDataset   images already in memory as a u8 tensor: the IDX reader's
//                   Fashion-MNIST (idx.h) and the CIFAR-10 binary reader's (cifar.h).
//
// A Dataset is immutable once built: image() and label() are const and may be called from
// several worker threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "tensor/tensor.h"

namespace lowbit::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  // Sample `index` as RGB (grayscale data is expanded); throws lowbit::Error naming the
  // sample when it cannot be produced (a file that does not decode).
  virtual Image image(int64_t index) const = 0;
  // A name for messages: the file's path, or "<dataset>[index]".
  virtual std::string sample_name(int64_t index) const = 0;
  // Class names, indexed by label.
  virtual const std::vector<std::string>& classes() const = 0;
};

// File extensions torchvision's ImageFolder accepts (compared case-insensitively): the
// same files are listed, so sample indices match torchvision's. .tif, .tiff and .webp
// are listed too, and fail to decode with a clear error (stb_image cannot read them).
extern const std::vector<std::string> kImageExtensions;

class ImageFolder : public Dataset {
 public:
  // root/<class>/.../<file>: classes are the sub-directories of root sorted by name
  // (byte order, which for UTF-8 names is Python's sorted() order), label = position in
  // that order; files are found recursively (following symbolic links) and listed as
  // torchvision does: directories in sorted path order, files sorted within each. Throws
  // when root is not a directory, has no class directories, or a class has no images.
  explicit ImageFolder(const std::string& root);

  // A list file: one "relative/path label" per line (the label is the last
  // whitespace-separated field, so paths may contain spaces; blank lines and lines
  // starting with '#' are skipped), paths relative to `root`. Labels must be in
  // [0, classes.size()) when class names are given, else >= 0 and the classes are named
  // "0", "1", ... up to the largest label. Errors name the list file and the line.
  static ImageFolder from_list(const std::string& root, const std::string& list_file,
                               std::vector<std::string> classes = {});

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  int64_t label(int64_t index) const override;
  Image image(int64_t index) const override;
  std::string sample_name(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }
  const std::string& root() const { return root_; }
  const std::string& path(int64_t index) const;  // relative to root

 private:
  ImageFolder() = default;
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<std::string> paths_;  // relative to root_
  std::vector<int64_t> labels_;
};

// Images held in memory: u8 [N, H, W] (grayscale) or [N, C, H, W] with C = 1 or 3,
// labels of any integer dtype [N]. Only handles are kept (no copy when contiguous).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor images, Tensor labels, std::vector<std::string> classes, std::string name);
  int64_t size() const override { return n_; }
  int64_t label(int64_t index) const override;
  Image image(int64_t index) const override;
  std::string sample_name(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }

 private:
  Tensor images_, labels_;  // u8 [N, C, H, W] and i64 [N], contiguous
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  std::vector<std::string> classes_;
  std::string name_;
};

// The ten Fashion-MNIST classes, in label order.
const std::vector<std::string>& fashion_mnist_classes();

// The IDX and CIFAR-10 readers (idx.h, cifar.h) behind the same interface: split "train" or
// "test"; sample names are "fashion-mnist/train[i]", "cifar10/test[i]".
TensorDataset fashion_mnist_dataset(const std::string& split, const std::string& dir = "");  // "": Debian's
TensorDataset cifar10_dataset(const std::string& dir, const std::string& split);

}  // namespace lowbit::data
