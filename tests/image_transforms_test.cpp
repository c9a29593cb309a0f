// Image transforms (data/image_transforms.h):
//   - against PIL: every golden of tests/golden/image_transforms (made by
//     make_image_transforms_golden.py with Pillow 9.4 and torchvision's logic) must match
//     EXACTLY, byte for byte (tolerance 0: resize, resize_shorter, center_crop, brightness,
//     contrast, saturation, hue on fixture images; the colour ops also on all 2^24 colours
//     through a checksum);
//   - fast against the scalar reference (ref::) on random shapes and images: equal bytes,
//     and equal f32 bits for the pipelines (TrainTransform / EvalTransform against the
//     composition of the reference steps);
//   - the random stream and RandomResizedCrop's algorithm; bad arguments.
#include "data/image_transforms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "tensor/kernels/philox.h"
#include "tests/image_test_util.h"
#include "tests/test_util.h"

namespace lowbit::data {
namespace {

using test::random_crop_box;
using test::random_image;
using test::same_floats;
using test::same_image;

const std::string kGolden = std::string(LOWBIT_SOURCE_DIR) + "/tests/golden/image_transforms/";

Image load_input(const std::string& name) {
  const std::string fixtures = std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures/images/";
  if (name == "smooth") return read_image(fixtures + "smooth.png");
  if (name == "pattern") return read_image(fixtures + "pattern_rgba.png");  // alpha dropped, as PIL's convert("RGB")
  if (name == "baseline") return read_image(fixtures + "baseline.pil.png");
  if (name == "gray") return read_image(fixtures + "gray.pil.png");
  return read_image(kGolden + "input_" + name + ".png");
}

struct GoldenLine {
  std::string op, input, arg1, arg2, file;  // checksum lines: op = "checksum", input = the colour op, file = hex
};

std::vector<GoldenLine> golden_lines() {
  std::ifstream in(kGolden + "cases.txt");
  EXPECT_TRUE(in.good()) << "cannot read " << kGolden << "cases.txt";
  std::vector<GoldenLine> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    GoldenLine g;
    if (line.rfind("checksum", 0) == 0)
      fields >> g.op >> g.input >> g.arg1 >> g.file;
    else
      fields >> g.op >> g.input >> g.arg1 >> g.arg2 >> g.file;
    lines.push_back(g);
  }
  return lines;
}

// The all-colours image of the golden script: pixel i holds (i >> 16, (i >> 8) & 255, i & 255).
Image colour_cube() {
  Image cube(4096, 4096);
  for (int64_t i = 0; i < 4096 * 4096; ++i) {
    cube.pixels[i * 3 + 0] = static_cast<uint8_t>(i >> 16);
    cube.pixels[i * 3 + 1] = static_cast<uint8_t>(i >> 8);
    cube.pixels[i * 3 + 2] = static_cast<uint8_t>(i);
  }
  return cube;
}

uint64_t splitmix64(uint64_t k) {
  uint64_t z = k + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The golden script's: sum over pixels of (R | G << 8 | B << 16) * (splitmix64(i) | 1) mod 2^64.
uint64_t checksum(const Image& img) {
  uint64_t sum = 0;
  const uint8_t* p = img.pixels.data();
  for (int64_t i = 0; i < img.height * img.width; ++i) {
    const uint64_t packed = p[i * 3] | (uint64_t{p[i * 3 + 1]} << 8) | (uint64_t{p[i * 3 + 2]} << 16);
    sum += packed * (splitmix64(static_cast<uint64_t>(i)) | 1);
  }
  return sum;
}

Image colour_op(const std::string& op, const Image& img, double f, bool reference) {
  if (op == "brightness") return reference ? ref::adjust_brightness(img, f) : adjust_brightness(img, f);
  if (op == "contrast") return reference ? ref::adjust_contrast(img, f) : adjust_contrast(img, f);
  if (op == "saturation") return reference ? ref::adjust_saturation(img, f) : adjust_saturation(img, f);
  EXPECT_EQ(op, "hue");
  return reference ? ref::adjust_hue(img, f) : adjust_hue(img, f);
}

// ---- against PIL ------------------------------------------------------------------------

// Tolerance 0: PIL's BILINEAR resampling is integer arithmetic on coefficients computed in
// double, reproduced operation for operation.
TEST(ImageTransformsGolden, GeometryEqualsPil) {
  int cases = 0;
  for (const GoldenLine& g : golden_lines()) {
    if (g.op != "resize" && g.op != "resize_shorter" && g.op != "center_crop") continue;
    const Image in = load_input(g.input), expected = read_image(kGolden + g.file);
    const int64_t a = std::stoll(g.arg1);
    if (g.op == "resize") {
      const int64_t b = std::stoll(g.arg2);
      EXPECT_TRUE(same_image(expected, resize(in, a, b), g.file));
      EXPECT_TRUE(same_image(expected, ref::resize(in, a, b), "ref " + g.file));
    } else if (g.op == "resize_shorter") {
      EXPECT_TRUE(same_image(expected, resize_shorter(in, a), g.file));
    } else {
      const int64_t b = std::stoll(g.arg2);
      EXPECT_TRUE(same_image(expected, center_crop(in, a, b), g.file));
      EXPECT_TRUE(same_image(expected, ref::center_crop(in, a, b), "ref " + g.file));
    }
    ++cases;
  }
  EXPECT_GE(cases, 45);
}

// Tolerance 0: PIL's blend is float arithmetic truncated to uint8 and its HSV conversion
// float/double arithmetic truncated or rounded; we evaluate the same expressions in the
// same types.
TEST(ImageTransformsGolden, ColourEqualsPil) {
  int cases = 0;
  for (const GoldenLine& g : golden_lines()) {
    if (g.op != "brightness" && g.op != "contrast" && g.op != "saturation" && g.op != "hue") continue;
    const Image in = load_input(g.input), expected = read_image(kGolden + g.file);
    const double f = std::stod(g.arg1);
    EXPECT_TRUE(same_image(expected, colour_op(g.op, in, f, false), g.file));
    EXPECT_TRUE(same_image(expected, colour_op(g.op, in, f, true), "ref " + g.file));
    ++cases;
  }
  EXPECT_GE(cases, 20);
}

TEST(ImageTransformsGolden, ColourOnEveryRgbColourEqualsPil) {
  const Image cube = colour_cube();
  int cases = 0;
  for (const GoldenLine& g : golden_lines()) {
    if (g.op != "checksum") continue;
    const uint64_t expected = std::stoull(g.file, nullptr, 16);
    EXPECT_EQ(checksum(colour_op(g.input, cube, std::stod(g.arg1), false)), expected)
        << g.input << " " << g.arg1 << " on all 2^24 colours differs from PIL";
    ++cases;
  }
  EXPECT_GE(cases, 6);
}

// ---- fast against reference ----------------------------------------------------------------

TEST(ImageTransforms, ResizeEqualsReferenceOnRandomShapes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> side(1, 70), out_side(1, 90);
  for (int trial = 0; trial < 150; ++trial) {
    const int64_t h = side(rng), w = side(rng), oh = out_side(rng), ow = out_side(rng);
    const Image img = random_image(h, w, trial);
    const std::string what =
        std::to_string(h) + "x" + std::to_string(w) + " -> " + std::to_string(oh) + "x" + std::to_string(ow);
    ASSERT_TRUE(same_image(ref::resize(img, oh, ow), resize(img, oh, ow), "resize " + what));
  }
  // An ImageNet-size image down to the usual sizes, and one large upscale.
  const Image big = random_image(375, 500, 1);
  EXPECT_TRUE(same_image(ref::resize(big, 256, 341), resize(big, 256, 341), "375x500 -> 256x341"));
  EXPECT_TRUE(same_image(ref::resize(big, 224, 224), resize(big, 224, 224), "375x500 -> 224x224"));
  EXPECT_TRUE(same_image(ref::resize(big, 17, 3), resize(big, 17, 3), "375x500 -> 17x3"));
  const Image small = load_input("pattern");
  EXPECT_TRUE(same_image(ref::resize(small, 224, 224), resize(small, 224, 224), "30x40 -> 224x224"));
}

TEST(ImageTransforms, ResizedCropEqualsCropThenResize) {
  std::mt19937_64 rng(11);
  const Image img = random_image(61, 83, 3);
  for (int trial = 0; trial < 100; ++trial) {
    const CropBox box = random_crop_box(img, rng);
    const int64_t oh = std::uniform_int_distribution<int64_t>(1, 100)(rng), ow = oh + trial % 3;
    const Image expected = ref::resize(ref::crop(img, box.top, box.left, box.height, box.width), oh, ow);
    ASSERT_TRUE(same_image(expected, resized_crop(img, box, oh, ow), "resized_crop trial " + std::to_string(trial)));
  }
}

TEST(ImageTransforms, GeometryEqualsReference) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    const int64_t h = std::uniform_int_distribution<int64_t>(1, 40)(rng),
                  w = std::uniform_int_distribution<int64_t>(1, 40)(rng);
    const int64_t ch = std::uniform_int_distribution<int64_t>(1, 50)(rng),
                  cw = std::uniform_int_distribution<int64_t>(1, 50)(rng);  // often larger: padding
    const Image img = random_image(h, w, trial);
    const std::string what =
        std::to_string(h) + "x" + std::to_string(w) + " crop " + std::to_string(ch) + "x" + std::to_string(cw);
    ASSERT_TRUE(same_image(ref::center_crop(img, ch, cw), center_crop(img, ch, cw), "center_crop " + what));
    ASSERT_TRUE(same_image(ref::horizontal_flip(img), horizontal_flip(img), "flip " + what));
    const int64_t top = h / 3, left = w / 4;
    ASSERT_TRUE(same_image(ref::crop(img, top, left, h - top, w - left), crop(img, top, left, h - top, w - left),
                           "crop " + what));
  }
  const Image img = random_image(5, 4, 0);
  EXPECT_EQ(horizontal_flip(img).at(2, 0, 1), img.at(2, 3, 1));
  EXPECT_EQ(center_crop(img, 5, 4).pixels, img.pixels);  // the crop is the image
}

