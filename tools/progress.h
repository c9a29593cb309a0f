// What the long-running commands share to report progress: a JSON-lines log that a
// plotting script can follow, and a text progress bar.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace lowbit::tools {

// Appends JSON objects to a file, one per line, flushed per line so that a plot can
// follow a run while it is going.
class JsonLog {
 public:
  explicit JsonLog(const std::string& path);
  void write(const nlohmann::json& j);

 private:
  std::ofstream out_;
};

// "[#####...................]" for a fraction in [0, 1].
std::string progress_bar(double fraction);

}  // namespace lowbit::tools
