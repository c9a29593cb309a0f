// Datasets (data/dataset.h, data/cifar.h) and the Fashion-MNIST image export
// (tools/export_images.h): ImageFolder lists files and classes exactly as torchvision
// does; list files, CIFAR-10 binaries and in-memory tensors fit the same interface; every
// malformed input raises an error naming the file (and line or record).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "tests/test_util.h"
#include "tools/export_images.h"

namespace lowbit::data {
namespace {

namespace fs = std::filesystem;
using test::ThreadGuard;

class TempDir {
 public:
  explicit TempDir(const std::string& name) : path_(fs::temp_directory_path() / ("lowbit_dataset_test_" + name)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string slurp(const std::string& path) {
  const std::vector<uint8_t> b = read_file_bytes(path);
  return std::string(b.begin(), b.end());
}

// write_png into a directory tree that may not exist yet.
void put_png(const std::string& path, const Image& image) {
  fs::create_directories(fs::path(path).parent_path());
  write_png(path, image);
}

Image solid(int64_t h, int64_t w, uint8_t v) {
  Image im(h, w);
  std::fill(im.pixels.begin(), im.pixels.end(), v);
  return im;
}

// The layout and order rules of torchvision's ImageFolder: classes are the sorted
// sub-directories (files directly in root are ignored), files are found recursively,
// directories in sorted path order and files sorted within each, extensions compared
// case-insensitively, other files skipped.
TEST(ImageFolder, ListsClassesAndFilesLikeTorchvision) {
  TempDir t("folder");
  put_png(t / "b_cls/2.png", solid(3, 4, 20));
  put_png(t / "b_cls/10.PNG", solid(3, 4, 21));
  put_png(t / "b_cls/sub/0.png", solid(3, 4, 22));
  write_text(t / "b_cls/notes.txt", "not an image");
  put_png(t / "a_cls/x.Jpeg", solid(5, 6, 30));  // a PNG under a JPEG name: decoded by content
  put_png(t / "C_upper/y.png", solid(2, 2, 40));
  write_text(t / "README", "files in root are ignored");
  const ImageFolder d(t.str());
  EXPECT_EQ(d.classes(), (std::vector<std::string>{"C_upper", "a_cls", "b_cls"}));  // byte order: 'C' < 'a'
  ASSERT_EQ(d.size(), 5);
  const std::vector<std::string> want = {"C_upper/y.png", "a_cls/x.Jpeg", "b_cls/10.PNG", "b_cls/2.png",
                                         "b_cls/sub/0.png"};
  const std::vector<int64_t> labels = {0, 1, 2, 2, 2};
  for (int64_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(d.path(i), want[i]) << i;
    EXPECT_EQ(d.label(i), labels[i]) << i;
  }
  const Image im = d.image(1);
  EXPECT_EQ(im.height, 5);
  EXPECT_EQ(im.width, 6);
  EXPECT_EQ(im.at(4, 5, 2), 30);
  EXPECT_EQ(d.sample_name(3), t / "b_cls/2.png");
  EXPECT_LOWBIT_ERROR(d.label(5), "ImageFolder", "index 5", "5 samples");
}

TEST(ImageFolder, RejectsBadTrees) {
  TempDir t("bad");
  EXPECT_LOWBIT_ERROR(ImageFolder(t / "missing"), "missing", "not a directory");
  EXPECT_LOWBIT_ERROR(ImageFolder(t.str()), "no class directories");
  put_png(t / "full/a.png", solid(2, 2, 1));
  fs::create_directories(t / "empty_class");
  write_text(t / "empty_class/readme.txt", "x");
  EXPECT_LOWBIT_ERROR(ImageFolder(t.str()), "empty_class", "no image files");
}

TEST(ImageFolder, ListFile) {
  TempDir t("list");
  put_png(t / "val/img 1.png", solid(2, 3, 9));  // a space in the name
  put_png(t / "val/img2.png", solid(2, 3, 8));
  write_text(t / "list.txt", "# path label\nval/img 1.png 3\r\n\n  val/img2.png\t0  \n");
  const ImageFolder d = ImageFolder::from_list(t.str(), t / "list.txt");
  ASSERT_EQ(d.size(), 2);
  EXPECT_EQ(d.path(0), "val/img 1.png");
  EXPECT_EQ(d.label(0), 3);
  EXPECT_EQ(d.path(1), "val/img2.png");
  EXPECT_EQ(d.label(1), 0);
  EXPECT_EQ(d.classes().size(), 4u);  // "0" .. "3"
  EXPECT_EQ(d.image(0).at(1, 2, 0), 9);

  write_text(t / "bad_label.txt", "val/img2.png 1\nval/img2.png x7\n");
  EXPECT_LOWBIT_ERROR(ImageFolder::from_list(t.str(), t / "bad_label.txt"), "bad_label.txt:2", "'x7'");
  write_text(t / "no_label.txt", "val/img2.png\n");
  EXPECT_LOWBIT_ERROR(ImageFolder::from_list(t.str(), t / "no_label.txt"), "no_label.txt:1", "expected 'path label'");
  write_text(t / "range.txt", "val/img2.png 2\n");
  EXPECT_LOWBIT_ERROR(ImageFolder::from_list(t.str(), t / "range.txt", {"a", "b"}), "range.txt:1", "label 2",
                      "2 classes");
  write_text(t / "empty.txt", "# nothing\n");
  EXPECT_LOWBIT_ERROR(ImageFolder::from_list(t.str(), t / "empty.txt"), "empty.txt", "no samples");
  EXPECT_LOWBIT_ERROR(ImageFolder::from_list(t.str(), t / "none.txt"), "none.txt", "cannot open");
}

// The CIFAR-10 binary layout: label byte, then the R, G and B planes.
TEST(Cifar10, ReadsRecordsAndRejectsBadFiles) {
  TempDir t("cifar");
  std::string bytes;
  for (int r = 0; r < 3; ++r) {
    bytes.push_back(static_cast<char>(r * 4));  // labels 0, 4, 8
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<char>((i * 7 + r) % 251));
  }
  write_text(t / "b1.bin", bytes);
  write_text(t / "b2.bin", bytes.substr(0, 3073));
  const CifarSplit s = read_cifar10({t / "b1.bin", t / "b2.bin"});
  ASSERT_EQ(s.images.sizes(), (Shape{4, 3, 32, 32}));
  EXPECT_EQ(s.labels.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 8, 0}));
  EXPECT_EQ(s.images.data<uint8_t>()[3072 + 5], (5 * 7 + 1) % 251);
  const TensorDataset d(s.images, s.labels, cifar10_classes(), "cifar");
  const Image im = d.image(1);  // pixel (y, x) channel c is plane c at y * 32 + x
  EXPECT_EQ(im.at(2, 3, 1), ((1024 + 2 * 32 + 3) * 7 + 1) % 251);
  EXPECT_EQ(d.label(2), 8);

