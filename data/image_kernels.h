// The fast paths behind data/image_transforms.cpp, as plain functions: PIL's resampling
// (data/image_resample.cpp) and the colour adjustments with the normalising write
// (data/image_color.cpp). Both are Highway code with dynamic dispatch on integer or exactly
// specified float arithmetic (PIL's IEEE operations, or float forms of its double ones that
// agree on every input), so every SIMD target and every thread gives the same bytes and bits.
// image_transforms.h states the formulas; the ref:: functions are the plain transcriptions
// they are tested against. The callers have checked the arguments.
#pragma once

#include <cstdint>

#include "data/image.h"
#include "data/image_transforms.h"

namespace lowbit::data::detail {

// Rows [window.top, +height) x columns [window.left, +width) of resize(crop(image, box),
// out_h, out_w). Every output pixel depends only on its own coefficients, so computing a
// window gives the same bytes as computing everything and cropping.
Image resample_window(const Image& image, const CropBox& box, int64_t out_h, int64_t out_w, const CropBox& window);

// rgb[3 i + c] = rgba[4 i + c] for the n pixels (image_rgba.cpp; decode_image's last step).
void rgba_to_rgb(const uint8_t* rgba, int64_t n, uint8_t* rgb);

// Per-channel mean and std as f32, the operands of normalize_pixel.
struct ChannelNormalize {
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
};

// One adjustment of a colour chain with its per-image constant.
struct ColourStep {
  enum Op : int32_t { kBrightness, kContrast, kSaturation, kHue };
  Op op = kBrightness;
  float alpha = 1;        // brightness, contrast, saturation: the blend factor (Image.blend's C float)
  int32_t grey = 0;       // contrast: the grey level it blends with (the mean L)
  int32_t hue_shift = 0;  // hue: np.uint8(hue_factor * 255), 0..255
};

// One sweep of image_color.cpp's kernel over an interleaved RGB image: `count` steps on
// every pixel, then (norm set) the normalised write to out or (dst set) the bytes to dst.
struct ColourPass {
  const ColourStep* steps = nullptr;
  int64_t count = 0;
  int64_t* luma_sum = nullptr;  // when set: += L of every resulting pixel
  uint8_t* dst = nullptr;       // the resulting bytes (may be the source)
  const ChannelNormalize* norm = nullptr;
  bool flip = false;
  float* out = nullptr;  // f32 [3, H, W]
};

// color_jitter(image, draw), in place.
void color_jitter_in_place(Image& image, const ColorJitterDraw& draw);

// to_chw_normalized(image) into out, f32 [3, H, W], flipped (as color_jitter_normalized) when flip.
void write_normalized(const Image& image, const ChannelNormalize& norm, bool flip, float* out);

// to_chw_normalized(color_jitter(image, draw)) into out, f32 [3, H, W]; with flip,
// out[c, y, x] comes from pixel (y, W - 1 - x) (the jitter is per pixel, contrast through a
// global mean, so it commutes with the flip). The image is scratch space: its pixels are
// unspecified afterwards.
void color_jitter_normalized(Image& image, const ColorJitterDraw& draw, const ChannelNormalize& norm, bool flip,
                             float* out);

}  // namespace lowbit::data::detail
