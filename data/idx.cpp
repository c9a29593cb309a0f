#include "data/idx.h"

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

namespace lowbit::data {

namespace {

// gzread reads gzip files and plain files alike (zlib passes non-gzip data through).
struct GzFile {
  gzFile f = nullptr;
  std::string path;
  explicit GzFile(const std::string& p) : path(p) {
    LOWBIT_CHECK(std::filesystem::exists(p), "idx: ", p, ": no such file");
    f = gzopen(p.c_str(), "rb");
    LOWBIT_CHECK(f != nullptr, "idx: ", p, ": cannot open");
  }
  ~GzFile() {
    if (f) gzclose(f);
  }
  // Reads up to n bytes; returns how many were read; throws on a corrupt stream.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(f, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int errnum = 0;
        const char* msg = gzerror(f, &errnum);
        throw_error(str_cat("idx: ", path, ": corrupt data (", msg, ")"));
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }
};

uint32_t big_endian_u32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

Tensor read_idx(const std::string& path) {
  GzFile file(path);
  unsigned char magic[4];
  LOWBIT_CHECK(file.read(magic, 4) == 4, "idx: ", path, ": file is shorter than the 4-byte header");
  LOWBIT_CHECK(magic[0] == 0 && magic[1] == 0, "idx: ", path, ": bad magic number (first two bytes must be 0; is this an IDX file?)");
  DType dtype;
  switch (magic[2]) {
    case 0x08: dtype = DType::u8; break;
    case 0x09: dtype = DType::i8; break;
    case 0x0C: dtype = DType::i32; break;
    case 0x0D: dtype = DType::f32; break;
    case 0x0E: dtype = DType::f64; break;
    default: throw_error(str_cat("idx: ", path, ": unsupported element type 0x", std::hex, int(magic[2])));
  }
  const int ndim = magic[3];
  LOWBIT_CHECK(ndim >= 1 && ndim <= 8, "idx: ", path, ": implausible number of dims ", ndim);
  Shape sizes(ndim);
  std::vector<unsigned char> dims(4 * ndim);
  LOWBIT_CHECK(file.read(dims.data(), dims.size()) == dims.size(), "idx: ", path, ": truncated header (expected ", ndim,
               " sizes)");
  uint64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    sizes[d] = big_endian_u32(&dims[4 * d]);
    numel *= static_cast<uint64_t>(sizes[d]);
    LOWBIT_CHECK(numel < (uint64_t(1) << 40), "idx: ", path, ": implausible size ", shape_str(sizes));
  }
  Tensor out = empty(sizes, dtype);
  const size_t nbytes = numel * dtype_size(dtype);
  const size_t got = file.read(out.data_ptr(), nbytes);
  LOWBIT_CHECK(got == nbytes, "idx: ", path, ": truncated: header says ", shape_str(sizes), " ", dtype_name(dtype), " (",
               nbytes, " bytes of data) but only ", got, " bytes follow");
  unsigned char extra;
  LOWBIT_CHECK(file.read(&extra, 1) == 0, "idx: ", path, ": unexpected bytes after the ", nbytes,
               " bytes of data that the header announces ", shape_str(sizes));
  // Big-endian to host order for multi-byte types.
  const size_t item = dtype_size(dtype);
  if (item > 1) {
    auto* p = static_cast<unsigned char*>(out.data_ptr());
    for (size_t i = 0; i < numel; ++i)
      for (size_t a = 0, b = item - 1; a < b; ++a, --b) std::swap(p[i * item + a], p[i * item + b]);
  }
  return out;
}

std::string fashion_mnist_dir() {
  if (const char* env = std::getenv("LOWBIT_FASHION_MNIST")) return env;
  return "/usr/share/datasets/fashion-mnist";
}

MnistSplit load_fashion_mnist(const std::string& split, const std::string& dir) {
  LOWBIT_CHECK(split == "train" || split == "test", "load_fashion_mnist: split must be 'train' or 'test', got '", split, "'");
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  LOWBIT_CHECK(std::filesystem::is_directory(dir), "load_fashion_mnist: ", dir,
               " does not exist (install the Debian package dataset-fashion-mnist, or set LOWBIT_FASHION_MNIST)");
  MnistSplit s{read_idx(prefix + "-images-idx3-ubyte.gz"), read_idx(prefix + "-labels-idx1-ubyte.gz")};
  LOWBIT_CHECK(s.images.dtype() == DType::u8 && s.images.dim() == 3, "load_fashion_mnist: ", prefix,
               "-images-idx3-ubyte.gz: expected u8 [N,H,W] images, got ", describe(s.images));
  LOWBIT_CHECK(s.labels.dtype() == DType::u8 && s.labels.dim() == 1 && s.labels.size(0) == s.images.size(0),
               "load_fashion_mnist: ", prefix, "-labels-idx1-ubyte.gz: expected u8 [", s.images.size(0),
               "] labels, got ", describe(s.labels));
  return s;
}

}  // namespace lowbit::data
