// safetensors checkpoints (nn/safetensors.h) and atomic writes (tensor/atomic_file.h):
// round trips for every dtype and layout, the exact bytes of a hand-checked file,
// every kind of bad file (each error names the file and the problem), truncation at
// every byte, atomic replacement, and interop with files written from PyTorch
// (tests/golden/make_safetensors_golden.py).
#include "nn/safetensors.h"

#include <gmock/gmock.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/atomic_file.h"
#include "tests/test_util.h"

namespace lowbit::nn {
namespace {

namespace fs = std::filesystem;
using test::bit_equal;
using ::testing::HasSubstr;

// A fresh directory per test (ctest runs tests as parallel processes).
class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() / ("lowbit_safetensors_test_" + std::to_string(::getpid()) + "_" + test);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path(name);
  }
  std::set<std::string> listing(const fs::path& dir) const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    return names;
  }

  // The bytes of `bytes` must be rejected both from memory and from a file, with a
  // message naming the source and containing every fragment.
  void expect_rejected(const std::string& bytes, const std::vector<std::string>& fragments) const {
    std::string shown;  // the start of the bytes, for failure messages
    for (char c : bytes.substr(0, 160))
      shown += (c >= 32 && c < 127) ? std::string(1, c) : str_cat("<", int(uint8_t(c)), ">");
    SCOPED_TRACE("bytes: " + shown);
    const std::string file = write("bad.safetensors", bytes);
    std::vector<std::string> with_file = fragments;
    with_file.push_back(file);
    EXPECT_LOWBIT_ERROR(load_safetensors(file), with_file);
    std::vector<std::string> with_source = fragments;
    with_source.push_back("safetensors: <test bytes>: ");
    EXPECT_LOWBIT_ERROR(parse_safetensors(bytes, "<test bytes>"), with_source);
  }

  fs::path dir_;
};

std::string read_all(const std::string& path) { return read_file(path, "test"); }

// A file from a header text and a buffer: u64 little-endian size, header, buffer.
// (No padding: padding is a writer's convention, readers must not require it.)
std::string file_bytes(const std::string& header, const std::string& buffer) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + buffer;
}

// One header entry as JSON text: "name":{"dtype":...,"shape":...,"data_offsets":...}.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

constexpr DType kAllDTypes[] = {DType::f64, DType::f32, DType::i64, DType::i32, DType::i8, DType::u8, DType::b8};

// ---- round trips ----------------------------------------------------------------

TEST_F(Safetensors, RoundTripsEveryDtypeAndShape) {
  NamedTensors saved;
  uint64_t seed = 1;
  for (DType dtype : kAllDTypes) {
    const std::string d = dtype_name(dtype);
    saved.emplace_back(d + ".matrix", test::random_tensor({2, 3}, dtype, seed++, -100, 100));
    saved.emplace_back(d + ".scalar", test::random_tensor({}, dtype, seed++, -100, 100));  // 0-d: shape []
    saved.emplace_back(d + ".empty", empty({0}, dtype));
    saved.emplace_back(d + ".empty3", empty({3, 0, 2}, dtype));
    saved.emplace_back(d + ".strided", test::random_strided({3, 4}, dtype, seed++, -100, 100));
    saved.emplace_back(d + ".expanded", test::random_tensor({1, 3}, dtype, seed++).expand({4, 3}));
  }
  ASSERT_FALSE(saved[4].second.is_contiguous());
  save_safetensors(path("all.safetensors"), saved);
  const NamedTensors loaded = load_safetensors(path("all.safetensors"));
  ASSERT_EQ(loaded.size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    const auto& [name, t] = loaded[i];
    EXPECT_EQ(name, saved[i].first) << "tensors come back in the order they were saved";
    EXPECT_TRUE(bit_equal(saved[i].second, t, name));
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_EQ(t.device(), Device::cpu()) << name;
    // Each loaded tensor owns exactly its own bytes (no view into a shared file buffer).
    EXPECT_EQ(t.offset(), 0) << name;
    EXPECT_EQ(t.storage()->nbytes(), static_cast<size_t>(t.numel()) * t.itemsize()) << name;
  }
}

