// What the suites that train on real Fashion-MNIST share (train_test.cpp,
// quantize_test.cpp): whether Debian's dataset-fashion-mnist is installed (they skip with
// a message when it is not) and a fresh scratch directory per test.
#pragma once

#include <filesystem>
#include <string>

#include "data/idx.h"

namespace lowbit::test {

inline bool have_fashion_mnist() {
  return std::filesystem::exists(data::fashion_mnist_dir() + "/train-images-idx3-ubyte.gz") ||
         std::filesystem::exists(data::fashion_mnist_dir() + "/train-images-idx3-ubyte");
}

inline std::string no_fashion_mnist_message() {
  return "Fashion-MNIST not found in " + data::fashion_mnist_dir() +
         " (apt-get install dataset-fashion-mnist, or set LOWBIT_FASHION_MNIST)";
}

// <tmp>/<prefix><name>, emptied.
inline std::string fresh_temp_dir(const std::string& prefix, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (prefix + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

}  // namespace lowbit::test
