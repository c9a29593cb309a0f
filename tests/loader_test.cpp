// data/transforms.h and data/loader.h: the per-image transforms against hand computations
// and direct index formulas, the loader's fused pass against them bit for bit, the epoch
// order and augmentation streams (permutation, determinism, resumability, thread count,
// statistics), batching edge cases, bad input, and normalized statistics on the real
// Fashion-MNIST test split.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <vector>

#include "data/idx.h"
#include "data/transforms.h"
#include "tensor/random.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using data::Augment;
using data::AugmentDraw;
using data::Batch;
using data::InMemoryLoader;
using data::Normalize;
using test::bit_equal;

// The documented f32 operation order of transforms.h, written out again.
float norm_f32(double v, double mean, double std) {
  return (static_cast<float>(v) / 255.0f - static_cast<float>(mean)) / static_cast<float>(std);
}

Tensor random_images(const Shape& sizes, uint64_t seed) { return test::random_tensor(sizes, DType::u8, seed, 0, 255); }

// ---- transforms ----

TEST(Transforms, NormalizeMatchesHandComputation) {
  // Two channels of three pixels; mean/std chosen so the values are easy to check by hand.
  const Tensor image = from_vector<uint8_t>({0, 128, 255, 51, 0, 200}, {2, 1, 3});
  const Normalize stats{{0.5, 0.25}, {0.25, 0.5}};
  const std::vector<float> got = data::normalize(image, stats).to_vector<float>();
  // (v / 255 - mean) / std in exact arithmetic, e.g. 0 -> (0 - 0.5) / 0.25 = -2, 51 -> (0.2 - 0.25) / 0.5 = -0.1.
  const std::vector<double> hand = {-2.0, (128 / 255.0 - 0.5) / 0.25, 2.0, -0.1, -0.5, (200 / 255.0 - 0.25) / 0.5};
  ASSERT_EQ(got.size(), hand.size());
  for (size_t i = 0; i < hand.size(); ++i) {
    EXPECT_NEAR(got[i], hand[i], 4e-7 * std::max(1.0, std::fabs(hand[i]))) << "pixel " << i;
    const double mean = stats.mean[i / 3], std = stats.std[i / 3];
    const double v = image.to_vector<double>()[i];
    EXPECT_EQ(got[i], norm_f32(v, mean, std)) << "pixel " << i << " is not the documented f32 sequence";
  }
  // f32 input on the 0..255 scale gives the same bits as u8.
  EXPECT_TRUE(bit_equal(data::normalize(image, stats), data::normalize(image.to(DType::f32), stats), "f32 input"));
}

// The direct formula for crop_padded: output (y, x) is input (y + top - p, x + left - p) or 0.
template <typename T>
Tensor direct_crop(const Tensor& image, int64_t p, int64_t top, int64_t left) {
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  const std::vector<T> in = image.to_vector<T>();
  std::vector<T> out(static_cast<size_t>(C * H * W), T(0));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t sy = y + top - p, sx = x + left - p;
        if (sy >= 0 && sy < H && sx >= 0 && sx < W) out[(c * H + y) * W + x] = in[(c * H + sy) * W + sx];
      }
  return from_vector(out, {C, H, W});
}