TEST_F(Safetensors, LoadedTensorsDoNotAliasTheBytes) {
  std::string bytes = safetensors_bytes({{"x", from_vector<float>({1, 2, 3})}});
  const NamedTensors loaded = parse_safetensors(bytes, "<bytes>");
  std::fill(bytes.begin(), bytes.end(), '\xff');
  EXPECT_EQ(loaded[0].second.to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST_F(Safetensors, RoundTripsMetadata) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"epoch", "12"}, {"empty", ""}, {"unicode µ", "naïve \"quoted\"\n"}};
  save_safetensors(path("m.safetensors"), {{"w", ones({2})}}, metadata);
  std::map<std::string, std::string> back = {{"stale", "entry"}};  // cleared by the load
  load_safetensors(path("m.safetensors"), &back);
  EXPECT_EQ(back, metadata);

  // No metadata: no "__metadata__" key at all, and an empty map on load.
  save_safetensors(path("none.safetensors"), {{"w", ones({2})}});
  EXPECT_THAT(read_all(path("none.safetensors")), ::testing::Not(HasSubstr("__metadata__")));
  load_safetensors(path("none.safetensors"), &back);
  EXPECT_TRUE(back.empty());
  // A file with no tensors is valid too.
  save_safetensors(path("zero.safetensors"), {}, metadata);
  EXPECT_TRUE(load_safetensors(path("zero.safetensors"), &back).empty());
  EXPECT_EQ(back, metadata);
}

TEST_F(Safetensors, LargeTensorRoundTrips) {  // 16 MB: one read, one memcpy per tensor
  const Tensor big = test::random_tensor({1024, 4096}, DType::f32, 7);
  save_safetensors(path("big.safetensors"), {{"big", big}, {"tail", from_vector<int8_t>({-1, 2, -3})}});
  const NamedTensors loaded = load_safetensors(path("big.safetensors"));
  EXPECT_TRUE(bit_equal(big, loaded[0].second, "big"));
}

TEST_F(Safetensors, SavesCudaTensors) {
  LOWBIT_REQUIRE_CUDA();
  const Tensor host = test::random_tensor({3, 5}, DType::f32, 3);
  save_safetensors(path("cuda.safetensors"), {{"x", host.to(Device::cuda(0)).t()}});
  EXPECT_TRUE(bit_equal(host.t(), load_safetensors(path("cuda.safetensors"))[0].second, "x"));
}

// ---- the exact bytes of a tiny file -------------------------------------------------

TEST_F(Safetensors, WritesTheExactBytesOfTheSpec) {
  // Header: "__metadata__" first, tensors in the given order, compact JSON, keys in the
  // reference's order. Buffer: 8-byte dtypes first, then 4-byte, then 1-byte, so "s"
  // (I64) is at [0,8), "a" (F32) at [8,16), "b" (U8) at [16,19). The header is 186
  // bytes, padded with 6 spaces to 192 (a multiple of 8).
  const NamedTensors tensors = {{"b", from_vector<uint8_t>({1, 2, 3})},
                                {"a", from_vector<float>({1.0f, -2.0f})},
                                {"s", scalar_tensor(7, DType::i64)}};
  const std::string header =
      R"({"__metadata__":{"k":"v"},"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})"
      "      ";
  ASSERT_EQ(header.size(), 192u);
  const std::string expected = std::string("\xc0\0\0\0\0\0\0\0", 8) + header +
                               std::string("\x07\0\0\0\0\0\0\0", 8) +      // s = 7, i64 little-endian
                               std::string("\0\0\x80\x3f\0\0\0\xc0", 8) +  // a = 1.0f (0x3f800000), -2.0f
                               std::string("\x01\x02\x03", 3);             // b
  EXPECT_EQ(safetensors_bytes(tensors, {{"k", "v"}}), expected);
  save_safetensors(path("tiny.safetensors"), tensors, {{"k", "v"}});
  EXPECT_EQ(read_all(path("tiny.safetensors")), expected);
  // Read back in header order, whatever the buffer order.
  const NamedTensors back = parse_safetensors(expected, "<tiny>");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].first, "b");
  EXPECT_EQ(back[1].first, "a");
  EXPECT_EQ(back[2].first, "s");
  EXPECT_EQ(back[2].second.dim(), 0);
  EXPECT_EQ(back[2].second.item(), 7);
}

