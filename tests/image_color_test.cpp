// The vector colour path (data/image_color.cpp) against the scalar references, on every SIMD
// target compiled in: equal bytes for each adjustment, for ColorJitter in all 24 orders with
// every subset of adjustments, for the hue shift on every (h, s, v) PIL can produce, and equal
// f32 bits for the pipelines and to_chw_normalized (flipped or not, odd and wide rows). And
// the float forms image_color.cpp uses for PIL's double expressions and for its divisions, on every input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/image_transforms.h"
#include "tests/image_test_util.h"

namespace lowbit::data {
namespace {

using test::for_each_simd_target;
using test::random_image;
using test::same_floats;
using test::same_image;

// ---- the float forms of PIL's double expressions (image_color.cpp, shift_hue) -------------

int clip8(int v) { return v <= 0 ? 0 : (v < 256 ? v : 255); }

// Convert.c rgb2hsv_row's H and S as PIL computes them (float and double), for max != min.
std::pair<int, int> pil_hs(int r, int g, int b) {
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const float cr = static_cast<float>(maxc - minc), s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr,
              bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc)
    h = bc - gc;
  else if (g == maxc)
    h = static_cast<float>(2.0 + rc - bc);
  else
    h = static_cast<float>(4.0 + gc - rc);
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  return {clip8(static_cast<int>(h * 255.0)), clip8(static_cast<int>(s * 255.0))};
}

// The same in float only, as shift_hue: h = base +- q from the middle channel, then h / 6
// (+ 1 when negative) and s * 255 as float products.
std::pair<int, int> float_hs(int r, int g, int b) {
  const float R = static_cast<float>(r), G = static_cast<float>(g), B = static_cast<float>(b);
  const float maxc = std::max(R, std::max(G, B)), minc = std::min(R, std::min(G, B)), cr = maxc - minc;
  const bool r_max = R == maxc, g_max = G == maxc, b_min = B == minc, r_min = R == minc;
  const float mid = r_max ? (b_min ? G : B) : (g_max ? (b_min ? R : B) : (r_min ? G : R));
  const float q = (maxc - mid) / cr;
  const float base = r_max ? (b_min ? 1.0f : -1.0f) : (g_max ? (b_min ? 1.0f : 3.0f) : (r_min ? 3.0f : 5.0f));
  const bool minus = r_max ? b_min : (g_max ? !b_min : !r_min);
  float h6 = (base + (minus ? -q : q)) / 6.0f;
  if (h6 < 0) h6 += 1.0f;
  return {static_cast<int>(std::floor(h6 * 255.0f)), static_cast<int>(std::floor(cr / maxc * 255.0f))};
}

// Convert.c hsv2rgb for s > 0, as PIL (p, q, t: C round() of double expressions), and in float.
std::array<int, 3> pil_rgb(int h, int s, int v) {
  const int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  const float f = static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i);
  const float fs = static_cast<float>(s) / 255.0;
  const int p = clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs))));
  const int q = clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * f))));
  const int t = clip8(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * (1.0 - f)))));
  const std::array<int, 3> table[6] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return table[i % 6];
}

// image_color.cpp's div255: x / 255.0f for an integer x in 0..255 by two products and a sum.
float div255(float x) { return x * (257.0f / 65536.0f) + x * ((1.0f / 255.0f) / 65536.0f); }

// As shift_hue: the sector clamped to 5 (h = 255: sector 5 with f = 1 for PIL's 6 with f = 0),
// the divisions by 255 as div255, and no special case for s = 0.
std::array<int, 3> float_rgb(int h, int s, int v) {
  const float hf = static_cast<float>(h), V = static_cast<float>(v);
  const float i = std::min(std::floor(hf * (6.0f / 255.0f)), 5.0f);
  const float f = div255(hf * 6.0f - i * 255.0f), fs = div255(static_cast<float>(s));
  const int p = static_cast<int>(std::floor(V * (1.0f - fs) + 0.5f));
  const int q = static_cast<int>(std::floor(V * (1.0f - fs * f) + 0.5f));
  const int t = static_cast<int>(std::floor(V * (1.0f - fs * (1.0f - f)) + 0.5f));
  const std::array<int, 3> table[6] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return table[static_cast<int>(i)];
}

// div255 is the division, bit for bit, for every x it gets (image_color.cpp argues why).
TEST(ImageColor, DivisionsWithoutDividingAreExact) {
  for (int x = 0; x < 256; ++x) {
    const float xf = static_cast<float>(x), quotient = xf / 255.0f, product = div255(xf);
    EXPECT_EQ(std::bit_cast<uint32_t>(quotient), std::bit_cast<uint32_t>(product)) << "x = " << x;
  }
}