TEST(ImageTransforms, ResizeShorterFollowsTorchvision) {
  const Image landscape = random_image(375, 500, 2);
  const Image r = resize_shorter(landscape, 256);  // 256 * 500 / 375 = 341.33 -> 341
  EXPECT_EQ(r.height, 256);
  EXPECT_EQ(r.width, 341);
  const Image portrait = random_image(500, 333, 2);
  const Image p = resize_shorter(portrait, 224);  // 224 * 500 / 333 = 336.3 -> 336
  EXPECT_EQ(p.height, 336);
  EXPECT_EQ(p.width, 224);
  EXPECT_EQ(resize_shorter(landscape, 375).pixels, landscape.pixels);  // shorter side already 375: unchanged
}

TEST(ImageTransforms, ColourEqualsReference) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> factor(0.0, 2.5), hue(-0.5, 0.5);
  for (int trial = 0; trial < 40; ++trial) {
    const Image img = random_image(17 + trial, 23, trial);
    const std::string t = " trial " + std::to_string(trial);
    for (const char* op : {"brightness", "contrast", "saturation"}) {
      const double f = trial == 0 ? 0.0 : (trial == 1 ? 1.0 : factor(rng));
      ASSERT_TRUE(same_image(colour_op(op, img, f, true), colour_op(op, img, f, false), op + t));
    }
    const double h = trial == 0 ? -0.5 : (trial == 1 ? 0.5 : hue(rng));
    ASSERT_TRUE(same_image(ref::adjust_hue(img, h), adjust_hue(img, h), "hue" + t));
  }
}

