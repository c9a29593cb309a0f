// Image files through Debian's libstb-dev (stb_image v2.27, stb_image_write); see image.h.
#include "data/image.h"

// stb's implementations, compiled here (static: nothing leaks into other objects) with
// stb_image's allocations going to the per-thread block cache (pixel_memory.h).
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MALLOC(bytes) ::lowbit::data::pixel_alloc(bytes)
#define STBI_REALLOC(p, bytes) ::lowbit::data::pixel_realloc(p, bytes)
#define STBI_FREE(p) ::lowbit::data::pixel_free(p)
#include <stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/image_kernels.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace lowbit::data {

namespace {

// Images larger than this many pixels are refused before decoding: a corrupt or hostile
// header must not make us allocate gigabytes. 2^28 pixels (768 MiB as RGB) is far above
// any real photograph (ImageNet's largest have tens of megapixels).
constexpr int64_t kMaxPixels = int64_t(1) << 28;

bool starts_with(const uint8_t* b, size_t n, const char* magic, size_t m) {
  return n >= m && std::memcmp(b, magic, m) == 0;
}

// What the first bytes say the file is, for error messages ("" when they say nothing).
std::string sniff_format(const uint8_t* b, size_t n) {
  if (starts_with(b, n, "\xFF\xD8\xFF", 3)) return "JPEG";
  if (starts_with(b, n, "\x89PNG\r\n\x1A\n", 8)) return "PNG";
  if (starts_with(b, n, "GIF8", 4)) return "GIF";
  if (starts_with(b, n, "BM", 2)) return "BMP";
  if (starts_with(b, n, "II*\0", 4) || starts_with(b, n, "MM\0*", 4)) return "TIFF";
  if (n >= 12 && starts_with(b, n, "RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
  return "";
}

std::string first_bytes(const uint8_t* b, size_t n) {
  std::string out;
  char hex[4];
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) {
    std::snprintf(hex, sizeof hex, "%s%02x", i ? " " : "", b[i]);
    out += hex;
  }
  return out;
}

bool is_standalone_marker(uint8_t m) { return (m >= 0xD0 && m <= 0xD7) || m == 0x01; }  // RSTn, TEM

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

void check_writable(const std::string& path, const Image& image, const char* what) {
  LOWBIT_CHECK(image.height > 0 && image.width > 0 && image.height <= (1 << 16) && image.width <= (1 << 16),
               what, ": ", path, ": cannot write a ", image.height, "x", image.width, " image");
  LOWBIT_CHECK(image.pixels.size() == static_cast<size_t>(image.height * image.width * Image::channels), what, ": ",
               path, ": the image holds ", image.pixels.size(), " bytes, expected ", image.height, "x", image.width,
               "x3");
}

}  // namespace

Image::Image(int64_t h, int64_t w) : height(h), width(w) {
  LOWBIT_CHECK(h >= 0 && w >= 0, "Image: negative size ", h, "x", w);
  pixels = PixelBuffer(static_cast<size_t>(h * w * channels), 0);
}

bool jpeg_is_complete(const uint8_t* b, size_t n) {
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  size_t i = 2;
  while (i < n) {
    if (b[i] != 0xFF) {  // extraneous bytes before a marker (libjpeg warns and skips them)
      const void* ff = std::memchr(b + i, 0xFF, n - i);
      if (!ff) return false;
      i = static_cast<size_t>(static_cast<const uint8_t*>(ff) - b);
    }
    while (i < n && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return false;
    const uint8_t marker = b[i++];
    if (marker == 0xD9) return true;  // EOI
    if (is_standalone_marker(marker) || marker == 0x00) continue;
    if (i + 2 > n) return false;
    const size_t length = (size_t(b[i]) << 8) | b[i + 1];  // includes its own two bytes
    if (length < 2) return false;
    i += length;
    if (marker != 0xDA) continue;
    // Start of scan: entropy-coded data up to the next marker. Inside it FF is followed by
    // 00 (a stuffed FF byte), D0-D7 (a restart marker) or more FF (fill).
    while (i < n) {
      const void* ff = std::memchr(b + i, 0xFF, n - i);
      if (!ff) return false;
      i = static_cast<size_t>(static_cast<const uint8_t*>(ff) - b);
      size_t j = i + 1;
      while (j < n && b[j] == 0xFF) ++j;
      if (j >= n) return false;
      if (b[j] != 0x00 && !is_standalone_marker(b[j])) {
        i = j - 1;  // the FF before the marker byte
        break;
      }
      i = j + 1;
    }
  }
  return false;
}

Image decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  LOWBIT_CHECK(size > 0, "image: ", name, ": empty file (0 bytes)");
  const std::string format = sniff_format(bytes, size);
  LOWBIT_CHECK(size <= static_cast<size_t>(INT32_MAX), "image: ", name, ": ", size, " bytes is too large to decode");
  const int n = static_cast<int>(size);
  int w = 0, h = 0, components = 0;
  if (!stbi_info_from_memory(bytes, n, &w, &h, &components)) {
    if (format == "TIFF" || format == "WebP")
      throw_error(str_cat("image: ", name, ": ", format, " data, which stb_image cannot decode"));
    if (format.empty())
      throw_error(str_cat("image: ", name, ": not an image stb_image can read (", size, " bytes, starting ",
                          first_bytes(bytes, size), ")"));
    throw_error(str_cat("image: ", name, ": corrupt or unsupported ", format, " (", stbi_failure_reason(), ")"));
  }
  LOWBIT_CHECK(w > 0 && h > 0 && int64_t(w) * h <= kMaxPixels, "image: ", name, ": implausible size ", w, "x", h);
  if (format == "JPEG")
    LOWBIT_CHECK(jpeg_is_complete(bytes, size), "image: ", name, ": truncated JPEG (", size,
                 " bytes, no end-of-image marker)");
  // A colour JPEG is decoded to RGBA: stb's YCbCr -> RGB conversion is vectorised only
  // for 4 bytes per pixel (image_rgba.cpp). The RGB bytes are the same either way.
  const int decoded_channels = format == "JPEG" && components == 3 ? 4 : Image::channels;
  uint8_t* pixels = stbi_load_from_memory(bytes, n, &w, &h, &components, decoded_channels);
  if (!pixels)
    throw_error(str_cat("image: ", name, ": cannot decode ", format.empty() ? "the data" : format, " (",
                        stbi_failure_reason(), ")"));
  Image image;
  image.height = h;
  image.width = w;
  image.pixels.resize_uninitialized(static_cast<size_t>(h) * w * Image::channels);
  if (decoded_channels == 4)
    detail::rgba_to_rgb(pixels, int64_t{h} * w, image.pixels.data());
  else
    std::memcpy(image.pixels.data(), pixels, image.pixels.size());
  stbi_image_free(pixels);
  return image;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  LOWBIT_CHECK(std::filesystem::is_regular_file(path, ec), "image: ", path,
               std::filesystem::exists(path, ec) ? ": not a regular file" : ": no such file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  LOWBIT_CHECK(in.good(), "image: ", path, ": cannot open (", std::strerror(errno), ")");
  const std::streamsize size = in.tellg();
  std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamsize>(size, 0)));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  LOWBIT_CHECK(in.good() || size == 0, "image: ", path, ": read failed after ", in.gcount(), " of ", size, " bytes");
  return bytes;
}

Image read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path);
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  check_writable(path, image, "write_jpeg");
  LOWBIT_CHECK(quality >= 1 && quality <= 100, "write_jpeg: ", path, ": quality must be in 1..100, got ", quality);
  std::string bytes;
  LOWBIT_CHECK(stbi_write_jpg_to_func(append_bytes, &bytes, static_cast<int>(image.width),
                                      static_cast<int>(image.height), Image::channels, image.pixels.data(), quality),
               "write_jpeg: ", path, ": stb_image_write failed");
  write_file_atomic(path, bytes);
}

void write_png(const std::string& path, const Image& image) {
  check_writable(path, image, "write_png");
  std::string bytes;
  LOWBIT_CHECK(stbi_write_png_to_func(append_bytes, &bytes, static_cast<int>(image.width),
                                      static_cast<int>(image.height), Image::channels, image.pixels.data(),
                                      static_cast<int>(image.width * Image::channels)),
               "write_png: ", path, ": stb_image_write failed");
  write_file_atomic(path, bytes);
}

}  // namespace lowbit::data
