// Atomic file replacement and whole-file reads with POSIX calls (see atomic_file.h for
// the recipe and why each step is there).
#include "tensor/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace lowbit {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  // close(2) can report a deferred write error (NFS, quota): the caller must see it.
  int close_checked() {
    const int r = ::close(fd);
    fd = -1;
    return r;
  }
};

// Writes all of `bytes`, retrying short writes and EINTR. Returns 0 or an errno value.
int write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// Creates a new temporary file next to `path`: "<dir>/.<name>.tmp.<pid>.<n>". O_EXCL makes
// creation fail rather than reuse a file someone else is writing; we then try the next n.
// (mkstemp would do this too, but creates files with mode 0600 whatever the umask.)
int create_temp(const std::filesystem::path& target, std::string& temp_path) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path dir = target.parent_path();
  const std::string stem = "." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path = (dir / (stem + std::to_string(counter.fetch_add(1)))).string();
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  LOWBIT_CHECK(!path.empty(), "write_file_atomic: empty path");
  const std::filesystem::path target(path);
  LOWBIT_CHECK(target.has_filename(), "write_file_atomic: ", path, ": not a file name (ends with '/')");
  std::string temp;
  Fd file;
  file.fd = create_temp(target, temp);
  if (file.fd < 0)
    throw_error(str_cat("write_file_atomic: ", path, ": cannot create a temporary file next to it (", temp,
                        "): ", errno_text(errno)));

  // From here on, every failure removes the temporary before throwing.
  auto fail = [&](const char* step, int err) {
    if (file.fd >= 0) file.close_checked();
    ::unlink(temp.c_str());
    throw_error(str_cat("write_file_atomic: ", path, ": ", step, " failed: ", errno_text(err), " (temporary file ",
                        temp, " removed; the previous content of ", path, ", if any, is untouched)"));
  };
  if (const int err = write_all(file.fd, bytes)) fail("write", err);
  if (::fsync(file.fd) != 0) fail("fsync", errno);
  if (file.close_checked() != 0) fail("close", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("rename", errno);

  // The new content is in place under its name; make the directory entry durable too.
  // Some file systems cannot fsync a directory and say EINVAL: nothing more can be done
  // there, and the data itself is already safe, so that one is not an error.
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd < 0 || (::fsync(d.fd) != 0 && errno != EINVAL))
    throw_error(str_cat("write_file_atomic: ", path, ": the file was replaced but syncing its directory ", dir,
                        " failed: ", errno_text(errno)));
}

std::string read_file(const std::string& path, const char* what) {
  Fd file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) throw_error(str_cat(what, ": ", path, ": cannot open: ", errno_text(errno)));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw_error(str_cat(what, ": ", path, ": cannot stat: ", errno_text(errno)));
  LOWBIT_CHECK(S_ISREG(st.st_mode), what, ": ", path, ": not a regular file",
               S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {  // read(2) may return fewer bytes than asked (signals, > 2 GB)
    const ssize_t n = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_error(str_cat(what, ": ", path, ": read failed: ", errno_text(errno)));
    if (n == 0) break;  // the file shrank since fstat: keep what is there, the parser judges it
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace lowbit