// Every order of the four adjustments, and subsets: the fast path splits the chain at
// contrast (the steps before it, then contrast's mean, then the rest).
TEST(ImageTransforms, ColorJitterEqualsReferenceInEveryOrder) {
  const Image img = random_image(19, 21, 12);
  std::array<int, 4> order = {0, 1, 2, 3};
  do {
    for (const int mask : {15, 3, 5, 9, 6, 12}) {  // which of the four are enabled
      ColorJitterDraw draw;
      draw.order = order;
      const double factors[4] = {1.3, 0.6, 1.7, -0.2};
      for (int op = 0; op < 4; ++op)
        if (mask & (1 << op)) draw.factor[op] = factors[op];
      const std::string what = "order " + std::to_string(order[0]) + std::to_string(order[1]) +
                               std::to_string(order[2]) + std::to_string(order[3]) + " mask " + std::to_string(mask);
      ASSERT_TRUE(same_image(ref::color_jitter(img, draw), color_jitter(img, draw), what));
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(ImageTransforms, ToChwNormalizedMatchesNormalize) {
  const Image img = random_image(13, 11, 4);
  const Normalize stats = imagenet_normalize();
  std::vector<float> fast(3 * 13 * 11), reference(fast.size());
  to_chw_normalized(img, stats.mean, stats.std, fast.data());
  ref::to_chw_normalized(img, stats.mean, stats.std, reference.data());
  EXPECT_TRUE(same_floats(reference, fast, "to_chw_normalized"));
  // The same bits as data/transforms.h's normalize on the u8 [C, H, W] tensor.
  Tensor chw = empty({3, 13, 11}, DType::u8);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 13 * 11; ++i) chw.data<uint8_t>()[c * 143 + i] = img.pixels[i * 3 + c];
  EXPECT_TRUE(same_floats(normalize(chw, stats).to_vector<float>(), fast, "normalize vs to_chw_normalized"));
}

// ---- random stream and RandomResizedCrop ---------------------------------------------------

TEST(Draws, DependOnlyOnSeedEpochIndex) {
  auto words = [](SampleKey key) {
    Draws d(key);
    std::vector<uint32_t> w(10);  // crosses a block boundary
    for (auto& x : w) x = d.word();
    return w;
  };
  const SampleKey key{42, 3, 1000};
  EXPECT_EQ(words(key), words(key));
  EXPECT_NE(words(key), words({43, 3, 1000}));
  EXPECT_NE(words(key), words({42, 4, 1000}));
  EXPECT_NE(words(key), words({42, 3, 1001}));
  // The layout of the header: block b is philox(counter_lo = index, counter_hi = 2 << 60 | (epoch + 1) << 16 | b).
  const Philox4x32 block1 = philox4x32_10(1000, (uint64_t{2} << 60) | (uint64_t{4} << 16) | 1, 42);
  EXPECT_EQ(words(key)[5], block1.x[1]);

  Draws d(key);
  for (int i = 0; i < 1000; ++i) {
    const double u = d.uniform();
    ASSERT_TRUE(u > 0 && u < 1) << u;
    const int64_t k = d.integer(7);
    ASSERT_TRUE(k >= 0 && k < 7) << k;
  }
  EXPECT_EQ(Draws(SampleKey{0, 0, 0}).integer(1), 0);
}

TEST(RandomResizedCrop, BoxesInsideImageAndWithinScaleAndRatio) {
  const double smin = 0.08, smax = 1.0, rmin = 3.0 / 4, rmax = 4.0 / 3;
  for (const auto& [H, W] : {std::pair<int64_t, int64_t>{375, 500}, {500, 333}, {64, 64}, {30, 40}}) {
    const double area = double(H) * double(W);
    for (int64_t index = 0; index < 300; ++index) {
      Draws d(SampleKey{1, 0, index});
      const CropBox b = random_resized_crop_box(H, W, smin, smax, rmin, rmax, d);
      ASSERT_TRUE(b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= H &&
                  b.left + b.width <= W)
          << H << "x" << W << " box " << b.top << "," << b.left << "," << b.height << "," << b.width;
      // w and h are round(sqrt(area * ratio)) and round(sqrt(area / ratio)): within 0.5 of the exact values.
      const double w = double(b.width), h = double(b.height);
      EXPECT_GE((w + 0.5) * (h + 0.5), smin * area);
      EXPECT_LE((w - 0.5) * (h - 0.5), smax * area);
      EXPECT_GE((w + 0.5) / (h - 0.5 > 0 ? h - 0.5 : 1e-9), rmin);
      EXPECT_LE((w - 0.5) / (h + 0.5), rmax);
    }
  }
}

TEST(RandomResizedCrop, FallsBackToCentralCropClampedToRatio) {
  // No 0.08..1 area with a ratio in [3/4, 4/3] fits a 10-pixel-high strip: the fallback
  // keeps the full height and clamps the width to round(10 * 4/3) = 13, centred.
  Draws d1(SampleKey{5, 0, 0});
  const CropBox wide = random_resized_crop_box(10, 1000, 0.08, 1.0, 3.0 / 4, 4.0 / 3, d1);
  EXPECT_EQ(wide.height, 10);
  EXPECT_EQ(wide.width, 13);
  EXPECT_EQ(wide.top, 0);
  EXPECT_EQ(wide.left, (1000 - 13) / 2);
  Draws d2(SampleKey{5, 0, 0});
  const CropBox tall = random_resized_crop_box(1000, 10, 0.08, 1.0, 3.0 / 4, 4.0 / 3, d2);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 13);  // round(10 / 0.75) = round(13.33)
  EXPECT_EQ(tall.top, (1000 - 13) / 2);
  // Within the ratio range the fallback is the whole image (a scale no attempt can meet).
  Draws d3(SampleKey{5, 0, 0});
  const CropBox whole = random_resized_crop_box(30, 40, 2.0, 3.0, 3.0 / 4, 4.0 / 3, d3);
  EXPECT_EQ(whole.top, 0);
  EXPECT_EQ(whole.left, 0);
  EXPECT_EQ(whole.height, 30);
  EXPECT_EQ(whole.width, 40);
}

TEST(RandomResizedCrop, SameKeySameBoxOtherKeysOtherBoxes) {
  auto box = [](SampleKey key) {
    Draws d(key);
    const CropBox b = random_resized_crop_box(375, 500, 0.08, 1.0, 3.0 / 4, 4.0 / 3, d);
    return std::vector<int64_t>{b.top, b.left, b.height, b.width};
  };
  EXPECT_EQ(box({7, 2, 11}), box({7, 2, 11}));
  std::set<std::vector<int64_t>> seen;
  for (int64_t i = 0; i < 50; ++i) seen.insert(box({7, 2, i}));
  for (int64_t e = 0; e < 50; ++e) seen.insert(box({7, e, 11}));
  EXPECT_GE(seen.size(), 95u);
}

TEST(ColorJitter, DrawsFactorsInRangeAndEveryOrder) {
  const ColorJitter jitter{0.4, 0.3, 1.5, 0.1};
  std::set<std::array<int, 4>> orders;
  for (int64_t i = 0; i < 500; ++i) {
    Draws d(SampleKey{3, 0, i});
    const ColorJitterDraw draw = draw_color_jitter(jitter, d);
    orders.insert(draw.order);
    std::array<int, 4> sorted = draw.order;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::array<int, 4>{0, 1, 2, 3}));
    ASSERT_TRUE(draw.factor[0] && *draw.factor[0] >= 0.6 && *draw.factor[0] <= 1.4);
    ASSERT_TRUE(draw.factor[1] && *draw.factor[1] >= 0.7 && *draw.factor[1] <= 1.3);
    ASSERT_TRUE(draw.factor[2] && *draw.factor[2] >= 0.0 && *draw.factor[2] <= 2.5);  // max(0, 1 - 1.5)
    ASSERT_TRUE(draw.factor[3] && *draw.factor[3] >= -0.1 && *draw.factor[3] <= 0.1);
  }
  EXPECT_EQ(orders.size(), 24u);
  Draws d(SampleKey{3, 0, 0});
  const ColorJitterDraw only_hue = draw_color_jitter(ColorJitter{0, 0, 0, 0.2}, d);
  EXPECT_FALSE(only_hue.factor[0] || only_hue.factor[1] || only_hue.factor[2]);
  EXPECT_TRUE(only_hue.factor[3]);
}