// The blend without its clamp for 0 <= alpha <= 1 (image_color.cpp's blend_within) gives
// pil_blend's byte for every pair of bytes, at the ends of that range and in between.
TEST(ImageColor, UnclampedBlendEqualsPilForAlphaUpToOne) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> alphas = {0.0f, 1.0f, 0.5f, std::nextafter(1.0f, 0.0f), 0.6f, 1e-30f};
  for (int k = 0; k < 20; ++k) alphas.push_back(unit(rng));
  int64_t bad = 0;
  for (const float alpha : alphas)
    for (int d = 0; d < 256; ++d)
      for (int v = 0; v < 256; ++v) {
        const float D = static_cast<float>(d);
        const float t = std::floor(D + alpha * (static_cast<float>(v) - D));
        if (t < 0.0f || t > 255.0f || static_cast<int>(t) != pil_blend(d, v, alpha)) ++bad;
      }
  EXPECT_EQ(bad, 0);
}

TEST(ImageColor, HueInFloatEqualsPilOnEveryInput) {
  int64_t bad = 0;
  for (int r = 0; r < 256; ++r)
    for (int g = 0; g < 256; ++g)
      for (int b = 0; b < 256; ++b) {
        if (std::max(r, std::max(g, b)) == std::min(r, std::min(g, b))) continue;  // grey: S = 0, unchanged
        if (pil_hs(r, g, b) != float_hs(r, g, b) && ++bad <= 5)
          ADD_FAILURE() << "rgb2hsv of (" << r << ", " << g << ", " << b << "): PIL (" << pil_hs(r, g, b).first << ", "
                        << pil_hs(r, g, b).second << "), float (" << float_hs(r, g, b).first << ", "
                        << float_hs(r, g, b).second << ")";
      }
  // hsv2rgb on every (s, v) a pixel can have (s from rgb2hsv of max v, min v - cr, and s = 0
  // for grey pixels, where PIL returns (v, v, v)) and every h.
  for (int v = 0; v < 256; ++v)
    for (int cr = 0; cr <= v; ++cr) {
      const int s = cr == 0 ? 0 : pil_hs(v, v - cr, v - cr).second;
      for (int h = 0; h < 256; ++h) {
        const std::array<int, 3> expected = s == 0 ? std::array<int, 3>{v, v, v} : pil_rgb(h, s, v);
        if (expected != float_rgb(h, s, v) && ++bad <= 5)
          ADD_FAILURE() << "hsv2rgb of (" << h << ", " << s << ", " << v << ") differs";
      }
    }
  EXPECT_EQ(bad, 0);
}

// ---- fast against reference, on every target ---------------------------------------------

// Widths below, at and above a vector and the 256-pixel pieces of the kernel.
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1},   {3, 7},   {9, 31}, {2, 255},
                                                          {1, 256}, {2, 257}, {4, 300}};

Image colour_op(int op, const Image& img, double f, bool reference) {
  if (op == 0) return reference ? ref::adjust_brightness(img, f) : adjust_brightness(img, f);
  if (op == 1) return reference ? ref::adjust_contrast(img, f) : adjust_contrast(img, f);
  if (op == 2) return reference ? ref::adjust_saturation(img, f) : adjust_saturation(img, f);
  return reference ? ref::adjust_hue(img, f) : adjust_hue(img, f);
}

TEST(ImageColor, AdjustmentsEqualReferenceOnEveryTarget) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> factor(0.0, 3.0), hue(-0.5, 0.5);
  for (size_t k = 0; k < kShapes.size(); ++k) {
    const Image img = random_image(kShapes[k].first, kShapes[k].second, k);
    for (int op = 0; op < 4; ++op)
      for (const double f : {op == 3 ? -0.5 : 0.0, op == 3 ? 0.5 : 1.0, op == 3 ? hue(rng) : factor(rng)}) {
        const Image expected = colour_op(op, img, f, true);
        for_each_simd_target([&](const char* target) {
          ASSERT_TRUE(same_image(expected, colour_op(op, img, f, false),
                                 std::string(target) + " op " + std::to_string(op) + " factor " + std::to_string(f)));
        });
      }
  }
}

