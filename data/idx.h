// IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/),
// plain or gzip-compressed.
//
// Layout: a 4-byte magic [0, 0, type, ndim], ndim big-endian uint32 sizes, then the
// values, big-endian, row-major. Types: 0x08 u8, 0x09 i8, 0x0C i32, 0x0D f32, 0x0E f64
// (0x0B i16 has no lowbit dtype and is rejected).
//
// Every problem (missing file, bad magic, unsupported type, a size that does not match
// the data, truncation, trailing bytes, a corrupt gzip stream) raises lowbit::Error
// naming the file and what is wrong; nothing is loaded half-way.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace lowbit::data {

Tensor read_idx(const std::string& path);

// Fashion-MNIST as shipped by Debian's dataset-fashion-mnist package.
struct MnistSplit {
  Tensor images;  // u8 [N, 28, 28]
  Tensor labels;  // u8 [N], values 0..9
};

// The directory holding the four *-idx?-ubyte.gz files: $LOWBIT_FASHION_MNIST if set,
// else /usr/share/datasets/fashion-mnist.
std::string fashion_mnist_dir();
// split is "train" (60000 images) or "test" (10000 images).
MnistSplit load_fashion_mnist(const std::string& split, const std::string& dir = fashion_mnist_dir());

}  // namespace lowbit::data