// ---- pipelines ---------------------------------------------------------------------------

static_assert(std::is_convertible_v<TrainTransform, SampleTransform>);
static_assert(std::is_convertible_v<EvalTransform, SampleTransform>);

// RandomResizedCrop -> RandomHorizontalFlip -> ColorJitter -> ToTensor + Normalize, one
// reference step at a time, with the fast transform's own draws.
std::vector<float> train_reference(const TrainTransform& t, const Image& img, const SampleKey& key) {
  const TrainDraw d = t.draw(img.height, img.width, key);
  Image x = ref::crop(img, d.box.top, d.box.left, d.box.height, d.box.width);
  x = ref::resize(x, t.size, t.size);
  if (d.flip) x = ref::horizontal_flip(x);
  x = ref::color_jitter(x, d.jitter);
  std::vector<float> out(3 * t.size * t.size);
  ref::to_chw_normalized(x, t.normalize.mean, t.normalize.std, out.data());
  return out;
}

std::vector<float> run(const SampleTransform& t, const Image& img, const SampleKey& key, int64_t size) {
  std::vector<float> out(3 * size * size);
  t(img, key, out.data());
  return out;
}

TEST(TrainTransform, EqualsComposedReferenceBitForBit) {
  TrainTransform plain;
  TrainTransform jittered;
  jittered.jitter = {0.4, 0.4, 0.4, 0.1};
  TrainTransform small;
  small.size = 64;
  small.flip = false;
  small.jitter = {0.0, 0.8, 0.0, 0.5};
  small.scale_min = 0.3;
  TrainTransform tables_only;  // brightness and contrast only: folded into the normalisation
  tables_only.jitter = {0.5, 0.5, 0.0, 0.0};
  const std::vector<Image> images = {random_image(375, 500, 1), random_image(200, 120, 2), load_input("pattern")};
  for (const TrainTransform* t : {&plain, &jittered, &small, &tables_only})
    for (const Image& img : images)
      for (int64_t index = 0; index < 6; ++index) {
        const SampleKey key{99, index % 2, index};
        const std::string what = std::to_string(img.height) + "x" + std::to_string(img.width) + " size " +
                                 std::to_string(t->size) + " index " + std::to_string(index);
        ASSERT_TRUE(same_floats(train_reference(*t, img, key), run(*t, img, key, t->size), what));
      }
}

