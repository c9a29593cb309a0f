// lowbit::Error and the one check macro of the project.
//
// Every bad input raises lowbit::Error with a message naming the op, the argument and
// the shapes/dtypes/devices involved (DESIGN.md, contract 4), for example
//   add: shapes [2,3] and [4] cannot be broadcast (dim -1: 3 vs 4)
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lowbit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates any streamable arguments into one string.
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

[[noreturn]] void throw_error(const std::string& message);

}  // namespace lowbit

// LOWBIT_CHECK(cond, parts...): if cond is false, throws lowbit::Error whose text is the
// concatenation of parts. The parts are only evaluated on failure.
#define LOWBIT_CHECK(cond, ...)                                    \
  do {                                                             \
    if (!(cond)) ::lowbit::throw_error(::lowbit::str_cat(__VA_ARGS__)); \
  } while (0)
