// IDX reader: real Fashion-MNIST from the Debian package, and every kind of bad file.
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

class IdxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lowbit_idx_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::vector<unsigned char>& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
  }
  std::string write_gz(const std::string& name, const std::vector<unsigned char>& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return path;
  }
  fs::path dir_;
};

// A 2x3 u8 IDX file: magic 0 0 8 2, sizes 2 and 3, six values.
std::vector<unsigned char> small_u8() { return {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250}; }

TEST_F(IdxFiles, ReadsPlainAndGzipU8) {
  for (const std::string& path : {write("a.idx", small_u8()), write_gz("a.idx.gz", small_u8())}) {
    const Tensor t = data::read_idx(path);
    EXPECT_EQ(t.dtype(), DType::u8);
    EXPECT_EQ(t.sizes(), (Shape{2, 3}));
    EXPECT_EQ(t.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4, 5, 250}));
  }
}

TEST_F(IdxFiles, DecodesBigEndianI32AndF32) {
  // i32 [2]: 1 and -2; f32 [1]: 1.5 = 0x3FC00000.
  const Tensor i = data::read_idx(write("i.idx", {0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE}));
  EXPECT_EQ(i.to_vector<int32_t>(), (std::vector<int32_t>{1, -2}));
  const Tensor f = data::read_idx(write("f.idx", {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0}));
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.5f}));
}

TEST_F(IdxFiles, RejectsBadFilesNamingThem) {
  EXPECT_LOWBIT_ERROR(data::read_idx((dir_ / "missing.idx").string()), "missing.idx", "no such file");
  const std::string empty = write("empty.idx", {});
  EXPECT_LOWBIT_ERROR(data::read_idx(empty), "empty.idx", "shorter than the 4-byte header");
  EXPECT_LOWBIT_ERROR(data::read_idx(write("magic.idx", {0x89, 'P', 'N', 'G', 0, 0, 0, 0})), "magic.idx", "bad magic");
  EXPECT_LOWBIT_ERROR(data::read_idx(write("type.idx", {0, 0, 0x0B, 1, 0, 0, 0, 1, 0, 0})), "type.idx",
                      "unsupported element type");
  EXPECT_LOWBIT_ERROR(data::read_idx(write("hdr.idx", {0, 0, 8, 2, 0, 0, 0, 2})), "hdr.idx", "truncated header");
  std::vector<unsigned char> cut = small_u8();
  cut.pop_back();
  EXPECT_LOWBIT_ERROR(data::read_idx(write("cut.idx", cut)), "cut.idx", "truncated", "6 bytes of data", "only 5");
  EXPECT_LOWBIT_ERROR(data::read_idx(write_gz("cut.idx.gz", cut)), "cut.idx.gz", "truncated");
  std::vector<unsigned char> extra = small_u8();
  extra.push_back(7);
  EXPECT_LOWBIT_ERROR(data::read_idx(write("extra.idx", extra)), "extra.idx", "unexpected bytes after");
  // A gzip stream cut in the middle: zlib reports it, we name the file.
  const std::string gz = write_gz("big.idx.gz", std::vector<unsigned char>(100000, 0));
  std::vector<unsigned char> bytes(fs::file_size(gz));
  std::ifstream(gz, std::ios::binary).read(reinterpret_cast<char*>(bytes.data()), bytes.size());
  bytes.resize(bytes.size() / 2);
  bytes[20] ^= 0xFF;
  EXPECT_LOWBIT_ERROR(data::read_idx(write("broken.idx.gz", bytes)), "broken.idx.gz");
}

TEST(FashionMnist, LoadsTheDebianPackage) {
  if (!fs::exists(data::fashion_mnist_dir())) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const data::MnistSplit train = data::load_fashion_mnist("train");
  const data::MnistSplit test = data::load_fashion_mnist("test");
  EXPECT_EQ(train.images.sizes(), (Shape{60000, 28, 28}));
  EXPECT_EQ(test.images.sizes(), (Shape{10000, 28, 28}));
  // Balanced classes: 6000 per class in train, 1000 in test; the first training
  // image is an ankle boot (label 9) in the published files.
  for (const auto& [split, per_class] : {std::pair{&train, 6000}, std::pair{&test, 1000}}) {
    const std::vector<uint8_t> labels = split->labels.to_vector<uint8_t>();
    std::vector<int> counts(10, 0);
    for (uint8_t l : labels) {
      ASSERT_LT(l, 10);
      ++counts[l];
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], per_class) << "class " << c;
  }
  EXPECT_EQ(train.labels.to_vector<uint8_t>()[0], 9);
  EXPECT_LOWBIT_ERROR(data::load_fashion_mnist("val"), "split must be 'train' or 'test'");
  EXPECT_LOWBIT_ERROR(data::load_fashion_mnist("train", "/nonexistent/dir"), "/nonexistent/dir", "does not exist");
}

}  // namespace
}  // namespace lowbit
