// Helpers shared by the image transform suites (image_transforms_test, image_resample_test,
// image_color_test): deterministic test images, byte / bit comparisons that print the first
// mismatches, and a loop over every SIMD target compiled into the library.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_transforms.h"

namespace lowbit::data::test {

// Noise (seed) over smooth waves: real-image-like but with every byte value present.
inline Image random_image(int64_t h, int64_t w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(-40, 40);
  Image img(h, w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const double wave = 128 + 100 * std::sin(0.05 * x * (c + 1) + 0.07 * y);
        img.at(y, x, c) = static_cast<uint8_t>(std::clamp<int>(static_cast<int>(wave) + noise(rng), 0, 255));
      }
  return img;
}

// Equal sizes and bytes; on failure the count, the largest difference and the first pixels.
inline ::testing::AssertionResult same_image(const Image& expected, const Image& actual, const std::string& what) {
  if (expected.height != actual.height || expected.width != actual.width)
    return ::testing::AssertionFailure() << what << ": expected " << expected.height << "x" << expected.width
                                         << ", got " << actual.height << "x" << actual.width;
  int64_t bad = 0;
  int worst = 0;
  std::ostringstream first;
  for (size_t i = 0; i < expected.pixels.size(); ++i) {
    const int d = std::abs(int(expected.pixels[i]) - int(actual.pixels[i]));
    if (d == 0) continue;
    if (bad < 5)
      first << "\n  (y " << i / 3 / expected.width << ", x " << i / 3 % expected.width << ", c " << i % 3
            << "): expected " << int(expected.pixels[i]) << " got " << int(actual.pixels[i]);
    worst = std::max(worst, d);
    ++bad;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << expected.pixels.size()
                                       << " bytes differ (largest difference " << worst << ")" << first.str();
}

// Equal sizes and bits; on failure the first differing index.
inline ::testing::AssertionResult same_floats(const std::vector<float>& expected, const std::vector<float>& actual,
                                              const std::string& what) {
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure() << what << ": " << expected.size() << " vs " << actual.size() << " values";
  for (size_t i = 0; i < expected.size(); ++i)
    if (std::memcmp(&expected[i], &actual[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure()
             << what << ": first differing bits at [" << i << "]: expected " << expected[i] << " got " << actual[i];
  return ::testing::AssertionSuccess();
}

// Runs fn once per SIMD target compiled into the library and supported by this CPU (e.g.
// AVX2, SSE4, SSSE3, scalar), so every vector path is checked, not only the best one.
template <typename Fn>
void for_each_simd_target(Fn&& fn) {
  auto use_targets = [](int64_t targets) {
    hwy::SetSupportedTargetsForTest(targets);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());  // re-picks what HWY_DYNAMIC_DISPATCH calls
  };
  struct Reset {
    decltype(use_targets) use;
    ~Reset() { use(0); }
  } reset{use_targets};
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    use_targets(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn(hwy::TargetName(target));
  }
}

// A box of random size and position inside `img` (each side at least 1 pixel).
inline CropBox random_crop_box(const Image& img, std::mt19937_64& rng) {
  CropBox box;
  box.height = std::uniform_int_distribution<int64_t>(1, img.height)(rng);
  box.width = std::uniform_int_distribution<int64_t>(1, img.width)(rng);
  box.top = std::uniform_int_distribution<int64_t>(0, img.height - box.height)(rng);
  box.left = std::uniform_int_distribution<int64_t>(0, img.width - box.width)(rng);
  return box;
}

}  // namespace lowbit::data::test