TEST_F(Safetensors, ReadsUnpaddedHeadersWithAnyKeyOrder) {
  // Another writer: no padding, whitespace, keys in another order, data out of header order.
  const std::string header = R"( { "y": {"shape": [1], "data_offsets": [0, 1], "dtype": "BOOL"},
                                   "x": {"data_offsets": [1, 3], "dtype": "I8", "shape": [2]} } )";
  const NamedTensors t = parse_safetensors(file_bytes(header, "\x01\x05\xfb"), "<other>");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].first, "y");
  EXPECT_EQ(t[0].second.dtype(), DType::b8);
  EXPECT_EQ(t[1].second.to_vector<int8_t>(), (std::vector<int8_t>{5, -5}));
}

// ---- rejection of bad files --------------------------------------------------------

TEST_F(Safetensors, RejectsMissingAndUnreadableFiles) {
  EXPECT_LOWBIT_ERROR(load_safetensors(path("missing.safetensors")), "safetensors: ", "missing.safetensors",
                      "cannot open", "No such file or directory");
  fs::create_directories(dir_ / "adir");
  EXPECT_LOWBIT_ERROR(load_safetensors(path("adir")), "adir", "not a regular file");
}

TEST_F(Safetensors, RejectsBadHeaderSizes) {
  for (size_t n = 0; n < 8; ++n) expect_rejected(std::string(n, '\0'), {"shorter than the 8-byte header size"});
  std::string past = file_bytes("{}", "");
  past[0] = 3;  // header size 3, but only 2 bytes follow
  expect_rejected(past, {"header size 3 runs past the end of the file (10 bytes"});
  std::string huge = file_bytes("{}", "");
  huge[7] = '\x7f';  // 0x7f00000000000002: e.g. an unrelated file
  expect_rejected(huge, {"header size 9151314442816847874 is implausibly large"});
  expect_rejected(file_bytes(std::string("{}\0{\"a\":1}", 10), ""), {"a NUL byte at header offset 2"});
  // A header of 0 bytes is not JSON.
  expect_rejected(file_bytes("", ""), {"not valid JSON"});
}

TEST_F(Safetensors, RejectsHeadersThatAreNotJsonObjects) {
  expect_rejected(file_bytes(R"({"a": {)", ""), {"the header is not valid JSON"});
  expect_rejected(file_bytes("[1, 2]", ""), {"the header must be a JSON object, not array"});
  expect_rejected(file_bytes("{\"\xff\xfe\": 1}", ""), {"not valid JSON", "UTF-8"});
  expect_rejected(file_bytes(std::string("{}\0\0", 4), ""), {"not valid JSON"});  // NUL padding is not spaces
  expect_rejected(file_bytes("{} {}", ""), {"not valid JSON"});
}

TEST_F(Safetensors, RejectsDeeplyNestedAndHugeValuesWithShortMessages) {
  // A million levels of nesting must not overflow the stack, in parsing or in messages.
  const size_t depth = 1000000;
  expect_rejected(file_bytes("{\"w\":" + std::string(depth, '[') + std::string(depth, ']') + "}", ""),
                  {"tensor 'w': entry must be a JSON object, got a JSON array of 1 elements"});
  std::string shape = "[";
  for (int i = 0; i < 100; ++i) shape += "1,";
  shape += "-1]";
  expect_rejected(file_bytes("{" + entry("w", "F32", shape, "[0,0]") + "}", ""), {"'w'", "negative value -1"});
  expect_rejected(file_bytes("{" + entry("w", "F32", "[4611686018427387904,4," + shape.substr(1), "[0,0]") + "}", ""),
                  {"tensor 'w': shape a JSON array of 103 elements", "has too many elements"});
}

