// Sandbox: every file access of a server session or a client goes through one of these.
//
//  - confined: rooted at a served directory. Paths are virtual ("/" is the root), ".." may move
//    around inside, symlinks are followed only while they stay inside. Used for XFTP roots and for
//    bbftp users of our own password file.
//  - unconfined: paths resolve as the OS resolves them and the OS enforces permissions (bbftp
//  system
//    accounts after setuid, clients' local files).
//
// A Sandbox carries one session's state: its working directory and umask. Its const member
// functions may be called from several threads at once; chdir/set_umask may not race with them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/error.hpp"
#include "storage/file.hpp"
#include "storage/path.hpp"
#include "storage/resolve.hpp"

namespace ferry::storage {

enum class FileType { regular, directory, symlink, other };

struct EntryInfo {
  std::string name;
  FileType type = FileType::other;    // the entry itself, not followed
  FileType target = FileType::other;  // a symlink's target (followed within the sandbox), else type
  bool dangling = false;              // a symlink whose target is missing or out of reach
  std::uint64_t size = 0;             // of the target for symlinks that resolve
  std::uint32_t mode = 0;             // permission bits (07777)
  std::int64_t mtime = 0;
};

struct FileStat {
  FileType type = FileType::other;
  std::uint64_t inode = 0;
  std::uint32_t mode = 0;  // full st_mode, type bits included
  std::uint64_t size = 0;
  std::uint64_t block_size = 0;
  std::uint64_t blocks = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int64_t atime = 0;
  std::int64_t mtime = 0;
  std::int64_t ctime = 0;
};

struct FsStat {
  std::uint64_t blocks = 0;
  std::uint64_t free_blocks = 0;
  std::uint64_t avail_blocks = 0;
  std::uint64_t block_size = 0;
  std::uint64_t files = 0;
  std::uint64_t free_files = 0;
  std::uint64_t name_max = 0;
};

enum class Follow { yes, no };

struct SandboxOptions {
  Resolver resolver = Resolver::automatic;  // confined mode only
  PathPolicy policy{};
  mode_t umask = 022;
};

class Sandbox {
 public:
  // Errors: not_found / not_a_directory / permission when `root` cannot be opened as a directory.
  static Result<Sandbox> confined(std::string_view root, SandboxOptions options = {});
  // `start_dir` is the initial working directory (a bbftp system account starts at its home).
  static Result<Sandbox> unconfined(std::string_view start_dir = ".", SandboxOptions options = {});

  bool confined() const noexcept { return confined_; }
  Resolver resolver() const noexcept { return options_.resolver; }

  // The working directory: virtual ("/", "/a/b") when confined, real when unconfined.
  const std::string& cwd() const noexcept { return cwd_; }
  Result<void> chdir(std::string_view path);

  mode_t umask() const noexcept { return options_.umask; }
  mode_t set_umask(mode_t mask) noexcept;  // returns the previous one

  // The path a user would see for `path` (virtual when confined), for messages and listings.
  std::string display(std::string_view path) const;

  // The lexical checks every call makes first (length, NUL, the policy's UTF-8 and temporaries).
  Result<void> check(std::string_view path) const { return check_path(path, options_.policy); }

  Result<FileStat> stat(std::string_view path, Follow follow = Follow::yes) const;
  Result<FsStat> statfs(std::string_view path) const;
  // Every entry of a directory, "." and ".." included (".." of the root describes the root).
  Result<std::vector<EntryInfo>> list(std::string_view dir) const;

  // `mode` before the session umask. recursive: creates missing parents, an existing
  // directory is fine. Errors: exists (not recursive), not_found (missing parent).
  Result<void> mkdir(std::string_view path, mode_t mode = 0777, bool recursive = false) const;
  enum class Overwrite { allow, refuse };
  // refuse: an existing `to` is an `exists` error, decided atomically (RENAME_NOREPLACE).
  Result<void> rename(std::string_view from, std::string_view to,
                      Overwrite overwrite = Overwrite::allow) const;
  Result<void> unlink(std::string_view path) const;  // files and symlinks, not directories
  Result<void> rmdir(std::string_view path) const;   // empty directories
  Result<void> chmod(std::string_view path, mode_t mode) const;
  Result<void> set_times(std::string_view path, std::int64_t atime, std::int64_t mtime) const;

  Result<File> open_read(std::string_view path) const;
  // A file that appears under `path` only when committed (see atomic_writer.hpp).
  Result<AtomicWriter> create(std::string_view path, const WriteOptions& options) const;

  // Opens `path` with `flags` (see open_beneath); for callers that need a raw descriptor.
  Result<UniqueFd> open(std::string_view path, int flags, Follow follow = Follow::yes) const;

  // Removes beneath the root the temporaries (is_temporary_name) that no writer holds (a writer
  // keeps its temporary flock()ed): what a killed process left behind. Partial data kept for
  // resume (partial.hpp) goes only once unchanged for `partial_expiry`, with its record; a record
  // whose data is gone goes too. Never follows a symlink; looks at `max_entries` directory
  // entries at most. Returns how many files it removed.
  Result<std::size_t> remove_stale_temporaries(
      std::chrono::seconds partial_expiry = std::chrono::hours(24 * 7),
      std::size_t max_entries = 1'000'000) const;

  struct Parent {
    UniqueFd dir;      // O_PATH descriptor of the directory holding the entry
    std::string leaf;  // a plain name: never empty, ".", ".." or containing '/'
  };
  // Opens the directory that holds `path`'s last component. Errors: invalid_name (EINVAL) when
  // the path ends in ".." or names the root itself.
  Result<Parent> open_parent(std::string_view path) const;

 private:
  Sandbox(bool confined, UniqueFd root, SandboxOptions options)
      : confined_(confined), root_(std::move(root)), options_(options) {}

  // Confined: the path relative to the root ("a/b", "." for the root); unconfined: the path to
  // open relative to base_fd().
  std::string effective(std::string_view path) const;
  int base_fd(std::string_view path) const;
  Result<UniqueFd> resolve(std::string_view path, int flags) const;
  Result<std::string> describe_dir(int dir_fd, std::string_view fallback) const;

  bool confined_ = false;
  UniqueFd root_;          // confined: the root; unconfined: the working directory
  std::string root_real_;  // confined: the root's real path, to turn real paths into virtual ones
  std::string cwd_;
  SandboxOptions options_;
};

std::string_view to_string(FileType t) noexcept;

}  // namespace ferry::storage
