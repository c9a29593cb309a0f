// ImageLoader (data/image_loader.h): batches in order and identical for any number of
// workers; shuffling and sharding as documented; bounded prefetch; a failing sample
// raises its error at its batch (or is skipped and reported); stopping early never hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "data/image_loader.h"
#include "data/image_transforms.h"
#include "tools/export_images.h"
#include "tensor/device_memory.h"
#include "tensor/kernels/philox.h"
#include "tests/test_util.h"

namespace lowbit::data {
namespace {

using test::bit_equal;

// n grayscale 4x5 images; image i has every pixel equal to i % 251, label i % 7.
TensorDataset toy(int64_t n) {
  Tensor images = empty({n, 4, 5}, DType::u8);
  Tensor labels = empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(images.data<uint8_t>() + i * 20, images.data<uint8_t>() + (i + 1) * 20, static_cast<uint8_t>(i % 251));
    labels.data<int64_t>()[i] = i % 7;
  }
  return TensorDataset(images, labels, {"0", "1", "2", "3", "4", "5", "6"}, "toy");
}

// A transform whose output depends on the pixels and on the key (as a random augmentation
// does): 3 x 4 x 5 floats.
void keyed(const Image& im, const SampleKey& key, float* out) {
  const Philox4x32 r = philox4x32_10(static_cast<uint64_t>(key.index), static_cast<uint64_t>(key.epoch) + 1, key.seed);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t p = 0; p < 20; ++p) out[c * 20 + p] = im.pixels[p * 3 + c] + static_cast<float>(r.x[c] % 1000) / 1000.0f;
}

ImageLoaderOptions options(int64_t batch, int workers) {
  ImageLoaderOptions o;
  o.batch_size = batch;
  o.channels = 3;
  o.height = 4;
  o.width = 5;
  o.workers = workers;
  o.seed = 42;
  return o;
}

std::vector<ImageBatch> run_epoch(ImageLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<ImageBatch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

TEST(ImageLoader, SameBatchesForAnyNumberOfWorkers) {
  const TensorDataset d = toy(103);
  std::vector<std::vector<ImageBatch>> runs;
  for (int workers : {1, 2, 5}) {
    ImageLoader loader(d, keyed, options(16, workers));
    EXPECT_EQ(loader.batches_per_epoch(), 7);
    runs.push_back(run_epoch(loader, 3));
  }
  ASSERT_EQ(runs[0].size(), 7u);
  EXPECT_EQ(runs[0].back().images.size(0), 103 - 6 * 16);
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t b = 0; b < runs[0].size(); ++b) {
      EXPECT_EQ(runs[r][b].index, static_cast<int64_t>(b));
      EXPECT_TRUE(bit_equal(runs[0][b].images, runs[r][b].images, "images"));
      EXPECT_TRUE(bit_equal(runs[0][b].labels, runs[r][b].labels, "labels"));
    }
  // The batches hold the epoch's order, labels and the transform's output.
  ImageLoader loader(d, keyed, options(16, 2));
  const std::vector<int64_t> order = loader.epoch_indices(3);
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 103u);  // a permutation
  for (size_t b = 0; b < runs[0].size(); ++b)
    for (int64_t i = 0; i < runs[0][b].images.size(0); ++i) {
      const int64_t index = order[b * 16 + i];
      EXPECT_EQ(runs[0][b].indices.data<int64_t>()[i], index);
      EXPECT_EQ(runs[0][b].labels.data<int64_t>()[i], index % 7);
      float want[60];
      keyed(d.image(index), SampleKey{42, 3, index}, want);
      EXPECT_EQ(std::memcmp(runs[0][b].images.data<float>() + i * 60, want, sizeof want), 0) << b << "," << i;
    }
}