TEST_F(Safetensors, RejectsDuplicateNamesAndKeys) {
  // nlohmann alone would keep one of the two silently.
  const std::string a = entry("a", "F32", "[2]", "[0,8]");
  expect_rejected(file_bytes("{" + a + "," + a + "}", std::string(8, '\0')), {"duplicate tensor name 'a'"});
  expect_rejected(
      file_bytes(R"({"a":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
      {"entry 'a' has the key \"dtype\" twice"});
  expect_rejected(file_bytes(R"({"__metadata__":{"k":"1","k":"2"}})", ""), {"'__metadata__' has the key \"k\" twice"});
}

TEST_F(Safetensors, RejectsMalformedEntries) {
  const std::string buf(8, '\0');
  auto one = [&](const std::string& body) { return file_bytes("{\"t.w\":" + body + "}", buf); };
  expect_rejected(one("3"), {"tensor 't.w': entry must be a JSON object, got 3"});
  expect_rejected(one(R"({"shape":[2],"data_offsets":[0,8]})"), {"tensor 't.w': entry has no \"dtype\""});
  expect_rejected(one(R"({"dtype":"F32","data_offsets":[0,8]})"), {"tensor 't.w': entry has no \"shape\""});
  expect_rejected(one(R"({"dtype":"F32","shape":[2]})"), {"tensor 't.w': entry has no \"data_offsets\""});
  expect_rejected(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"byteorder":"big"})"),
                  {"tensor 't.w': unexpected key \"byteorder\""});
  expect_rejected(one(R"({"dtype":5,"shape":[2],"data_offsets":[0,8]})"), {"'t.w': \"dtype\" must be a string, got 5"});
  expect_rejected(one(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"),
                  {"'t.w': \"shape\" must be an array, got \"2\""});
  expect_rejected(one(R"({"dtype":"F32","shape":[2],"data_offsets":[8]})"),
                  {"'t.w': \"data_offsets\" must be an array [begin, end], got [8]"});
  expect_rejected(one(R"({"dtype":"F32","shape":[2],"data_offsets":{"begin":0,"end":8}})"),
                  {"'t.w': \"data_offsets\" must be an array"});
  expect_rejected(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,8]})"), {"must be an array [begin, end]"});
}

TEST_F(Safetensors, RejectsUnknownAndUnsupportedDtypes) {
  const std::string buf(8, '\0');
  expect_rejected(file_bytes("{" + entry("w", "F33", "[2]", "[0,8]") + "}", buf),
                  {"tensor 'w' has unknown dtype 'F33'"});
  expect_rejected(file_bytes("{" + entry("w", "f32", "[2]", "[0,8]") + "}", buf), {"unknown dtype 'f32'"});
  expect_rejected(file_bytes("{" + entry("h", "F16", "[4]", "[0,8]") + "}", buf),
                  {"tensor 'h' has dtype F16, which lowbit does not support"});
  expect_rejected(file_bytes("{" + entry("h", "BF16", "[4]", "[0,8]") + "}", buf), {"dtype BF16"});
}

TEST_F(Safetensors, RejectsBadShapes) {
  const std::string buf(8, '\0');
  auto shaped = [&](const std::string& shape) {
    return file_bytes("{" + entry("w", "F32", shape, "[0,8]") + "}", buf);
  };
  expect_rejected(shaped("[-2]"), {"tensor 'w': \"shape\" has a negative value -2"});
  expect_rejected(shaped("[2.0]"), {"tensor 'w': \"shape\" has 2.0 where a non-negative integer"});
  expect_rejected(shaped("[1.5]"), {"'w'", "has 1.5 where a non-negative integer"});
  expect_rejected(shaped("[\"2\"]"), {"'w'", "has \"2\" where a non-negative integer"});
  expect_rejected(shaped("[true]"), {"'w'", "has true where"});
  expect_rejected(shaped("[[2]]"), {"'w'", "has [2] where"});
  expect_rejected(shaped("[9223372036854775808]"), {"'w'", "below 2^63"});  // 2^63 does not fit an int64
  expect_rejected(shaped("[1e30]"), {"'w'", "where a non-negative integer"});
  // numel overflow, also behind a 0 dim (strides would overflow), and byte-size overflow.
  expect_rejected(shaped("[4611686018427387904,4]"),
                  {"tensor 'w': shape [4611686018427387904,4] has too many elements"});
  expect_rejected(shaped("[0,4294967296,4294967296]"), {"'w'", "has too many elements"});
  expect_rejected(file_bytes("{" + entry("w", "F64", "[2305843009213693952]", "[0,8]") + "}", buf),
                  {"tensor 'w': shape [2305843009213693952] is too large (its byte size overflows"});
  // Shape and offsets disagree.
  expect_rejected(shaped("[3]"), {"tensor 'w': data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12"});
  expect_rejected(shaped("[]"), {"hold 8 bytes but F32 [] needs 4"});
}