TEST(Transforms, PadCropAndFlipAgainstDirectFormulas) {
  const Tensor small = from_vector<uint8_t>({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  EXPECT_EQ(data::pad(small, 1).to_vector<int>(),
            (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(data::crop(small, 1, 1, 1, 2).to_vector<int>(), (std::vector<int>{5, 6}));
  EXPECT_EQ(data::horizontal_flip(small).to_vector<int>(), (std::vector<int>{3, 2, 1, 6, 5, 4}));

  // Every offset of a non-square 3-channel image, u8 and f32, including padding wider than the image.
  for (int64_t p : {0, 2, 9}) {
    const Tensor u8 = random_images({3, 5, 7}, 10 + p);
    const Tensor f32 = u8.to(DType::f32);
    for (int64_t top = 0; top <= 2 * p; ++top)
      for (int64_t left = 0; left <= 2 * p; ++left) {
        const std::string what =
            "p=" + std::to_string(p) + " top=" + std::to_string(top) + " left=" + std::to_string(left);
        ASSERT_TRUE(bit_equal(direct_crop<uint8_t>(u8, p, top, left), data::crop_padded(u8, p, top, left), what));
        ASSERT_TRUE(bit_equal(direct_crop<float>(f32, p, top, left), data::crop_padded(f32, p, top, left), what));
      }
  }
  const Tensor image = random_images({3, 5, 7}, 3);
  const std::vector<int> in = image.to_vector<int>(), flipped = data::horizontal_flip(image).to_vector<int>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 7; ++x) EXPECT_EQ(flipped[(c * 5 + y) * 7 + x], in[(c * 5 + y) * 7 + 6 - x]);
  // Non-contiguous input (a transposed view) reads the logical pixels.
  const Tensor strided = test::random_strided({2, 4, 6}, DType::u8, 4, 0, 255);
  EXPECT_TRUE(bit_equal(data::horizontal_flip(strided.contiguous()), data::horizontal_flip(strided), "strided flip"));
}

TEST(Transforms, BadInput) {
  const Tensor image = random_images({1, 4, 4}, 1);
  EXPECT_LOWBIT_ERROR(data::normalize(random_images({4, 4}, 1), {{0.5}, {0.5}}), "normalize", "[C,H,W]", "[4,4] u8");
  EXPECT_LOWBIT_ERROR(data::normalize(image.to(DType::i32), {{0.5}, {0.5}}), "normalize", "u8 or f32", "i32");
  EXPECT_LOWBIT_ERROR(data::normalize(image, {{0.5, 0.5}, {0.5, 0.5}}), "normalize", "mean has 2", "1 channels");
  EXPECT_LOWBIT_ERROR(data::normalize(image, {{0.5}, {0.0}}), "normalize", "std > 0", "std 0");
  EXPECT_LOWBIT_ERROR(data::pad(image, -1), "pad", "padding must be >= 0", "-1");
  EXPECT_LOWBIT_ERROR(data::crop(image, 2, 0, 3, 4), "crop", "does not fit", "[1,4,4]");
  EXPECT_LOWBIT_ERROR(data::crop_padded(image, 2, 5, 0), "crop_padded", "[0, 4]", "top=5");
}

// ---- loader ----

// Checks every pixel and label of b against the direct formula: sample s = order[first + i]
// with draw d; pixel (c, y, x) reads input (y + top - p, x' + left - p) with x' = W-1-x if
// flipped, else x, and holds (0 - mean[c]) / std[c] on the padded border. Also checks the
// transforms.h composition bit for bit. Counts the draws seen.
void check_batch(const InMemoryLoader& loader, const Tensor& images, const Tensor& labels, const Normalize& stats,
                 int64_t p, int64_t epoch, const Batch& b, std::map<std::vector<int64_t>, int>* seen) {
  const int64_t C = loader.channels(), H = loader.height(), W = loader.width();
  const std::vector<int64_t> order = loader.epoch_order(epoch).to_vector<int64_t>();
  const std::vector<float> got = b.images.to_vector<float>();
  const std::vector<int64_t> got_labels = b.labels.to_vector<int64_t>();
  const std::vector<int64_t> all_labels = labels.to_vector<int64_t>();
  for (int64_t i = 0; i < b.images.size(0); ++i) {
    const int64_t s = order[b.first + i];
    const AugmentDraw d = loader.augment_draw(epoch, b.first + i);
    (*seen)[{d.top, d.left, d.flip}]++;
    ASSERT_EQ(got_labels[i], all_labels[s]);
    const std::vector<double> in = images.select(0, s).to_vector<double>();
    int64_t bad = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t sy = y + d.top - p, sx = (d.flip ? W - 1 - x : x) + d.left - p;
          const bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
          const float want = norm_f32(inside ? in[(c * H + sy) * W + sx] : 0.0, stats.mean[c], stats.std[c]);
          const float value = got[((i * C + c) * H + y) * W + x];
          if (value != want && bad++ < 5) {
            ADD_FAILURE() << "epoch " << epoch << " position " << b.first + i << " sample " << s << " draw (" << d.top
                          << "," << d.left << "," << d.flip << ") pixel [" << c << "," << y << "," << x << "]: want "
                          << want << " got " << value;
          }
          if (!inside) {  // the padded border, by hand: (0 - mean) / std
            EXPECT_NEAR(value, -stats.mean[c] / stats.std[c], 1e-6);
          }
        }
    ASSERT_EQ(bad, 0) << "pixels of position " << b.first + i << " differ from the direct formula";
    // The same sample through the reference transforms, one step at a time.
    Tensor ref = data::crop_padded(images.select(0, s).reshape({C, H, W}), p, d.top, d.left);
    if (d.flip) ref = data::horizontal_flip(ref);
    ASSERT_TRUE(bit_equal(data::normalize(ref, stats), b.images.select(0, i), "loader vs transforms"));
  }
}

TEST(Loader, BatchesEqualTheDirectReferenceAtEveryOffset) {
  const int64_t N = 500, p = 3;
  const Tensor images = random_images({N, 3, 5, 7}, 7);
  const Tensor labels = test::random_tensor({N}, DType::u8, 8, 0, 9);
  const Normalize stats{{0.3, 0.5, 0.7}, {0.2, 0.25, 0.4}};
  const InMemoryLoader loader(images, labels, 64, true, 42, stats, Augment{p, true});
  std::map<std::vector<int64_t>, int> seen;
  for (int64_t epoch = 0; epoch < 3; ++epoch)
    for (int64_t index = 0; index < loader.batches_per_epoch(); ++index)
      check_batch(loader, images, labels, stats, p, epoch, loader.batch(epoch, index), &seen);
  // 1500 draws over (2p+1)^2 * 2 = 98 outcomes: every offset with both flip states occurred.
  EXPECT_EQ(seen.size(), 98u);

  // [N, H, W] is one channel: the same as [N, 1, H, W].
  const Tensor gray = random_images({N, 6, 6}, 9);
  const Normalize g{{0.4}, {0.3}};
  const InMemoryLoader a(gray, labels, 50, true, 1, g, Augment{2, true});
  const InMemoryLoader b(gray.reshape({N, 1, 6, 6}), labels, 50, true, 1, g, Augment{2, true});
  EXPECT_EQ(a.channels(), 1);
  for (int64_t index : {0, 4, 9}) {
    EXPECT_TRUE(bit_equal(a.batch(1, index).images, b.batch(1, index).images, "[N,H,W] vs [N,1,H,W]"));
    check_batch(a, gray.reshape({N, 1, 6, 6}), labels, g, 2, 1, a.batch(1, index), &seen);
  }
}

TEST(Loader, EpochOrderIsASeededPermutation) {
  const int64_t N = 1000;
  const InMemoryLoader loader(random_images({N, 2, 2}, 1), arange(N), 100, true, 5, {{0.5}, {0.5}});
  std::vector<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order = loader.epoch_order(epoch).to_vector<int64_t>();
    orders.push_back(order);
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, arange(N).to_vector<int64_t>()) << "epoch " << epoch << " is not a permutation";
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
  const InMemoryLoader other_seed(random_images({N, 2, 2}, 1), arange(N), 100, true, 6, {{0.5}, {0.5}});
  EXPECT_NE(orders[1], other_seed.epoch_order(1).to_vector<int64_t>());

  // The documented stream: epoch e is the (e+1)-th randperm drawn from Generator{seed, 0}.
  Generator gen{5, 0};
  for (int64_t epoch = 0; epoch < 3; ++epoch)
    EXPECT_EQ(randperm(N, Device::cpu(), &gen).to_vector<int64_t>(), orders[epoch]) << "epoch " << epoch;

  // With labels = sample index, the labels of an epoch's batches spell out its order.
  std::vector<int64_t> labels;
  for (int64_t index = 0; index < loader.batches_per_epoch(); ++index) {
    const std::vector<int64_t> l = loader.batch(2, index).labels.to_vector<int64_t>();
    labels.insert(labels.end(), l.begin(), l.end());
  }
  EXPECT_EQ(labels, orders[2]);

  // No shuffle: the identity, every epoch.
  const InMemoryLoader plain(random_images({N, 2, 2}, 1), arange(N), 100, false, 5, {{0.5}, {0.5}});
  EXPECT_EQ(plain.epoch_order(0).to_vector<int64_t>(), arange(N).to_vector<int64_t>());
  EXPECT_EQ(plain.epoch_order(7).to_vector<int64_t>(), arange(N).to_vector<int64_t>());
}

TEST(Loader, DeterministicResumableAndThreadCountIndependent) {
  // 256 images of 28x28 per batch: large enough for the OpenMP path.
  const int64_t N = 1100;
  const Tensor images = random_images({N, 28, 28}, 11);
  const Tensor labels = test::random_tensor({N}, DType::i32, 12, 0, 9);
  const Normalize stats{{0.286}, {0.353}};
  const Augment aug{4, true};
  const InMemoryLoader run(images, labels, 256, true, 123, stats, aug);
  std::vector<Batch> straight;
  for (int64_t epoch = 0; epoch < 2; ++epoch)
    for (int64_t index = 0; index < run.batches_per_epoch(); ++index) straight.push_back(run.batch(epoch, index));

  // A fresh loader (a resumed run) asked in a scrambled order, with 1 and with 2 threads.
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    const InMemoryLoader resumed(images, labels, 256, true, 123, stats, aug);
    for (int64_t k : {6, 2, 9, 0, 5, 1, 8, 3, 7, 4}) {
      const int64_t epoch = k / run.batches_per_epoch(), index = k % run.batches_per_epoch();
      const Batch b = resumed.batch(epoch, index);
      const std::string what =
          "threads " + std::to_string(threads) + " epoch " + std::to_string(epoch) + " batch " + std::to_string(index);
      EXPECT_EQ(b.first, straight[k].first);
      EXPECT_TRUE(bit_equal(straight[k].images, b.images, what));
      EXPECT_TRUE(bit_equal(straight[k].labels, b.labels, what));
    }
  }
  // Another seed changes both the order and the draws.
  const InMemoryLoader other(images, labels, 256, true, 124, stats, aug);
  EXPECT_FALSE(bit_equal(straight[0].images, other.batch(0, 0).images, "other seed"));
}

