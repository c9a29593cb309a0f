#include "tools/progress.h"

#include <algorithm>

#include "tensor/error.h"

namespace lowbit::tools {

JsonLog::JsonLog(const std::string& path) : out_(path, std::ios::app) {
  LOWBIT_CHECK(out_.good(), "cannot open the log ", path);
}

void JsonLog::write(const nlohmann::json& j) { out_ << j.dump() << "\n" << std::flush; }

std::string progress_bar(double fraction) {
  const int width = 24, filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width);
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') +
         "]";
}

}  // namespace lowbit::tools