TEST(ImageLoader, ShuffleEpochsDropLastAndShards) {
  const TensorDataset d = toy(10);
  ImageLoaderOptions o = options(4, 2);
  ImageLoader shuffled(d, keyed, o);
  EXPECT_NE(shuffled.epoch_indices(0), shuffled.epoch_indices(1));
  EXPECT_EQ(shuffled.epoch_indices(1), ImageLoader(d, keyed, o).epoch_indices(1));
  o.shuffle = false;
  o.drop_last = true;
  ImageLoader ordered(d, keyed, o);
  EXPECT_EQ(ordered.epoch_indices(5), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(run_epoch(ordered, 0).size(), 2u);  // 10 / 4, the short batch dropped
  // Three ranks: 10 samples padded to 12 by repeating the start, rank r takes r, r+3, ...
  o.world_size = 3;
  o.drop_last = false;
  std::vector<std::vector<int64_t>> shards;
  for (int64_t rank = 0; rank < 3; ++rank) {
    o.rank = rank;
    shards.push_back(ImageLoader(d, keyed, o).epoch_indices(0));
  }
  EXPECT_EQ(shards[0], (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(shards[1], (std::vector<int64_t>{1, 4, 7, 0}));
  EXPECT_EQ(shards[2], (std::vector<int64_t>{2, 5, 8, 1}));
  o.rank = 3;
  EXPECT_LOWBIT_ERROR(ImageLoader(d, keyed, o), "rank 3", "world_size = 3");
}

// A dataset whose samples 5 and 17 fail to decode, like a corrupt file.
class Flaky : public Dataset {
 public:
  explicit Flaky(const TensorDataset& d) : d_(d) {}
  int64_t size() const override { return d_.size(); }
  int64_t label(int64_t i) const override { return d_.label(i); }
  Image image(int64_t i) const override {
    LOWBIT_CHECK(i != 5 && i != 17, "image: ", sample_name(i), ": truncated JPEG");
    return d_.image(i);
  }
  std::string sample_name(int64_t i) const override { return "bad/" + std::to_string(i) + ".JPEG"; }
  const std::vector<std::string>& classes() const override { return d_.classes(); }

 private:
  const TensorDataset& d_;
};

TEST(ImageLoader, BadSampleRaisesAtItsBatchOrIsSkipped) {
  const TensorDataset d = toy(40);
  const Flaky flaky(d);
  ImageLoaderOptions o = options(8, 2);
  o.shuffle = false;
  {
    ImageLoader loader(flaky, keyed, o);
    loader.start_epoch(0);
    EXPECT_LOWBIT_ERROR(loader.next(), "bad/5.JPEG", "truncated JPEG");  // batch 0 holds sample 5
    EXPECT_FALSE(loader.next().has_value());                           // the epoch ended
    loader.start_epoch(1);  // and a new one starts cleanly
    EXPECT_LOWBIT_ERROR(loader.next(), "bad/5.JPEG");
  }
  o.skip_bad_samples = true;
  ImageLoader loader(flaky, keyed, o);
  const std::vector<ImageBatch> batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[0].images.size(0), 7);
  EXPECT_EQ(batches[2].images.size(0), 7);
  EXPECT_EQ(batches[0].indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4, 6, 7}));
  float want[60];
  keyed(d.image(6), SampleKey{42, 0, 6}, want);  // sample 6 moved up into slot 5
  EXPECT_EQ(std::memcmp(batches[0].images.data<float>() + 5 * 60, want, sizeof want), 0);
  const std::vector<SkippedSample> skipped = loader.skipped();
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].name, "bad/5.JPEG");
  EXPECT_EQ(skipped[1].index, 17);
  EXPECT_NE(skipped[1].reason.find("truncated JPEG"), std::string::npos);
}

// A slow transform that counts how many samples are being worked on or waiting: with
// prefetch 2 and batches of 4, no more than 2 batches (8 samples) are ever ahead of the
// consumer. Destroying the loader in the middle of an epoch returns promptly.
TEST(ImageLoader, PrefetchIsBoundedAndEarlyStopDoesNotHang) {
  const TensorDataset d = toy(200);
  std::atomic<int64_t> produced{0};
  auto slow = [&](const Image& im, const SampleKey& key, float* out) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    keyed(im, key, out);
    ++produced;
  };
  ImageLoaderOptions o = options(4, 3);
  o.prefetch = 2;
  {
    ImageLoader loader(d, slow, o);
    loader.start_epoch(0);
    for (int b = 0; b < 5; ++b) {
      ASSERT_TRUE(loader.next().has_value());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the workers run ahead as far as allowed
      EXPECT_LE(produced.load(), 4 * (b + 1 + 2)) << "after batch " << b;
    }
  }  // destroyed with 45 batches to go
  EXPECT_LT(produced.load(), 4 * 9);
  ImageLoader loader(d, keyed, o);
  EXPECT_LOWBIT_ERROR(loader.next(), "start_epoch");
  o.prefetch = 0;
  EXPECT_LOWBIT_ERROR(ImageLoader(d, keyed, o), "prefetch");
}

