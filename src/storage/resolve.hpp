// Opening a path beneath a root directory without ever leaving it.
//
// Two interchangeable implementations, selectable at run time so that tests exercise both:
//  - openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: the kernel checks every step;
//  - a component-by-component walk with openat(O_PATH | O_NOFOLLOW) that expands relative
//    symlinks itself, for kernels older than 5.6 (or seccomp policies that deny openat2).
// Both refuse the same things with the same errors: ".." above the root, absolute symlinks,
// symlinks that lead out, more than 40 symlink expansions.
#pragma once

#include <string_view>

#include "core/unique_fd.hpp"
#include "storage/error.hpp"

namespace ferry::storage {

enum class Resolver {
  automatic,  // openat2 when the kernel has it, else the walk
  openat2,
  walk,
};

// True when this kernel (and any seccomp policy) lets us call openat2.
bool openat2_available() noexcept;

// Resolves `path` relative to `root_fd` and opens it with `flags` (O_CLOEXEC is added; O_CREAT
// and O_TMPFILE are not allowed: entries are created through their parent directory). Leading
// slashes are ignored: "/" is the root itself. With O_NOFOLLOW in `flags`, a final symlink is not
// followed (with O_PATH the link itself is opened). `path` must already have passed check_path.
//
// Errors: escape (EACCES) when the path leaves the root; symlink_loop (ELOOP); anything the
// kernel reports for the components (not_found, not_a_directory, permission, ...).
Result<UniqueFd> open_beneath(int root_fd, std::string_view path, int flags, Resolver how);

}  // namespace ferry::storage
