// Per-image transforms on u8 or f32 images [C, H, W] on the CPU: the reference semantics
// of the data pipeline, written as plain loops. The loader (data/loader.h) fuses crop,
// flip and normalize into one pass over each image and is tested against these, bit for bit.
//
// The pipeline order is torchvision's usual training recipe
//   RandomCrop(size = (H, W), padding = p) -> RandomHorizontalFlip() -> ToTensor() -> Normalize(mean, std)
// i.e. crop and flip move raw pixels (the padded border holds the value 0), then
// normalize maps each pixel to f32. Random decisions are not made here: the caller passes
// the crop offset and the flip state it drew (the loader draws them from Philox).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::data {

// Per-channel statistics of x / 255 (pixel values on the [0, 1] scale).
struct Normalize {
  std::vector<double> mean, std;
};

// Training-time augmentation. crop_padding = p pads each side by p zeros and crops H x W
// at a random offset (top, left) in [0, 2p]^2; p = 0 means no crop.
struct Augment {
  int64_t crop_padding = 0;
  bool horizontal_flip = false;  // flip with probability 1/2
};

// normalize: f32 [C, H, W] from u8 or f32 [C, H, W] (f32 input on the 0..255 scale).
// Each step is one IEEE f32 operation, in this order (the order of torchvision's
// ToTensor followed by Normalize with f32 mean/std tensors):
//   out[c,y,x] = (float(x) / 255.0f - float(mean[c])) / float(std[c])
// so the result is fully specified and the same on every machine (the build forbids
// FMA contraction).
Tensor normalize(const Tensor& image, const Normalize& stats);

// The single-pixel form of normalize, shared with the loader's lookup table so both
// compute the same bits.
inline float normalize_pixel(float x, float mean, float std) { return (x / 255.0f - mean) / std; }

// Zero padding: [C, H + 2p, W + 2p], out[c, y + p, x + p] = in[c, y, x], 0 elsewhere.
Tensor pad(const Tensor& image, int64_t padding);

// The window [top, top + height) x [left, left + width) of every channel.
Tensor crop(const Tensor& image, int64_t top, int64_t left, int64_t height, int64_t width);

// torchvision RandomCrop((H, W), padding = p) once it has drawn its offset (top, left),
// both in [0, 2p]: crop(pad(image, p), top, left, H, W). Output pixel (y, x) is input
// pixel (y + top - p, x + left - p) when that lies inside the image, else 0.
Tensor crop_padded(const Tensor& image, int64_t padding, int64_t top, int64_t left);

// out[c, y, x] = in[c, y, W - 1 - x].
Tensor horizontal_flip(const Tensor& image);

}  // namespace lowbit::data
