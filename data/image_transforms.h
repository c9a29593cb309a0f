// Image transforms of the ImageNet pipeline, on decoded 8-bit RGB images (data/image.h),
// with torchvision's PIL semantics: what `transforms.Resize/CenterCrop/RandomResizedCrop/
// RandomHorizontalFlip/ColorJitter/ToTensor/Normalize` do to a PIL image, reproduced
// pixel for pixel from the C code of Pillow 9.4 (libImaging) that torchvision calls.
//
// Agreement with PIL: EXACT, byte for byte, tolerance 0. tests/image_transforms_test.cpp
// compares with PIL outputs made by tests/golden/make_image_transforms_golden.py (Pillow 9.4;
// torchvision's size and offset rules reproduced there from its source): resize,
// resize_shorter and center_crop (padding included) on the fixture images at up-, down-, odd
// and 1-pixel sizes; brightness, contrast, saturation and hue on the fixtures and on all 2^24
// RGB colours (a checksum per factor). crop and flip only move bytes. PIL's resampling is
// integer arithmetic on double coefficients, its colour ops float/double expressions; we
// evaluate the same expressions in the same types (the build forbids FMA contraction; PIL's
// x86-64 build has no FMA either), except that the vector hue shift uses float forms of a
// few double expressions, each giving PIL's byte on every input (tests/image_color_test.cpp
// enumerates them). The fast code (image_resample.cpp, image_color.cpp) gives the same bytes
// on every SIMD target.
//
// Random stream (DESIGN.md contract 2). Every random decision of a sample comes from
// Philox4x32-10 (tensor/kernels/philox.h) keyed by SampleKey::seed, with
//   counter_lo = index,  counter_hi = (2 << 60) | ((epoch + 1) << 16) | block
// where block = 0, 1, 2, ... is consumed in order by Draws, 4 words of 32 bits per block.
// The tag 2 in the top bits keeps these counters apart from the tensor RNG's (counter_hi = 0)
// and epoch + 1 keeps them apart from a sample's draws in other epochs. So a sample's
// augmentation depends only on (seed, epoch, index), never on the worker or on timing.
//   uniform():   (u + 0.5) / 2^32 for the next word u, in (0, 1), never 0 or 1
//   integer(n):  (u * n) >> 32, in [0, n) (multiply-shift; bias < n / 2^32)
// TrainTransform draws, in this order (a disabled stage draws nothing):
//   1. RandomResizedCrop: per attempt (at most 10) two uniforms, area fraction then log ratio;
//      when an attempt fits, integer(H - h + 1) for the top then integer(W - w + 1) for the left;
//   2. RandomHorizontalFlip (flip = true): one uniform, flip when < 0.5 (torch.rand(1) < p);
//   3. ColorJitter (any factor > 0): the order, a Fisher-Yates shuffle of (0 brightness,
//      1 contrast, 2 saturation, 3 hue) with integer(4), integer(3), integer(2) for positions
//      3, 2, 1; then one uniform per enabled factor, in the order brightness, contrast,
//      saturation, hue (torchvision's get_params order; a factor of 0 is torchvision's None).
// The numbers differ from torchvision's (torch's own generator); the algorithms are the same.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "data/image.h"
#include "data/image_loader.h"
#include "data/transforms.h"
#include "tensor/error.h"
#include "tensor/kernels/philox.h"