  write_text(t / "short.bin", bytes.substr(0, 3000));
  EXPECT_LOWBIT_ERROR(read_cifar10({t / "short.bin"}), "short.bin", "3000 bytes", "3073-byte records");
  std::string bad = bytes;
  bad[3073] = 12;
  write_text(t / "label.bin", bad);
  EXPECT_LOWBIT_ERROR(read_cifar10({t / "label.bin"}), "label.bin", "record 1", "label 12");
  EXPECT_LOWBIT_ERROR(load_cifar10(t.str(), "valid"), "split");
  EXPECT_LOWBIT_ERROR(load_cifar10(t.str(), "test"), "test_batch.bin", "no such file");
}

TEST(TensorDataset, FashionMnistThroughTheInterface) {
  const TensorDataset d = fashion_mnist_dataset("test");
  const MnistSplit s = load_fashion_mnist("test");
  ASSERT_EQ(d.size(), 10000);
  EXPECT_EQ(d.classes().size(), 10u);
  EXPECT_EQ(d.label(17), s.labels.data<uint8_t>()[17]);
  EXPECT_EQ(d.image(17).at(13, 9, 1), s.images.data<uint8_t>()[17 * 784 + 13 * 28 + 9]);
  EXPECT_EQ(d.sample_name(17), "fashion-mnist/test[17]");
  EXPECT_LOWBIT_ERROR(cifar10_dataset("/nonexistent-cifar", "train"), "/nonexistent-cifar", "not a directory");
}

TEST(TensorDataset, GrayscaleExpandsAndChecksInput) {
  Tensor images = empty({2, 2, 3}, DType::u8);
  for (int64_t i = 0; i < 12; ++i) images.data<uint8_t>()[i] = static_cast<uint8_t>(i * 10);
  const TensorDataset d(images, arange(2), {"a", "b"}, "toy");
  const Image im = d.image(1);
  EXPECT_EQ(im.at(1, 2, 0), 110);
  EXPECT_EQ(im.at(1, 2, 2), 110);
  EXPECT_EQ(d.sample_name(1), "toy[1]");
  EXPECT_LOWBIT_ERROR(TensorDataset(images, arange(2), {"a"}, "toy"), "toy", "label 1", "1 classes");
  EXPECT_LOWBIT_ERROR(TensorDataset(images.to(DType::f32), arange(2), {"a", "b"}, "toy"), "u8", "f32");
  EXPECT_LOWBIT_ERROR(TensorDataset(images, arange(3), {"a", "b", "c"}, "toy"), "labels", "[2]");
}

// The export writes an ImageFolder tree whose images, read back, are the Fashion-MNIST
// images (PNG exactly, JPEG closely), with the labels as classes; coloured and resized
// exports are 3-channel images of the requested sizes; the same options give the same
// files whatever the thread count.
TEST(ExportImages, WritesAnImageFolderTreeOfFashionMnist) {
  TempDir t("export");
  tools::ExportConfig c;
  c.out_dir = t / "plain";
  c.splits = {"test"};
  c.format = "mixed";
  c.per_class = 3;
  const tools::ExportResult r = tools::export_images(c);
  EXPECT_EQ(r.images, 30);
  EXPECT_TRUE(fs::exists(c.out_dir + "/export.jsonl"));
  const ImageFolder d(c.out_dir + "/val");
  ASSERT_EQ(d.size(), 30);
  EXPECT_EQ(d.classes().front(), "0-t-shirt");
  EXPECT_EQ(d.classes().back(), "9-ankle-boot");
  const MnistSplit mnist = load_fashion_mnist("test");
  int checked_png = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const std::string name = fs::path(d.path(i)).filename().string();
    const int64_t index = std::stoll(name.substr(0, 5));
    EXPECT_EQ(d.label(i), mnist.labels.data<uint8_t>()[index]) << name;
    const Image im = d.image(i);
    ASSERT_EQ(im.height, 28);
    const uint8_t* src = mnist.images.data<uint8_t>() + index * 784;
    int worst = 0;
    for (int64_t p = 0; p < 784; ++p) worst = std::max(worst, std::abs(int(im.pixels[p * 3]) - int(src[p])));
    if (index % 4 == 3) {
      EXPECT_EQ(name.substr(name.size() - 4), ".png");
      EXPECT_EQ(worst, 0) << name;
      ++checked_png;
    } else {
      EXPECT_EQ(name.substr(name.size() - 5), ".JPEG");
      EXPECT_LE(worst, 80) << name;  // JPEG at quality 90 on sharp 28x28 edges
    }
  }
  EXPECT_GT(checked_png, 0);  // the indices = 3 mod 4 among the first three of each class