TEST(Loader, DropLastAndThePartialBatch) {
  const Tensor images = random_images({10, 3, 3}, 2);
  const Normalize stats{{0.5}, {0.5}};
  const InMemoryLoader keep(images, arange(10), 4, false, 0, stats);
  EXPECT_EQ(keep.size(), 10);
  ASSERT_EQ(keep.batches_per_epoch(), 3);
  const Batch last = keep.batch(0, 2);
  EXPECT_EQ(last.first, 8);
  EXPECT_EQ(last.images.sizes(), (Shape{2, 1, 3, 3}));
  EXPECT_EQ(last.labels.dtype(), DType::i64);
  EXPECT_EQ(last.labels.to_vector<int64_t>(), (std::vector<int64_t>{8, 9}));

  const InMemoryLoader drop(images, arange(10), 4, false, 0, stats, {}, true);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  EXPECT_EQ(drop.batch(0, 1).labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_LOWBIT_ERROR(drop.batch(0, 2), "InMemoryLoader", "batch index 2 is out of range", "2 batches", "drop_last");

  // An exact multiple: drop_last changes nothing; a batch larger than the data set is one batch.
  EXPECT_EQ(InMemoryLoader(images.narrow(0, 0, 8), arange(8), 4, false, 0, stats, {}, true).batches_per_epoch(), 2);
  EXPECT_EQ(InMemoryLoader(images, arange(10), 64, false, 0, stats).batches_per_epoch(), 1);
  EXPECT_EQ(InMemoryLoader(images, arange(10), 64, false, 0, stats, {}, true).batches_per_epoch(), 0);
}

TEST(Loader, AugmentationDrawsAreUniform) {
  // 81 crop offsets (p = 4) and 2 flip states over 200 * 81 draws, for a fixed seed (so the
  // test is deterministic). The bounds sit ~7 binomial standard deviations away.
  const int64_t p = 4, side = 2 * p + 1, draws = 200 * side * side;
  const InMemoryLoader loader(random_images({draws, 1, 1}, 3), arange(draws), 1, true, 99, {{0.5}, {0.5}},
                              Augment{p, true});
  std::vector<int64_t> top(side), left(side), cell(side * side);
  int64_t flips = 0;
  for (int64_t pos = 0; pos < draws; ++pos) {
    const AugmentDraw d = loader.augment_draw(pos % 2, pos);  // two epochs, interleaved
    ASSERT_TRUE(d.top >= 0 && d.top < side && d.left >= 0 && d.left < side);
    top[d.top]++, left[d.left]++, cell[d.top * side + d.left]++, flips += d.flip;
  }
  for (int64_t k = 0; k < side; ++k) {  // expected 1800, std 40
    EXPECT_NEAR(top[k], draws / side, 300) << "top " << k;
    EXPECT_NEAR(left[k], draws / side, 300) << "left " << k;
  }
  for (int64_t k = 0; k < side * side; ++k) EXPECT_NEAR(cell[k], 200, 100) << "offset " << k;  // std 14
  EXPECT_NEAR(flips, draws / 2, 450);                                                          // std 64

  // The draw depends on the epoch, and without augmentation it is the identity.
  int64_t same = 0;
  for (int64_t pos = 0; pos < 100; ++pos) {
    const AugmentDraw a = loader.augment_draw(0, pos), b = loader.augment_draw(1, pos);
    same += a.top == b.top && a.left == b.left && a.flip == b.flip;
  }
  EXPECT_LT(same, 20);
  const InMemoryLoader plain(random_images({50, 1, 1}, 3), arange(50), 1, true, 99, {{0.5}, {0.5}});
  for (int64_t pos = 0; pos < 50; ++pos) {
    const AugmentDraw d = plain.augment_draw(3, pos);
    EXPECT_TRUE(d.top == 0 && d.left == 0 && !d.flip);
  }
}

TEST(Loader, BadInput) {
  const Tensor images = random_images({10, 5, 7}, 1), labels = arange(10);
  const Normalize one{{0.5}, {0.25}};
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, arange(9), 4, true, 0, one), "InMemoryLoader", "10 images but 9 labels",
                      "[10,5,7] u8 cpu", "[9] i64 cpu");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 0, true, 0, one), "InMemoryLoader", "batch_size must be > 0",
                      "got 0");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images.to(DType::f32), labels, 4, true, 0, one), "InMemoryLoader",
                      "images must be u8", "[10,5,7] f32 cpu");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images.reshape({10, 35}), labels, 4, true, 0, one), "InMemoryLoader",
                      "[N,H,W] or [N,C,H,W]", "[10,35] u8");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images.narrow(0, 0, 0), arange(0), 4, true, 0, one), "InMemoryLoader",
                      "must not be empty", "[0,5,7]");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels.to(DType::f32), 4, true, 0, one), "InMemoryLoader",
                      "labels must be an integer tensor [N]", "[10] f32");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels.reshape({5, 2}), 4, true, 0, one), "labels", "[5,2] i64");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, {{0.5, 0.5, 0.5}, {0.2, 0.2, 0.2}}), "InMemoryLoader",
                      "normalize has 3 means and 3 stds", "1 channel", "[10,5,7] u8");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(random_images({10, 3, 5, 7}, 1), labels, 4, true, 0, one), "normalize has 1 means",
                      "3 channels", "[10,3,5,7]");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, {{0.5}, {0.0}}), "InMemoryLoader", "std > 0",
                      "mean 0.5 std 0");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, {{0.5}, {-1.0}}), "std > 0", "std -1");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, {{0.5}, {1e-50}}), "std > 0 (in f32)", "std 1e-50");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, {{NAN}, {1.0}}), "finite mean", "mean nan");
  EXPECT_LOWBIT_ERROR(InMemoryLoader(images, labels, 4, true, 0, one, Augment{-1, false}), "InMemoryLoader",
                      "crop_padding", "got -1");
  const InMemoryLoader loader(images, labels, 4, true, 0, one);
  EXPECT_LOWBIT_ERROR(loader.batch(0, 3), "InMemoryLoader", "batch index 3 is out of range", "3 batches",
                      "10 samples, batch_size 4");
  EXPECT_LOWBIT_ERROR(loader.batch(0, -1), "batch index -1 is out of range");
  EXPECT_LOWBIT_ERROR(loader.batch(-1, 0), "InMemoryLoader", "epoch must be >= 0", "-1");
  EXPECT_LOWBIT_ERROR(loader.augment_draw(0, 10), "InMemoryLoader", "position 10 is out of range", "10 samples");
}