TEST(TrainTransform, SameKeySameOutputAnyThread) {
  TrainTransform t;
  t.jitter = {0.4, 0.4, 0.4, 0.1};
  const Image img = random_image(120, 160, 8);
  const SampleKey key{1, 2, 3};
  const std::vector<float> first = run(t, img, key, 224);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { results[i] = run(t, img, key, 224); });
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_TRUE(same_floats(first, r, "same key on another thread"));
  EXPECT_NE(first, run(t, img, {1, 2, 4}, 224));
  EXPECT_NE(first, run(t, img, {1, 3, 3}, 224));
}

TEST(EvalTransform, EqualsComposedReferenceBitForBit) {
  struct Case {
    int64_t h, w, resize, crop;
  };
  const Case cases[] = {{375, 500, 256, 224}, {500, 333, 256, 224}, {30, 40, 32, 24}, {30, 40, 30, 27},
                        {30, 40, 20, 25},     {40, 30, 16, 31},     {7, 9, 5, 5}};  // the last four pad
  for (const Case& c : cases) {
    const Image img = random_image(c.h, c.w, c.h * c.w);
    EvalTransform t;
    t.resize = c.resize;
    t.crop = c.crop;
    // torchvision: Resize(resize) (shorter side), CenterCrop(crop), ToTensor, Normalize.
    const int64_t short_side = std::min(c.h, c.w), long_side = std::max(c.h, c.w);
    const int64_t new_long =
        short_side == c.resize ? long_side : static_cast<int64_t>(double(c.resize * long_side) / double(short_side));
    const int64_t new_short = short_side == c.resize ? short_side : c.resize;
    const int64_t rh = c.w <= c.h ? new_long : new_short, rw = c.w <= c.h ? new_short : new_long;
    Image x = ref::center_crop(ref::resize(img, rh, rw), c.crop, c.crop);
    std::vector<float> expected(3 * c.crop * c.crop);
    ref::to_chw_normalized(x, t.normalize.mean, t.normalize.std, expected.data());
    const std::string what = std::to_string(c.h) + "x" + std::to_string(c.w) + " resize " + std::to_string(c.resize) +
                             " crop " + std::to_string(c.crop);
    EXPECT_TRUE(same_floats(expected, run(t, img, {}, c.crop), what));
  }
}