// All 24 orders, each with all 16 subsets of enabled adjustments, random factors.
TEST(ImageColor, ColorJitterEqualsReferenceInEveryOrderOnEveryTarget) {
  const Image img = random_image(5, 263, 12);  // two pieces per row, the second ragged
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> factor(0.0, 2.0), hue(-0.5, 0.5);
  std::array<int, 4> order = {0, 1, 2, 3};
  do {
    for (int mask = 0; mask < 16; ++mask) {
      ColorJitterDraw draw;
      draw.order = order;
      for (int op = 0; op < 4; ++op)
        if (mask & (1 << op)) draw.factor[op] = op == 3 ? hue(rng) : factor(rng);
      const Image expected = ref::color_jitter(img, draw);
      const std::string what = "order " + std::to_string(order[0]) + std::to_string(order[1]) +
                               std::to_string(order[2]) + std::to_string(order[3]) + " mask " + std::to_string(mask);
      for_each_simd_target([&](const char* target) {
        ASSERT_TRUE(same_image(expected, color_jitter(img, draw), std::string(target) + " " + what));
      });
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

// Every (v, s) of a pixel: the pixels (v, v - cr, v - cr), whose H is 0, shifted by every hue
// shift a factor in [-0.5, 0.5] gives (all but 128), and their green twins (v - cr, v, v - cr),
// H = 85, shifted by 43: hsv2rgb sees every (h, s, v).
TEST(ImageColor, HueEqualsReferenceOnEveryHsvInput) {
  Image red(255, 256), green(255, 256);
  for (int v = 1; v < 256; ++v)
    for (int cr = 0; cr <= v; ++cr)
      for (int c = 0; c < 3; ++c) {
        red.at(v - 1, cr, c) = static_cast<uint8_t>(c == 0 ? v : v - cr);
        green.at(v - 1, cr, c) = static_cast<uint8_t>(c == 1 ? v : v - cr);
      }
  for (int shift = 0; shift < 256; ++shift) {
    if (shift == 128) continue;  // np.uint8(f * 255) = 128 needs f < -0.5
    const double f = shift < 128 ? (shift + 0.5) / 255.0 : -(256 - shift + 0.5) / 255.0;
    for (const Image* img : {&red, &green}) {
      if (img == &green && shift != 43) continue;
      const Image expected = ref::adjust_hue(*img, f);
      for_each_simd_target([&](const char* target) {
        ASSERT_TRUE(same_image(expected, adjust_hue(*img, f), std::string(target) + " shift " + std::to_string(shift)));
      });
    }
  }
}

TEST(ImageColor, ToChwNormalizedEqualsReferenceOnEveryTarget) {
  const Normalize stats = imagenet_normalize();
  for (size_t k = 0; k < kShapes.size(); ++k) {
    const Image img = random_image(kShapes[k].first, kShapes[k].second, 40 + k);
    std::vector<float> expected(3 * img.height * img.width), got(expected.size());
    ref::to_chw_normalized(img, stats.mean, stats.std, expected.data());
    for_each_simd_target([&](const char* target) {
      to_chw_normalized(img, stats.mean, stats.std, got.data());
      ASSERT_TRUE(same_floats(expected, got, std::string(target) + " width " + std::to_string(img.width)));
    });
  }
}

// RandomResizedCrop -> flip -> ColorJitter -> ToTensor + Normalize with the transform's own
// draws, one reference step at a time.
std::vector<float> train_reference(const TrainTransform& t, const Image& img, const SampleKey& key) {
  const TrainDraw d = t.draw(img.height, img.width, key);
  Image x = ref::resize(ref::crop(img, d.box.top, d.box.left, d.box.height, d.box.width), t.size, t.size);
  if (d.flip) x = ref::horizontal_flip(x);
  x = ref::color_jitter(x, d.jitter);
  std::vector<float> out(3 * t.size * t.size);
  ref::to_chw_normalized(x, t.normalize.mean, t.normalize.std, out.data());
  return out;
}

TEST(ImageColor, TrainTransformEqualsReferenceOnEveryTarget) {
  const std::vector<Image> images = {random_image(375, 500, 1), random_image(47, 29, 2), random_image(1, 1, 3)};
  for (const int64_t size : {int64_t{224}, int64_t{37}, int64_t{1}})
    for (const Image& img : images)
      for (int64_t index = 0; index < 4; ++index) {
        TrainTransform t;
        t.size = size;
        t.jitter = {0.4, 0.4, 0.4, 0.1};
        if (index == 3) t.jitter = {0.9, 0.0, 1.5, 0.5};
        const SampleKey key{7, index, index};
        const std::vector<float> expected = train_reference(t, img, key);
        std::vector<float> got(expected.size());
        for_each_simd_target([&](const char* target) {
          t(img, key, got.data());
          ASSERT_TRUE(same_floats(expected, got,
                                  std::string(target) + " " + std::to_string(img.height) + "x" +
                                      std::to_string(img.width) + " size " + std::to_string(size) + " index " +
                                      std::to_string(index)));
        });
      }
}

}  // namespace
}  // namespace lowbit::data