TEST_F(Safetensors, RejectsBadOffsets) {
  auto offsets = [](const std::string& o, size_t buffer) {
    return file_bytes("{" + entry("w", "F32", "[2]", o) + "}", std::string(buffer, '\0'));
  };
  expect_rejected(offsets("[8,0]", 8), {"tensor 'w': data_offsets [8, 0] has begin > end"});
  expect_rejected(offsets("[0,16]", 8), {"tensor 'w': data_offsets [0, 16] run past the end of the data buffer (8"});
  expect_rejected(offsets("[8,16]", 8), {"run past the end of the data buffer"});
  expect_rejected(offsets("[-8,0]", 8), {"tensor 'w': \"data_offsets\" has a negative value -8"});
  expect_rejected(offsets("[0,8.0]", 8), {"'w'", "\"data_offsets\" has 8.0 where a non-negative integer"});
  expect_rejected(offsets("[18446744073709551608,18446744073709551615]", 8), {"'w'", "run past the end"});
  expect_rejected(offsets("[0,18446744073709551616]", 8), {"'w'", "where a non-negative integer"});  // 2^64
}

TEST_F(Safetensors, RejectsBuffersThatAreNotExactlyTiled) {
  // The spec: the buffer is entirely indexed, with no holes; tensors may not overlap.
  const std::string a = entry("a", "F32", "[2]", "[0,8]");
  expect_rejected(file_bytes("{" + a + "," + entry("b", "F32", "[2]", "[4,12]") + "}", std::string(12, '\0')),
                  {"tensors 'a' [0, 8) and 'b' [4, 12) overlap"});
  expect_rejected(file_bytes("{" + a + "," + entry("b", "F32", "[2]", "[0,8]") + "}", std::string(8, '\0')),
                  {"'a' [0, 8) and 'b' [0, 8) overlap"});
  expect_rejected(file_bytes("{" + a + "," + entry("e", "F32", "[0]", "[4,4]") + "}", std::string(8, '\0')),
                  {"'a' [0, 8) and 'e' [4, 4) overlap"});
  expect_rejected(file_bytes("{" + a + "," + entry("b", "F32", "[2]", "[12,20]") + "}", std::string(20, '\0')),
                  {"bytes [8, 12) of the data buffer belong to no tensor (a hole before tensor 'b')"});
  expect_rejected(file_bytes("{" + entry("b", "F32", "[2]", "[4,12]") + "}", std::string(12, '\0')),
                  {"bytes [0, 4) of the data buffer belong to no tensor"});
  expect_rejected(
      file_bytes("{" + a + "}", std::string(11, '\0')),
      {"3 trailing bytes after the last tensor (the data buffer has 11 bytes, the header's tensors cover 8)"});
  expect_rejected(file_bytes("{}", "x"), {"1 trailing bytes"});
  // Empty tensors at the boundaries are fine.
  const std::string ok =
      "{" + entry("e0", "I8", "[0]", "[0,0]") + "," + a + "," + entry("e8", "U8", "[2,0]", "[8,8]") + "}";
  EXPECT_EQ(parse_safetensors(file_bytes(ok, std::string(8, '\0')), "<ok>").size(), 3u);
}

TEST_F(Safetensors, RejectsBadMetadataAndBools) {
  expect_rejected(file_bytes(R"({"__metadata__":{"epoch":3}})", ""),
                  {"\"__metadata__\" value of \"epoch\" must be a string, got 3"});
  expect_rejected(file_bytes(R"({"__metadata__":{"a":null}})", ""), {"value of \"a\" must be a string, got null"});
  expect_rejected(file_bytes(R"({"__metadata__":["format","pt"]})", ""), {"\"__metadata__\" must be an object"});
  // torch.bool is one byte holding 0 or 1; anything else is a corrupt file.
  expect_rejected(file_bytes("{" + entry("mask", "BOOL", "[3]", "[0,3]") + "}", std::string("\x01\x00\x02", 3)),
                  {"tensor 'mask' (BOOL) holds the byte 2 at element 2"});
}

