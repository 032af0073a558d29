#include "storage/file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ferry::storage {

Result<std::size_t> File::pread_some(MutableBytes out, std::uint64_t offset) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, path_);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Result<void> File::pread_exact(MutableBytes out, std::uint64_t offset) const {
  auto n = pread_some(out, offset);
  if (!n) return Unexpected(std::move(n).error());
  if (*n != out.size()) return fail(Errc::io, EIO, path_);
  return {};
}

Result<void> File::pwrite_all(Bytes data, std::uint64_t offset) const {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd(), data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, path_);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::uint64_t> File::size() const {
  struct stat st {};
  if (::fstat(fd(), &st) != 0) return fail(errno, path_);
  return static_cast<std::uint64_t>(st.st_size);
}

Result<std::int64_t> File::mtime() const {
  struct stat st {};
  if (::fstat(fd(), &st) != 0) return fail(errno, path_);
  return static_cast<std::int64_t>(st.st_mtime);
}

}  // namespace ferry::storage
