// Image decoding and writing (data/image.h) on the committed fixtures of
// tests/fixtures/images (made by make_image_fixtures.py with PIL): every odd case ImageNet
// has (grayscale, progressive and CMYK JPEGs, a PNG named .JPEG, alpha) decodes to the
// right pixels, and every bad file (truncated, empty, not an image, TIFF) raises an error
// naming the file and the reason.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "data/image.h"
#include "tests/test_util.h"

// stb_image's plain path, compiled here (static) as the reference decode_image must equal.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

namespace lowbit::data {
namespace {

std::string fixture(const std::string& name) {
  return std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures/images/" + name;
}

struct Diff {
  int max = 0;
  double mean = 0;
};

Diff diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  Diff d;
  if (a.pixels.size() != b.pixels.size()) return {255, 255};
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(a.pixels.size());
  return d;
}

TEST(Image, LosslessFilesDecodeExactly) {
  const Image rgba = read_image(fixture("pattern_rgba.png"));
  ASSERT_EQ(rgba.height, 30);
  ASSERT_EQ(rgba.width, 40);
  for (int64_t y = 0; y < 30; ++y)
    for (int64_t x = 0; x < 40; ++x) {  // the formula of make_image_fixtures.py; alpha dropped, not blended
      ASSERT_EQ(rgba.at(y, x, 0), (x * 11 + y * 7) % 256) << y << "," << x;
      ASSERT_EQ(rgba.at(y, x, 1), (x * 3 + y * 13) % 256) << y << "," << x;
      ASSERT_EQ(rgba.at(y, x, 2), (x * y) % 256) << y << "," << x;
    }
  const Image gray = read_image(fixture("smooth_gray.png"));
  for (int64_t y = 0; y < gray.height; ++y)
    for (int64_t x = 0; x < gray.width; ++x) {
      ASSERT_EQ(gray.at(y, x, 0), gray.at(y, x, 1));  // grayscale expanded to R = G = B
      ASSERT_EQ(gray.at(y, x, 0), gray.at(y, x, 2));
    }
  // The format comes from the bytes, not the name: a PNG named .JPEG is that PNG.
  const Image png = read_image(fixture("smooth.png"));
  const Image named = read_image(fixture("png_named.JPEG"));
  EXPECT_EQ(diff(png, named).max, 0);
}

// stb_image and PIL (libjpeg-turbo) use different IDCTs and chroma upsampling, so their
// pixels differ by a few levels: the bound is max 12, mean 1.5 per channel value (measured:
// see the printout). A wrong colour conversion or a scan decoded at the wrong place is far
// beyond it.
// decode_image takes colour JPEGs through stb's RGBA output (its vectorised YCbCr path) and
// packs them; every file must give the bytes of stb's own 3-channel decode.
TEST(Image, DecodeEqualsStbRgbPath) {
  std::vector<std::vector<uint8_t>> files;
  for (const char* name : {"baseline.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg", "png_named.JPEG",
                           "pattern_rgba.png", "smooth.png", "smooth_gray.png"})
    files.push_back(read_file_bytes(fixture(name)));
  // A colour photo-like JPEG with odd sides (the pack's vector tail) and 4:2:0 chroma.
  const auto dir = std::filesystem::temp_directory_path() / "lowbit_image_decode_test";
  std::filesystem::create_directories(dir);
  Image odd(37, 53);
  for (int64_t y = 0; y < odd.height; ++y)
    for (int64_t x = 0; x < odd.width; ++x)
      for (int64_t c = 0; c < 3; ++c) odd.at(y, x, c) = static_cast<uint8_t>((x * (5 + c) + y * (9 - 2 * c)) % 256);
  write_jpeg((dir / "odd.jpg").string(), odd, 80);
  files.push_back(read_file_bytes((dir / "odd.jpg").string()));
  std::filesystem::remove_all(dir);
  for (const std::vector<uint8_t>& f : files) {
    int w = 0, h = 0, n = 0;
    uint8_t* ref = stbi_load_from_memory(f.data(), static_cast<int>(f.size()), &w, &h, &n, 3);
    ASSERT_NE(ref, nullptr);
    const Image im = decode_image(f.data(), f.size(), "test");
    ASSERT_EQ(im.height, h);
    ASSERT_EQ(im.width, w);
    EXPECT_EQ(std::memcmp(im.pixels.data(), ref, static_cast<size_t>(w) * h * 3), 0) << w << "x" << h;
    stbi_image_free(ref);
  }
}

TEST(Image, JpegsMatchPilWithinTolerance) {
  for (const std::string name : {"baseline", "progressive", "gray", "cmyk"}) {
    const Image ours = read_image(fixture(name + ".jpg"));
    const Image pil = read_image(fixture(name + ".pil.png"));
    const Diff d = diff(ours, pil);
    std::printf("  %s.jpg vs PIL: max %d, mean %.3f\n", name.c_str(), d.max, d.mean);
    EXPECT_LE(d.max, 12) << name;
    EXPECT_LE(d.mean, 1.5) << name;
  }
  // And the JPEG is close to the lossless source it was made from.
  const Diff d = diff(read_image(fixture("progressive.jpg")), read_image(fixture("smooth.png")));
  EXPECT_LE(d.mean, 3.0);
}

TEST(Image, BadFilesRaiseErrorsNamingFileAndReason) {
  EXPECT_LOWBIT_ERROR(read_image(fixture("truncated.jpg")), "truncated.jpg", "truncated JPEG");
  EXPECT_LOWBIT_ERROR(read_image(fixture("empty.jpg")), "empty.jpg", "empty file");
  EXPECT_LOWBIT_ERROR(read_image(fixture("not_image.jpg")), "not_image.jpg", "not an image",
                      "74 68 69 73");  // "this"
  EXPECT_LOWBIT_ERROR(read_image(fixture("tiff_named.JPEG")), "tiff_named.JPEG", "TIFF");
  EXPECT_LOWBIT_ERROR(read_image(fixture("no_such_file.jpg")), "no_such_file.jpg", "no such file");
  EXPECT_LOWBIT_ERROR(read_image(fixture("")), "not a regular file");
  // Corrupt data inside a well-formed container: a PNG whose compressed data is cut.
  std::vector<uint8_t> png = read_file_bytes(fixture("smooth.png"));
  png.resize(png.size() - 40);
  EXPECT_LOWBIT_ERROR(decode_image(png.data(), png.size(), "cut.png"), "cut.png", "PNG");
}

// Every prefix of a JPEG is rejected (none decodes to a silently grey image), and so is
// every prefix of a PNG.
TEST(Image, EveryTruncationIsRejected) {
  for (const std::string name : {"baseline.jpg", "progressive.jpg", "smooth.png"}) {
    const std::vector<uint8_t> bytes = read_file_bytes(fixture(name));
    ASSERT_NO_THROW(decode_image(bytes.data(), bytes.size(), name));
    // PNG's last 12 bytes are the IEND chunk, which stb does not need.
    const size_t full = name == "smooth.png" ? bytes.size() - 12 : bytes.size();
    for (size_t n = 0; n < full; ++n) {
      bool threw = false;
      try {
        decode_image(bytes.data(), n, name);
      } catch (const Error&) {
        threw = true;
      }
      ASSERT_TRUE(threw) << name << " cut to " << n << " of " << bytes.size() << " bytes decoded";
    }
  }
}

// The marker walk on hand-made streams: segment lengths are honoured (an FF D9 inside an
// APP segment does not end the image), stuffed bytes and restart markers inside the
// entropy-coded data are skipped, fill bytes and trailing garbage after EOI are fine.
TEST(Image, JpegMarkerWalk) {
  using Bytes = std::vector<uint8_t>;
  auto complete = [](const Bytes& b) { return jpeg_is_complete(b.data(), b.size()); };
  const Bytes soi = {0xFF, 0xD8};
  const Bytes app_with_eoi = {0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00};  // APP1, 4 bytes: FF D9 00 00
  const Bytes sos = {0xFF, 0xDA, 0x00, 0x03, 0x01};
  const Bytes scan = {0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD7, 0x78};  // stuffing, RST0, fill + RST7
  const Bytes eoi = {0xFF, 0xD9};
  auto cat = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  EXPECT_TRUE(complete(cat({soi, app_with_eoi, sos, scan, eoi})));
  EXPECT_TRUE(complete(cat({soi, app_with_eoi, sos, scan, {0xFF, 0xFF}, eoi, {0x00, 0x13, 0x37}})));
  EXPECT_TRUE(complete(cat({soi, sos, scan, sos, scan, eoi})));  // two scans (progressive)
  EXPECT_FALSE(complete(cat({soi, app_with_eoi, sos, scan})));    // cut before EOI
  EXPECT_FALSE(complete(cat({soi, app_with_eoi})));               // the FF D9 inside APP1 does not count
  EXPECT_FALSE(complete(cat({soi, {0xFF, 0xE1, 0x00, 0x40}, eoi})));  // a segment running past the end
  EXPECT_FALSE(complete(cat({soi, sos, scan, {0xFF}})));
  EXPECT_FALSE(complete(Bytes{0x89, 0x50}));
}

TEST(Image, WriteAndReadBack) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "lowbit_image_test";
  std::filesystem::create_directories(dir);
  const Image src = read_image(fixture("pattern_rgba.png"));
  write_png((dir / "a.png").string(), src);
  EXPECT_EQ(diff(read_image((dir / "a.png").string()), src).max, 0);
  const Image smooth = read_image(fixture("smooth.png"));
  write_jpeg((dir / "a.jpg").string(), smooth, 95);
  const Diff d = diff(read_image((dir / "a.jpg").string()), smooth);
  EXPECT_LE(d.mean, 3.0);
  EXPECT_LOWBIT_ERROR(write_jpeg((dir / "b.jpg").string(), smooth, 0), "quality");
  EXPECT_LOWBIT_ERROR(write_png((dir / "c.png").string(), Image()), "c.png", "0x0");
  Image broken(2, 2);
  broken.pixels.resize_uninitialized(11);
  EXPECT_LOWBIT_ERROR(write_png((dir / "d.png").string(), broken), "d.png", "11 bytes");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lowbit::data
