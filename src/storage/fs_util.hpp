// Small descriptor helpers shared by the storage layer (not part of its public interface).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace ferry::storage::detail {

// "/proc/self/fd/N": names the very inode `fd` refers to, O_PATH descriptors included.
std::string proc_fd_path(int fd);
// The kernel's name for what `fd` refers to, or nothing when /proc cannot say.
std::optional<std::string> real_path_of(int fd);
// chmod through a descriptor; O_PATH descriptors go through /proc/self/fd.
int chmod_fd(int fd, mode_t mode);
bool proc_fd_usable() noexcept;

}  // namespace ferry::storage::detail
