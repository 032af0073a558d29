#include "storage/fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string_view>

namespace ferry::storage::detail {

std::string proc_fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

std::optional<std::string> real_path_of(int fd) {
  char buf[PATH_MAX + 1];
  const ssize_t n = ::readlink(proc_fd_path(fd).c_str(), buf, PATH_MAX);
  if (n <= 0) return std::nullopt;
  std::string path(buf, static_cast<std::size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.front() != '/' || path.ends_with(kDeleted)) return std::nullopt;
  return path;
}

int chmod_fd(int fd, mode_t mode) {
  if (::fchmod(fd, mode) == 0) return 0;
  if (errno != EBADF) return -1;
  return ::fchmodat(AT_FDCWD, proc_fd_path(fd).c_str(), mode, 0);
}

bool proc_fd_usable() noexcept {
  static const bool usable = ::access("/proc/self/fd", X_OK) == 0;
  return usable;
}

}  // namespace ferry::storage::detail
