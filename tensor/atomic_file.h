// Atomic file replacement, for checkpoints (DESIGN.md, contract 5: "No data loss").
//
// write_file_atomic(path, bytes) leaves `path` holding either its previous content or
// all of `bytes`, never a mix, even if the process or the machine dies in between:
//
//   1. create a temporary file in the same directory as `path` (rename(2) is only
//      atomic within one file system, and the same directory is the surest way to be
//      on the same one);
//   2. write all bytes, then fsync(2) the file, so its data is on disk before it gets
//      the final name (otherwise a crash after the rename can leave an empty or
//      partial file under the final name: the classic ext4 "zero-length file" bug);
//   3. rename(2) the temporary over `path` (atomic replacement, POSIX);
//   4. fsync(2) the directory, so the rename itself survives a crash.
//
// On any error the temporary file is removed and lowbit::Error is thrown, naming the
// path and the errno text. Writes go through write(2) directly (no stdio buffer), so
// there is nothing to fflush before the fsync.
#pragma once

#include <string>
#include <string_view>

namespace lowbit {

// Replaces (or creates) the file at `path` with exactly `bytes`. The new file gets the
// usual permissions of a newly created file (0666 minus the umask). If `path` is a
// symbolic link, the link itself is replaced by the new file (rename(2) semantics).
void write_file_atomic(const std::string& path, std::string_view bytes);

// Reads the whole file at `path` (one read for a regular file). Throws lowbit::Error
// naming `what` (e.g. "safetensors"), the path and the errno text when the file is
// missing, not a regular file, or cannot be read.
std::string read_file(const std::string& path, const char* what);

}  // namespace lowbit