// ---- bad arguments ------------------------------------------------------------------------

TEST(ImageTransforms, BadArgumentsRaiseErrorsNamingThem) {
  const Image img = random_image(30, 40, 0);
  std::vector<float> out(3 * 224 * 224);
  EXPECT_LOWBIT_ERROR(resize(img, 0, 5), "resize", "0x5", "30x40");
  EXPECT_LOWBIT_ERROR(resize(Image{}, 5, 5), "resize", "empty");
  EXPECT_LOWBIT_ERROR(resize_shorter(img, -1), "resize_shorter", "size must be > 0", "-1");
  EXPECT_LOWBIT_ERROR(crop(img, 25, 0, 10, 10), "crop", "top 25", "not inside the 30x40 image");
  EXPECT_LOWBIT_ERROR(resized_crop(img, {0, 35, 10, 10}, 5, 5), "resized_crop", "left 35", "30x40");
  EXPECT_LOWBIT_ERROR(center_crop(img, 0, 3), "center_crop", "0x3");
  EXPECT_LOWBIT_ERROR(adjust_brightness(img, -0.1), "adjust_brightness", "-0.1");
  EXPECT_LOWBIT_ERROR(adjust_saturation(img, NAN), "adjust_saturation", "finite");
  EXPECT_LOWBIT_ERROR(adjust_hue(img, 0.6), "adjust_hue", "[-0.5, 0.5]", "0.6");
  ColorJitterDraw repeated;
  repeated.order = {0, 0, 1, 2};
  EXPECT_LOWBIT_ERROR(color_jitter(img, repeated), "color_jitter", "permutation");
  EXPECT_LOWBIT_ERROR(to_chw_normalized(img, {0.5, 0.5}, {0.2, 0.2, 0.2}, out.data()), "to_chw_normalized", "3 values",
                      "got 2 and 3");
  EXPECT_LOWBIT_ERROR(to_chw_normalized(img, {0.5, 0.5, 0.5}, {0.2, 0.0, 0.2}, out.data()), "to_chw_normalized",
                      "channel 1", "std > 0");
  EXPECT_LOWBIT_ERROR(Draws(SampleKey{0, -1, 0}), "Draws", "epoch", "-1");
  Draws d(SampleKey{});
  EXPECT_LOWBIT_ERROR(random_resized_crop_box(0, 5, 0.08, 1, 0.75, 1.33, d), "random_resized_crop_box", "0x5");
  EXPECT_LOWBIT_ERROR(random_resized_crop_box(5, 5, 0.5, 0.1, 0.75, 1.33, d), "random_resized_crop_box", "scale",
                      "(0.5, 0.1)");
  EXPECT_LOWBIT_ERROR(random_resized_crop_box(5, 5, 0.08, 1, 0, 1.33, d), "random_resized_crop_box", "ratio");
  TrainTransform t;
  t.jitter.hue = 0.7;
  EXPECT_LOWBIT_ERROR(t(img, {}, out.data()), "TrainTransform", "hue", "0.7");
  t = TrainTransform{};
  t.jitter.contrast = -1;
  EXPECT_LOWBIT_ERROR(t(img, {}, out.data()), "TrainTransform", "contrast -1");
  t = TrainTransform{};
  t.size = 0;
  EXPECT_LOWBIT_ERROR(t(img, {}, out.data()), "TrainTransform", "size", "0");
  t = TrainTransform{};
  t.normalize.std = {1, 1};
  EXPECT_LOWBIT_ERROR(t(img, {}, out.data()), "TrainTransform", "mean and std need 3 values");
  EvalTransform e;
  e.crop = 0;
  EXPECT_LOWBIT_ERROR(e(img, {}, out.data()), "EvalTransform", "crop 0");
}

}  // namespace
}  // namespace lowbit::data