namespace lowbit::data {

// ---- random stream ----------------------------------------------------------------

class Draws {
 public:
  // epoch in [0, 2^44 - 1), at most 2^16 blocks (2^18 words) per sample.
  explicit Draws(const SampleKey& key)
      : seed_(key.seed),
        counter_lo_(static_cast<uint64_t>(key.index)),
        counter_hi_((uint64_t{2} << 60) | (static_cast<uint64_t>(key.epoch + 1) << 16)) {
    LOWBIT_CHECK(key.epoch >= 0 && key.epoch + 1 < (int64_t{1} << 44), "Draws: epoch must be in [0, 2^44 - 1), got ",
                 key.epoch);
    LOWBIT_CHECK(key.index >= 0, "Draws: sample index must be >= 0, got ", key.index);
  }
  uint32_t word() {  // the next 32 random bits
    if (used_ == 4) {
      LOWBIT_CHECK(block_ < (uint64_t{1} << 16), "Draws: a sample used all 65536 Philox blocks of its stream");
      const Philox4x32 r = philox4x32_10(counter_lo_, counter_hi_ | block_, seed_);
      for (int i = 0; i < 4; ++i) words_[i] = r.x[i];
      ++block_;
      used_ = 0;
    }
    return words_[used_++];
  }
  double uniform() { return (static_cast<double>(word()) + 0.5) * 0x1p-32; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t integer(int64_t n) {  // (word * n) >> 32, in [0, n) for n in [1, 2^32]
    LOWBIT_CHECK(n >= 1 && n <= (int64_t{1} << 32), "Draws: integer(n) needs n in [1, 2^32], got ", n);
    return static_cast<int64_t>((static_cast<uint64_t>(word()) * static_cast<uint64_t>(n)) >> 32);
  }

 private:
  uint64_t seed_, counter_lo_, counter_hi_;  // counter_hi_ without the block number
  uint64_t block_ = 0;                       // the next block to generate
  uint32_t words_[4] = {0, 0, 0, 0};
  int used_ = 4;  // words of words_ handed out
};

// ---- geometry (torchvision.transforms.functional on PIL images) -----------------------

// PIL Image.resize((out_w, out_h), Image.BILINEAR), libImaging/Resample.c. Per axis, for an
// input of n samples and an output of m, scale = n / m, filterscale = max(scale, 1) and
// support = 1 * filterscale (the triangle widens when downscaling: antialiasing). Output
// sample i is centred at c = (i + 0.5) * scale, reads inputs [int(c - support + 0.5),
// int(c + support + 0.5)) clipped to [0, n), with weights tri((j - c + 0.5) * (1 / filterscale)),
// tri(t) = max(0, 1 - |t|), divided by their sum (in double), then stored as Q22 fixed point:
// int(w * 2^22 + 0.5). A pass computes (2^21 + sum_j w_j * pixel_j) >> 22 in int32, clipped
// to 0..255. The horizontal pass runs first and its result is rounded to uint8 before the
// vertical pass. An axis whose size does not change is copied (PIL skips that pass; its
// coefficients would be the identity anyway). Exact match with PIL.
Image resize(const Image& image, int64_t out_h, int64_t out_w);

// torchvision Resize(size) with an int: the shorter side becomes `size`, the longer
// int(size * long / short) (Python truncation of the true quotient); the image is returned
// unchanged when its shorter side already equals `size`.
Image resize_shorter(const Image& image, int64_t size);

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// PIL img.crop((left, top, left + w, top + h)), the box inside the image.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);

// resize(crop(image, box), out_h, out_w) without materialising the crop (torchvision's
// F.resized_crop, what RandomResizedCrop applies). Equal to the composition bit for bit.
Image resized_crop(const Image& image, const CropBox& box, int64_t out_h, int64_t out_w);

// torchvision CenterCrop((h, w)). Per axis with image size n and crop size c: if c > n the
// image is first zero-padded by (c - n) // 2 before and (c - n + 1) // 2 after (the odd pixel
// goes after: torchvision's padding_ltrb), so the crop is the padded image; otherwise the
// crop starts at int(round((n - c) / 2.0)) with Python's round, half to even
// ((n - c) = 1 -> 0, 3 -> 2, 5 -> 2). The axes are independent.
Image center_crop(const Image& image, int64_t height, int64_t width);

// out(y, x) = in(y, W - 1 - x) (PIL Image.FLIP_LEFT_RIGHT).
Image horizontal_flip(const Image& image);

// torchvision RandomResizedCrop.get_params on an H x W image. Up to 10 attempts:
//   area = H * W * uniform(scale_min, scale_max),
//   ratio = exp(uniform(log(ratio_min), log(ratio_max))),
//   w = int(round(sqrt(area * ratio))), h = int(round(sqrt(area / ratio))) (half to even);
//   accepted when 0 < w <= W and 0 < h <= H: top = integer(H - h + 1), left = integer(W - w + 1).
// Fallback (no attempt fits), a central crop clamped to the ratio range:
//   W / H < ratio_min: w = W, h = int(round(W / ratio_min));
//   W / H > ratio_max: h = H, w = int(round(H * ratio_max)); else the whole image;
//   top = (H - h) // 2, left = (W - w) // 2.
// One departure: torchvision computes in float32 tensors (log_ratio, the uniforms); we use
// double. And a fallback side that rounds to 0 (only for ratio bounds > 2 or < 1/2 on an
// image of a few pixels) becomes 1 instead of an empty crop.
CropBox random_resized_crop_box(int64_t height, int64_t width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, Draws& draws);

// ---- colour (torchvision F.adjust_* on PIL images = PIL ImageEnhance / HSV) -------------

// PIL's RGB -> L (libImaging/Convert.c rgb2l, ITU-R 601-2 luma in 16-bit fixed point):
// L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, i.e. 0.299 R + 0.587 G + 0.114 B rounded.
inline uint8_t pil_luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

// PIL Image.blend(degenerate, image, factor) for uint8 bands (libImaging/Blend.c): alpha is
// the factor rounded to float, the value is computed in float and truncated toward zero,
// clipped to 0..255. Truncated, not rounded: blend(0, 3, 0.5) is 1.5 -> 1.
inline uint8_t pil_blend(int degenerate, int value, float alpha) {
  const float t = static_cast<float>(degenerate) + alpha * static_cast<float>(value - degenerate);
  // Blend.c: t <= 0 -> 0, t >= 255 -> 255, else (UINT8)t; the same as truncating t clamped
  // to [0, 255], which vectorises (min, max, convert).
  return static_cast<uint8_t>(std::min(std::max(t, 0.0f), 255.0f));
}

// Factors: brightness, contrast and saturation finite and >= 0 (1 = unchanged); hue in
// [-0.5, 0.5]. Anything else raises lowbit::Error naming the op and the value.
// ImageEnhance.Brightness: blend with black.
Image adjust_brightness(const Image& image, double factor);
// ImageEnhance.Contrast: blend with a constant grey, the mean of the L image rounded as
// PIL's ImageEnhance does: int(sum(L) / count + 0.5) (the division in double, as
// ImageStat's Python floats).
Image adjust_contrast(const Image& image, double factor);
// ImageEnhance.Color: blend with the L image expanded to RGB.
Image adjust_saturation(const Image& image, double factor);
// torchvision F_pil.adjust_hue: convert to PIL HSV (Convert.c rgb2hsv_row: h and s in
// float/double then truncated to 0..255), add np.uint8(hue_factor * 255) to H with uint8
// wrap-around (the shift is truncated toward zero, then taken mod 256: -0.3 -> -76 -> 180),
// convert back (Convert.c hsv2rgb). hue_factor in [-0.5, 0.5]. Not the identity at 0: the
// HSV round trip itself loses precision, as in torchvision.
Image adjust_hue(const Image& image, double hue_factor);

// torchvision ColorJitter(brightness, contrast, saturation, hue) with single numbers: the
// brightness/contrast/saturation factors are uniform on [max(0, 1 - b), 1 + b], the hue
// factor on [-hue, hue] (hue <= 0.5); a value of 0 disables that adjustment.
struct ColorJitter {
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
  bool active() const { return brightness > 0 || contrast > 0 || saturation > 0 || hue > 0; }
};

// One draw of ColorJitter: the order of the four adjustments (torchvision's fn_idx) and the
// factor of each, indexed 0 brightness, 1 contrast, 2 saturation, 3 hue; nullopt = disabled.
struct ColorJitterDraw {
  std::array<int, 4> order = {0, 1, 2, 3};
  std::array<std::optional<double>, 4> factor;
};

ColorJitterDraw draw_color_jitter(const ColorJitter& jitter, Draws& draws);
// The enabled adjustments of `draw` in its order.
Image color_jitter(const Image& image, const ColorJitterDraw& draw);

// ---- to tensor ---------------------------------------------------------------------

inline Normalize imagenet_normalize() { return Normalize{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}}; }

// ToTensor + Normalize: out is f32 [3, H, W],
//   out[c, y, x] = normalize_pixel(float(in(y, x, c)), float(mean[c]), float(std[c]))
// (data/transforms.h: (x / 255.0f - mean) / std in f32, the bits the rest of the project uses).
void to_chw_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std, float* out);