// Every proper prefix of a valid file is an error: never a crash, never a silent success.
TEST_F(Safetensors, RejectsTruncationAtEveryByte) {
  const std::string bytes = safetensors_bytes({{"conv.weight", test::random_tensor({2, 3}, DType::f32, 5)},
                                               {"step", scalar_tensor(3, DType::i64)},
                                               {"mask", from_vector<uint8_t>({1, 0, 1}).to(DType::b8)}},
                                              {{"format", "pt"}});
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string prefix = bytes.substr(0, cut);
    EXPECT_THROW(parse_safetensors(prefix, "<cut>"), Error) << "prefix of " << cut << " bytes";
    const std::string file = write("cut.safetensors", prefix);
    try {
      load_safetensors(file);
      ADD_FAILURE() << "prefix of " << cut << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(file));
    }
  }
  for (size_t extra = 1; extra <= 9; ++extra)
    expect_rejected(bytes + std::string(extra, '\0'), {str_cat(extra, " trailing bytes")});
  EXPECT_EQ(parse_safetensors(bytes, "<whole>").size(), 3u);
}

// Corrupting any single byte may still give a valid file (a changed value), but must
// never crash or throw anything but lowbit::Error (run under ASan/UBSan too).
TEST_F(Safetensors, SurvivesEveryCorruptedByte) {
  const std::string bytes =
      safetensors_bytes({{"a", test::random_tensor({3}, DType::f32, 9)}, {"b", scalar_tensor(1, DType::b8)}});
  int rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char value : {0x00, 0x01, 0x22, 0x2c, 0x5d, 0x7d, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(value);
      try {
        parse_safetensors(bad, "<corrupt>");
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

// ---- saving ------------------------------------------------------------------------

TEST_F(Safetensors, RejectsBadTensorsOnSave) {
  const std::string file = path("s.safetensors");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"", ones({1})}}), "save_safetensors: ", file, "empty name");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"a", ones({1})}, {"a", zeros({1})}}), file, "duplicate tensor name 'a'");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"__metadata__", ones({1})}}), file, "\"__metadata__\" is reserved");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"w", Tensor()}}), file, "tensor 'w' is undefined");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"bad\xff", ones({1})}}), file, "cannot write the header");
  EXPECT_LOWBIT_ERROR(save_safetensors(file, {{"w", ones({1})}}, {{"k", "\xc3"}}), file, "cannot write the header");
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(listing(dir_).empty()) << "no temporary files left behind";
}

// ---- atomic writes -------------------------------------------------------------------

TEST_F(Safetensors, AtomicWriteReplacesTheWholeFile) {
  const std::string file = path("ckpt.safetensors");
  save_safetensors(file, {{"w", full({1000}, 1.0)}});
  save_safetensors(file, {{"w", full({3}, 2.0)}});  // shorter: no stale tail may remain
  EXPECT_EQ(read_all(file), safetensors_bytes({{"w", full({3}, 2.0)}}));
  EXPECT_EQ(listing(dir_), std::set<std::string>{"ckpt.safetensors"}) << "no temporary files left behind";
  write_file_atomic(path("plain"), "");  // empty content is a valid file
  EXPECT_EQ(fs::file_size(path("plain")), 0u);
}

TEST_F(Safetensors, FailedWritesLeaveTheOldFileAndNoTemporaries) {
  const std::string file = path("ckpt.safetensors");
  save_safetensors(file, {{"w", full({4}, 1.0)}});
  const std::string old = read_all(file);

  // Validation fails before anything is written.
  EXPECT_THROW(save_safetensors(file, {{"w", ones({1})}, {"w", ones({1})}}), Error);
  EXPECT_EQ(read_all(file), old);

  // A missing directory: the temporary file cannot even be created.
  const std::string nowhere = path("no/such/dir/ckpt.safetensors");
  EXPECT_LOWBIT_ERROR(save_safetensors(nowhere, {{"w", ones({1})}}), nowhere, "cannot create a temporary file",
                      "No such file or directory");

  // The target is a directory: write and fsync succeed, rename(2) fails; the temporary
  // must be removed and the directory left as it was.
  fs::create_directories(dir_ / "taken" / "inside");
  EXPECT_LOWBIT_ERROR(write_file_atomic(path("taken"), "new content"), path("taken"), "rename failed", "Is a directory",
                      "removed");
  EXPECT_EQ(listing(dir_ / "taken"), std::set<std::string>{"inside"});
  EXPECT_EQ(read_all(file), old);
  EXPECT_EQ(listing(dir_), (std::set<std::string>{"ckpt.safetensors", "taken"})) << "no temporary files left behind";
}