  c.out_dir = t / "color";
  c.format = "png";
  c.color = true;
  c.width = 50;
  c.height = 40;
  c.vary_size = true;
  c.per_class = 1;
  tools::export_images(c);
  const ImageFolder colored(c.out_dir + "/val");
  bool some_color = false;
  for (int64_t i = 0; i < colored.size(); ++i) {
    const Image im = colored.image(i);
    EXPECT_GE(im.width, 37);  // 50 * 0.75 rounded
    EXPECT_LE(im.width, 63);
    EXPECT_LE(std::abs(static_cast<double>(im.height) - im.width * 40.0 / 50.0), 1.0) << im.width << "x" << im.height;
    for (size_t p = 0; p + 2 < im.pixels.size(); p += 3)
      some_color |= im.pixels[p] != im.pixels[p + 1] || im.pixels[p] != im.pixels[p + 2];
  }
  EXPECT_TRUE(some_color);
  // One thread writes the same bytes.
  const std::string first = slurp(colored.sample_name(3));
  {
    ThreadGuard one(1);
    c.out_dir = t / "color1";
    tools::export_images(c);
  }
  EXPECT_EQ(slurp(c.out_dir + "/val/" + colored.path(3)), first);

  c.format = "gif";
  EXPECT_LOWBIT_ERROR(tools::export_images(c), "format", "gif");
}

}  // namespace
}  // namespace lowbit::data
