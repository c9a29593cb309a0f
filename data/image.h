// Decoded images and their files: stb_image for reading (JPEG baseline and progressive,
// PNG, BMP, GIF, PNM, ...), stb_image_write for writing JPEG and PNG. Both are Debian's
// libstb-dev headers, compiled into image.cpp so that stb allocates through
// pixel_memory.h (a loader worker then decodes without page faults, see there).
//
// An Image is 8-bit RGB, height x width x 3, interleaved (HWC), the layout decoders produce
// and torchvision's PIL path works in. Every decoded image is RGB: grayscale is expanded
// (R = G = B), alpha is dropped (not blended: torchvision's `.convert("RGB")` drops it too),
// 16-bit PNGs are scaled to 8 bits by stb.
//
// Decoding never crashes and never returns a silently wrong image: an empty file, a file
// that is not an image, a format stb does not read (TIFF, WebP, arithmetic-coded or 12-bit
// JPEG), corrupt data and a truncated JPEG all raise lowbit::Error naming the file and the
// reason. A truncated JPEG needs a check of our own: stb_image pads a short entropy-coded
// stream with zeros and returns an image whose lower part is flat grey, so decode_image
// first walks the JPEG's marker segments and requires the end-of-image marker
// (jpeg_is_complete). The format is recognised from the bytes, never from the file name:
// ImageNet's train set has a PNG named .JPEG, and it decodes as the PNG it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/pixel_memory.h"

namespace lowbit::data {

struct Image {
  int64_t height = 0, width = 0;
  PixelBuffer pixels;  // height * width * 3: pixel (y, x) channel c at (y * width + x) * 3 + c

  static constexpr int64_t channels = 3;
  Image() = default;
  Image(int64_t h, int64_t w);  // zero-filled
  uint8_t* row(int64_t y) { return pixels.data() + y * width * channels; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * channels; }
  uint8_t& at(int64_t y, int64_t x, int64_t c) { return pixels[(y * width + x) * channels + c]; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const { return pixels[(y * width + x) * channels + c]; }
};

// The image in `bytes`; `name` (usually the path) only appears in error messages.
Image decode_image(const uint8_t* bytes, size_t size, const std::string& name);
// The whole file, or an error naming it (missing, unreadable).
std::vector<uint8_t> read_file_bytes(const std::string& path);
// decode_image(read_file_bytes(path), path).
Image read_image(const std::string& path);

// Whether a JPEG byte stream (starting with the SOI marker FF D8) runs to its end-of-image
// marker: the marker segments are walked by their lengths, the entropy-coded data after
// each start-of-scan is skipped up to the next marker (FF followed by neither 00, a byte
// stuffing, nor D0-D7, a restart marker). A stream that ends before FF D9 is truncated.
bool jpeg_is_complete(const uint8_t* bytes, size_t size);

// Files written by stb_image_write. Both go through a temporary file and a rename, so a
// reader never sees half an image. quality: 1..100.
void write_jpeg(const std::string& path, const Image& image, int quality = 90);
void write_png(const std::string& path, const Image& image);

}  // namespace lowbit::data
