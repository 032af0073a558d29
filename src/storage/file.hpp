// An open file with positional I/O: several data streams may read or write disjoint ranges of one
// File at the same time (pread/pwrite do not share a file offset).
#pragma once

#include <cstdint>

#include "core/bytes.hpp"
#include "core/unique_fd.hpp"
#include "storage/error.hpp"

namespace ferry::storage {

class File {
 public:
  File() = default;
  File(UniqueFd fd, std::string display_path)
      : fd_(std::move(fd)), path_(std::move(display_path)) {}

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }
  explicit operator bool() const noexcept { return fd_.valid(); }

  // Reads up to out.size() bytes at `offset`; fewer only at end of file. Retries EINTR.
  Result<std::size_t> pread_some(MutableBytes out, std::uint64_t offset) const;
  // Reads exactly out.size() bytes; end of file first is an error (EIO, "short file").
  Result<void> pread_exact(MutableBytes out, std::uint64_t offset) const;
  // Writes all of `data` at `offset`, looping over short writes and EINTR.
  Result<void> pwrite_all(Bytes data, std::uint64_t offset) const;
  Result<std::uint64_t> size() const;
  Result<std::int64_t> mtime() const;  // seconds since the epoch

  void close() noexcept { fd_.reset(); }

 private:
  UniqueFd fd_;
  std::string path_;
};

}  // namespace ferry::storage