// ---- pipelines for the ImageLoader (SampleTransform) ------------------------------------

// The random decisions of one training sample (see the stream layout above).
struct TrainDraw {
  CropBox box;
  bool flip = false;
  ColorJitterDraw jitter;  // all factors nullopt when the jitter is off
};

// RandomResizedCrop(size, scale, ratio) -> RandomHorizontalFlip() -> ColorJitter(...) (when
// any factor > 0) -> ToTensor -> Normalize: writes f32 [3, size, size]. Fused: the resize
// reads the crop box in place, the colour adjustments run on the size x size image (in one
// sweep with the normalising write, two when contrast follows another adjustment) and the
// flip is folded into the normalising write (every adjustment is per pixel except the
// contrast mean, which a flip does not change). Equal bit for bit to the composition
// crop -> resize -> flip -> color_jitter -> to_chw_normalized.
struct TrainTransform {
  int64_t size = 224;
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  bool flip = true;
  ColorJitter jitter{};
  Normalize normalize = imagenet_normalize();

  TrainDraw draw(int64_t height, int64_t width, const SampleKey& key) const;
  void operator()(const Image& image, const SampleKey& key, float* out) const;
};

// Resize(resize) (shorter side) -> CenterCrop(crop) -> ToTensor -> Normalize: writes
// f32 [3, crop, crop]. Fused: only the resized pixels inside the crop are computed. No
// randomness: the key is ignored.
struct EvalTransform {
  int64_t resize = 256, crop = 224;
  Normalize normalize = imagenet_normalize();

  void operator()(const Image& image, const SampleKey& key, float* out) const;
};

// ---- scalar references (data/image_transforms_ref.cpp) -----------------------------------
// Plain loops transcribing the PIL / torchvision code above, one step at a time, with full
// intermediate images (PIL's two resampling passes over every row, a materialised crop, the
// degenerate image of each blend, per-pixel HSV). Only the tests use them, to check the fast
// versions.
namespace ref {
Image resize(const Image& image, int64_t out_h, int64_t out_w);
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);
Image center_crop(const Image& image, int64_t height, int64_t width);
Image horizontal_flip(const Image& image);
Image adjust_brightness(const Image& image, double factor);
Image adjust_contrast(const Image& image, double factor);
Image adjust_saturation(const Image& image, double factor);
Image adjust_hue(const Image& image, double hue_factor);
Image color_jitter(const Image& image, const ColorJitterDraw& draw);
void to_chw_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std, float* out);
}  // namespace ref

}  // namespace lowbit::data
