// Golden files of the test suite: tests/golden/<name>, each next to the script that made it.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor/error.h"

namespace lowbit::test {

// tests/golden/<name>, parsed (LOWBIT_SOURCE_DIR is set by tests/CMakeLists.txt).
inline nlohmann::json read_golden_json(const std::string& name) {
  const std::string path = std::string(LOWBIT_SOURCE_DIR) + "/tests/golden/" + name;
  std::ifstream f(path);
  if (!f) throw Error("cannot open " + path);
  return nlohmann::json::parse(f);
}

}  // namespace lowbit::test