// ---- the real data set ----

// Mean and std of x / 255 over every pixel, in double.
std::pair<double, double> pixel_stats(const Tensor& images) {
  const std::vector<uint8_t> v = images.to_vector<uint8_t>();
  double sum = 0, sum_sq = 0;
  for (uint8_t x : v) sum += x / 255.0, sum_sq += (x / 255.0) * (x / 255.0);
  const double mean = sum / v.size();
  return {mean, std::sqrt(sum_sq / v.size() - mean * mean)};
}

TEST(Loader, FashionMnistNormalizedStatistics) {
  const std::string dir = data::fashion_mnist_dir();
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz") ||
      !std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not found in " << dir
                 << " (install the Debian package dataset-fashion-mnist or set LOWBIT_FASHION_MNIST)";
  // The commonly quoted training-set statistics, verified.
  const auto [train_mean, train_std] = pixel_stats(data::load_fashion_mnist("train").images);
  EXPECT_NEAR(train_mean, 0.2860, 5e-5);
  EXPECT_NEAR(train_std, 0.3530, 5e-5);

  // The test split normalized with its own statistics: ~0 mean and ~1 std per batch, and
  // (up to f32 rounding) exactly 0 and 1 over the whole epoch.
  const data::MnistSplit test_split = data::load_fashion_mnist("test");
  const auto [mean, std] = pixel_stats(test_split.images);
  const InMemoryLoader loader(test_split.images, test_split.labels, 500, true, 2024, {{mean}, {std}});
  double sum = 0, sum_sq = 0;
  int64_t count = 0;
  for (int64_t index = 0; index < loader.batches_per_epoch(); ++index) {
    const std::vector<float> v = loader.batch(0, index).images.to_vector<float>();
    double s = 0, sq = 0;
    for (float x : v) s += x, sq += double(x) * x;
    const double m = s / v.size();
    EXPECT_NEAR(m, 0.0, 0.1) << "batch " << index;
    EXPECT_NEAR(std::sqrt(sq / v.size() - m * m), 1.0, 0.1) << "batch " << index;
    sum += s, sum_sq += sq, count += static_cast<int64_t>(v.size());
  }
  EXPECT_EQ(count, 10000 * 28 * 28);
  const double m = sum / count;
  EXPECT_NEAR(m, 0.0, 1e-5);
  EXPECT_NEAR(std::sqrt(sum_sq / count - m * m), 1.0, 1e-5);
}

}  // namespace
}  // namespace lowbit