// Real files: Fashion-MNIST exported as coloured 60x45 JPEGs and PNGs, read through
// ImageFolder with the ImageNet transforms; the batches are the same for 1 and 2 workers, and
// sample i of a batch is exactly the transform of the decoded file.
TEST(ImageLoader, RealImageFolderTree) {
  const std::string root = (std::filesystem::temp_directory_path() / "lowbit_image_loader_tree").string();
  std::filesystem::remove_all(root);
  tools::ExportConfig c;
  c.out_dir = root;
  c.splits = {"test"};
  c.format = "mixed";
  c.width = 60;
  c.height = 45;
  c.vary_size = true;
  c.color = true;
  c.per_class = 3;
  tools::export_images(c);
  const ImageFolder folder(root + "/val");
  ASSERT_EQ(folder.size(), 30);
  TrainTransform train;
  train.size = 32;
  train.jitter = {0.4, 0.4, 0.4, 0.1};
  EvalTransform eval;
  eval.resize = 40;
  eval.crop = 32;
  for (const SampleTransform& transform : {SampleTransform(train), SampleTransform(eval)}) {
    ImageLoaderOptions o = options(8, 1);
    o.height = o.width = 32;
    ImageLoader one(folder, transform, o);
    o.workers = 2;
    ImageLoader two(folder, transform, o);
    const std::vector<ImageBatch> a = run_epoch(one, 1), b = run_epoch(two, 1);
    ASSERT_EQ(a.size(), 4u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bit_equal(a[i].images, b[i].images, "1 vs 2 workers"));
    const int64_t index = a[2].indices.data<int64_t>()[3];
    std::vector<float> want(3 * 32 * 32);
    transform(folder.image(index), SampleKey{42, 1, index}, want.data());
    EXPECT_EQ(std::memcmp(a[2].images.data<float>() + 3 * want.size(), want.data(), want.size() * 4), 0);
    EXPECT_EQ(a[2].labels.data<int64_t>()[3], folder.label(index));
  }
  std::filesystem::remove_all(root);
}

// pin_memory: pinned batches with a GPU (their copy to it equals the batch), ordinary ones
// without (the same values either way).
TEST(ImageLoader, PinMemory) {
  const TensorDataset d = toy(20);
  ImageLoaderOptions o = options(8, 2);
  const std::vector<ImageBatch> plain = [&] {
    ImageLoader loader(d, keyed, o);
    return run_epoch(loader, 0);
  }();
  o.pin_memory = true;
  ImageLoader loader(d, keyed, o);
  const std::vector<ImageBatch> pinned = run_epoch(loader, 0);
  ASSERT_EQ(pinned.size(), plain.size());
  for (size_t b = 0; b < plain.size(); ++b) EXPECT_TRUE(bit_equal(plain[b].images, pinned[b].images, "pinned"));
  if (cuda_device_count() == 0) {
    EXPECT_FALSE(is_pinned(pinned[0].images));
    GTEST_SKIP() << "no CUDA device: pin_memory falls back to ordinary memory (checked); the pinned path needs a GPU";
  }
  EXPECT_TRUE(is_pinned(pinned[0].images));
  EXPECT_TRUE(is_pinned(pinned[0].labels));
  EXPECT_TRUE(bit_equal(pinned[0].images.to(Device::cuda(0)).cpu(), plain[0].images, "pinned to GPU and back"));
}

}  // namespace
}  // namespace lowbit::data
