// CIFAR-10 in its binary form (https://www.cs.toronto.edu/~kriz/cifar.html, "binary
// version"): data_batch_1.bin .. data_batch_5.bin (train, 50000 images) and test_batch.bin
// (10000), each a sequence of 3073-byte records: one label byte (0..9), then the 32x32
// red, green and blue planes, rows top to bottom.
//
// A file whose size is not a whole number of records, or a label above 9, raises
// lowbit::Error naming the file (and the record); nothing is loaded half-way.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::data {

struct CifarSplit {
  Tensor images;  // u8 [N, 3, 32, 32]
  Tensor labels;  // u8 [N], values 0..9
};

// The records of the given files, concatenated in order.
CifarSplit read_cifar10(const std::vector<std::string>& files);
// split "train" (data_batch_1..5.bin) or "test" (test_batch.bin) from `dir`, the
// directory cifar-10-binary.tar.gz unpacks to (cifar-10-batches-bin).
CifarSplit load_cifar10(const std::string& dir, const std::string& split);

// airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck (batches.meta.txt).
const std::vector<std::string>& cifar10_classes();

}  // namespace lowbit::data
