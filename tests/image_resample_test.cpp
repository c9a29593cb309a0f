// The vector resampler (data/image_resample.cpp: transpose, filter rows, transpose back,
// filter rows) against the scalar reference ref::resize, on every SIMD target compiled in:
// equal bytes on random shapes, tiny and odd sizes, the edges of the 16 x 32 transpose
// blocks, crop boxes read in place, and the windows EvalTransform computes.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/image_transforms.h"
#include "tests/image_test_util.h"

namespace lowbit::data {
namespace {

using test::for_each_simd_target;
using test::random_crop_box;
using test::random_image;
using test::same_floats;
using test::same_image;

std::string shape(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

TEST(ImageResample, EqualsReferenceOnRandomShapesOnEveryTarget) {
  for_each_simd_target([](const char*) {
    std::mt19937_64 rng(21);
    std::uniform_int_distribution<int64_t> side(1, 90);
    for (int trial = 0; trial < 120; ++trial) {
      const int64_t h = side(rng), w = side(rng), oh = side(rng), ow = side(rng);
      const Image img = random_image(h, w, trial);
      ASSERT_TRUE(same_image(ref::resize(img, oh, ow), resize(img, oh, ow), shape(h, w) + " -> " + shape(oh, ow)));
    }
  });
}

// Sizes around the transpose blocks (16 rows, 32 or 16 columns of bytes = 10 2/3 or 5 1/3
// pixels), down- and upscaled, including one-pixel sides.
TEST(ImageResample, EqualsReferenceAtBlockEdgesOnEveryTarget) {
  const int64_t sides[] = {1, 2, 5, 6, 10, 11, 15, 16, 17, 31, 32, 33, 47, 48};
  for_each_simd_target([&](const char*) {
    for (const int64_t h : sides)
      for (const int64_t w : sides) {
        const Image img = random_image(h, w, h * 100 + w);
        for (const auto& [oh, ow] : {std::pair<int64_t, int64_t>{17, 33}, {33, 16}, {1, 5}, {h * 2 + 1, w + 3}}) {
          ASSERT_TRUE(same_image(ref::resize(img, oh, ow), resize(img, oh, ow), shape(h, w) + " -> " + shape(oh, ow)));
        }
      }
  });
}

// ImageNet-size images to the pipelines' sizes, and a large upscale.
TEST(ImageResample, EqualsReferenceOnLargeImagesOnEveryTarget) {
  const Image landscape = random_image(375, 500, 1), portrait = random_image(333, 250, 2);
  for_each_simd_target([&](const char*) {
    EXPECT_TRUE(same_image(ref::resize(landscape, 256, 341), resize(landscape, 256, 341), "375x500 -> 256x341"));
    EXPECT_TRUE(same_image(ref::resize(landscape, 224, 224), resize(landscape, 224, 224), "375x500 -> 224x224"));
    EXPECT_TRUE(same_image(ref::resize(landscape, 375, 223), resize(landscape, 375, 223), "375x500 -> 375x223"));
    EXPECT_TRUE(same_image(ref::resize(portrait, 333, 401), resize(portrait, 333, 401), "333x250 -> 333x401"));
    EXPECT_TRUE(same_image(ref::resize(portrait, 700, 531), resize(portrait, 700, 531), "333x250 -> 700x531"));
  });
}

TEST(ImageResample, ResizedCropEqualsCropThenResizeOnEveryTarget) {
  const Image img = random_image(123, 171, 3);
  for_each_simd_target([&](const char*) {
    std::mt19937_64 rng(11);
    for (int trial = 0; trial < 60; ++trial) {
      const CropBox box = random_crop_box(img, rng);
      const int64_t oh = std::uniform_int_distribution<int64_t>(1, 120)(rng), ow = oh + trial % 5 - 2;
      if (ow < 1) continue;
      const Image expected = ref::resize(ref::crop(img, box.top, box.left, box.height, box.width), oh, ow);
      ASSERT_TRUE(same_image(expected, resized_crop(img, box, oh, ow), "trial " + std::to_string(trial)));
    }
  });
}

// EvalTransform computes only the window of the resized image inside the centre crop.
TEST(ImageResample, EvalWindowsEqualReferenceOnEveryTarget) {
  struct Case {
    int64_t h, w, resize, crop;
  };
  const Case cases[] = {{375, 500, 256, 224}, {500, 333, 256, 224}, {61, 97, 40, 33}, {97, 61, 41, 40},
                        {30, 40, 20, 25},     {16, 17, 16, 9},      {3, 50, 7, 5}};
  for_each_simd_target([&](const char*) {
    for (const Case& c : cases) {
      const Image img = random_image(c.h, c.w, c.h + c.w);
      EvalTransform t;
      t.resize = c.resize;
      t.crop = c.crop;
      const Image resized = resize_shorter(img, c.resize);
      EXPECT_TRUE(same_image(ref::resize(img, resized.height, resized.width), resized, "resize_shorter"));
      std::vector<float> expected(3 * c.crop * c.crop), got(expected.size());
      ref::to_chw_normalized(ref::center_crop(resized, c.crop, c.crop), t.normalize.mean, t.normalize.std,
                             expected.data());
      t(img, SampleKey{}, got.data());
      EXPECT_TRUE(same_floats(expected, got, shape(c.h, c.w) + " resize " + std::to_string(c.resize)));
    }
  });
}

}  // namespace
}  // namespace lowbit::data