TEST_F(Safetensors, AtomicWriteToARelativePath) {
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  write_file_atomic("relative.bin", "abc");
  fs::current_path(cwd);
  EXPECT_EQ(read_all(path("relative.bin")), "abc");
}

// ---- interop with PyTorch (tests/golden/make_safetensors_golden.py) -------------------

fs::path golden(const std::string& name) { return fs::path(LOWBIT_SOURCE_DIR) / "tests" / "golden" / name; }

// Compares a file written from PyTorch with the values the script recorded.
void expect_matches_torch(const std::string& filename) {
  SCOPED_TRACE(filename);
  const nlohmann::json expected = nlohmann::json::parse(std::ifstream(golden("safetensors_expected.json")))[filename];
  std::map<std::string, std::string> metadata;
  const NamedTensors tensors = load_safetensors(golden(filename).string(), &metadata);
  EXPECT_EQ(metadata, expected["metadata"].get<decltype(metadata)>());
  ASSERT_EQ(tensors.size(), expected["tensors"].size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    const nlohmann::json& e = expected["tensors"][i];
    EXPECT_EQ(name, e["name"].get<std::string>());
    SCOPED_TRACE(name);
    EXPECT_EQ(t.sizes(), e["shape"].get<Shape>());
    const std::string dtype = e["dtype"].get<std::string>();
    const std::map<std::string, DType> dtypes = {{"F64", DType::f64}, {"F32", DType::f32}, {"I64", DType::i64},
                                                 {"I32", DType::i32}, {"I8", DType::i8},   {"U8", DType::u8},
                                                 {"BOOL", DType::b8}};
    ASSERT_EQ(t.dtype(), dtypes.at(dtype));
    double sum = 0;  // sequential, row-major, in float64: as the script summed
    if (is_floating(t.dtype())) {
      const std::vector<double> values = t.to_vector<double>();  // f32 -> f64 is exact
      EXPECT_EQ(values, e["values"].get<std::vector<double>>());
      for (double v : values) sum += v;
    } else {
      const std::vector<int64_t> values = t.to_vector<int64_t>();  // exact, even for 2^63 - 1
      EXPECT_EQ(values, e["values"].get<std::vector<int64_t>>());
      for (int64_t v : values) sum += static_cast<double>(v);
    }
    EXPECT_EQ(sum, e["sum"].get<double>());
  }
}

TEST_F(Safetensors, ReadsATorchStateDict) {
  expect_matches_torch("torch_state.safetensors");
  const NamedTensors sd = load_safetensors(golden("torch_state.safetensors").string());
  // torchvision-style names, in state_dict order; BN's step counter is an I64 0-d tensor.
  EXPECT_EQ(sd[0].first, "conv1.weight");
  EXPECT_EQ(sd[0].second.sizes(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(sd[5].first, "bn1.num_batches_tracked");
  EXPECT_EQ(sd[5].second.dtype(), DType::i64);
  EXPECT_EQ(sd[5].second.dim(), 0);
  EXPECT_EQ(sd[5].second.item(), 3);
}

TEST_F(Safetensors, ReadsEveryTorchDtype) { expect_matches_torch("torch_dtypes.safetensors"); }

// lowbit writes what PyTorch wrote, byte for byte: the script's reader (and
// safetensors.torch.load_file) read lowbit's files. See the script's docstring.
TEST_F(Safetensors, RewritesTorchFilesByteForByte) {
  for (const char* name : {"torch_state.safetensors", "torch_dtypes.safetensors"}) {
    SCOPED_TRACE(name);
    const std::string original = read_all(golden(name).string());
    std::map<std::string, std::string> metadata;
    const NamedTensors tensors = load_safetensors(golden(name).string(), &metadata);
    save_safetensors(path(name), tensors, metadata);
    EXPECT_EQ(read_all(path(name)), original);
  }
}

}  // namespace
}  // namespace lowbit::nn
