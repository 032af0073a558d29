#include "storage/sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2

#include "storage/fs_util.hpp"
#include "storage/partial.hpp"

namespace ferry::storage {
namespace {

FileType type_of(mode_t m) {
  if (S_ISREG(m)) return FileType::regular;
  if (S_ISDIR(m)) return FileType::directory;
  if (S_ISLNK(m)) return FileType::symlink;
  return FileType::other;
}

FileStat to_file_stat(const struct stat& st) {
  FileStat s;
  s.type = type_of(st.st_mode);
  s.inode = st.st_ino;
  s.mode = st.st_mode;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.block_size = static_cast<std::uint64_t>(st.st_blksize);
  s.blocks = static_cast<std::uint64_t>(st.st_blocks);
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.atime = st.st_atim.tv_sec;
  s.mtime = st.st_mtim.tv_sec;
  s.ctime = st.st_ctim.tv_sec;
  return s;
}

bool is_absolute(std::string_view p) {
  return !p.empty() && p.front() == '/';
}

template <class T>
Result<T> with_path(Result<T> r, std::string_view path) {
  if (!r) {
    Error e = std::move(r).error();
    e.path = std::string(path);
    return Unexpected(std::move(e));
  }
  return r;
}

}  // namespace

std::string_view to_string(FileType t) noexcept {
  switch (t) {
    case FileType::regular:
      return "file";
    case FileType::directory:
      return "directory";
    case FileType::symlink:
      return "symlink";
    case FileType::other:
      return "other";
  }
  return "other";
}

Result<Sandbox> Sandbox::confined(std::string_view root, SandboxOptions options) {
  if (root.empty()) return fail(Errc::invalid_name, ENOENT, root);
  if (options.resolver == Resolver::openat2 && !openat2_available()) {
    return fail(Errc::io, ENOSYS, "openat2");
  }
  UniqueFd fd(::open(std::string(root).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail(errno, root);
  Sandbox s(true, std::move(fd), options);
  s.root_real_ = detail::real_path_of(s.root_.get()).value_or(std::string());
  s.cwd_ = "/";
  return s;
}

Result<Sandbox> Sandbox::unconfined(std::string_view start_dir, SandboxOptions options) {
  const std::string dir = start_dir.empty() ? "." : std::string(start_dir);
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail(errno, start_dir);
  Sandbox s(false, std::move(fd), options);
  auto real = detail::real_path_of(s.root_.get());
  if (!real) {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr) return fail(errno, start_dir);
    real = normalize_absolute(join(buf, dir));
  }
  s.cwd_ = *real;
  return s;
}

mode_t Sandbox::set_umask(mode_t mask) noexcept {
  const mode_t old = options_.umask;
  options_.umask = mask & 0777;
  return old;
}

std::string Sandbox::effective(std::string_view path) const {
  if (!confined_) return std::string(path);
  std::string rel;
  auto add = [&rel](std::string_view p) {
    for (auto c : components(p)) {
      if (!rel.empty()) rel += '/';
      rel += c;
    }
  };
  if (!is_absolute(path)) add(cwd_);
  add(path);
  return rel.empty() ? "." : rel;
}

int Sandbox::base_fd(std::string_view path) const {
  return is_absolute(path) ? AT_FDCWD : root_.get();
}

std::string Sandbox::display(std::string_view path) const {
  if (confined_) return normalize_absolute("/" + effective(path));
  return is_absolute(path) ? std::string(path) : join(cwd_, path);
}

Result<UniqueFd> Sandbox::resolve(std::string_view path, int flags) const {
  if (auto ok = check_path(path, options_.policy); !ok) return Unexpected(std::move(ok).error());
  if (confined_) {
    return with_path(open_beneath(root_.get(), effective(path), flags, options_.resolver), path);
  }
  UniqueFd fd(::openat(base_fd(path), std::string(path).c_str(), flags | O_CLOEXEC));
  if (!fd) return fail(errno, path);
  return fd;
}

Result<UniqueFd> Sandbox::open(std::string_view path, int flags, Follow follow) const {
  return resolve(path, flags | (follow == Follow::no ? O_NOFOLLOW : 0));
}

Result<Sandbox::Parent> Sandbox::open_parent(std::string_view path) const {
  if (auto ok = check_path(path, options_.policy); !ok) return Unexpected(std::move(ok).error());
  if (confined_) {
    const std::string rel = effective(path);
    const auto parts = components(rel);
    if (parts.empty() || parts.back() == "..") return fail(Errc::invalid_name, EINVAL, path);
    std::string parent;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!parent.empty()) parent += '/';
      parent += parts[i];
    }
    auto dir = open_beneath(root_.get(), parent.empty() ? "." : parent, O_PATH | O_DIRECTORY,
                            options_.resolver);
    if (!dir) return with_path(Result<Parent>(Unexpected(std::move(dir).error())), path);
    return Parent{std::move(*dir), std::string(parts.back())};
  }
  auto [parent, leaf] = split_parent(path);
  if (leaf.empty() || leaf == "." || leaf == "..") return fail(Errc::invalid_name, EINVAL, path);
  const std::string dir_path = parent.empty() ? "." : parent;
  UniqueFd dir(::openat(base_fd(dir_path), dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return fail(errno, path);
  return Parent{std::move(dir), std::move(leaf)};
}

Result<std::string> Sandbox::describe_dir(int dir_fd, std::string_view fallback) const {
  auto real = detail::real_path_of(dir_fd);
  if (!confined_) return real ? *real : normalize_absolute(std::string(fallback));
  if (real && !root_real_.empty()) {
    if (root_real_ == "/") return *real;
    if (real->starts_with(root_real_)) {
      const auto rest = std::string_view(*real).substr(root_real_.size());
      if (rest.empty()) return std::string("/");
      if (rest.front() == '/') return std::string(rest);
    }
  }
  return normalize_absolute(std::string(fallback));
}

Result<void> Sandbox::chdir(std::string_view path) {
  auto fd = resolve(path, O_PATH | O_DIRECTORY);
  if (!fd) return Unexpected(std::move(fd).error());
  auto where = describe_dir(fd->get(), display(path));
  if (!where) return Unexpected(std::move(where).error());
  if (!confined_) root_ = std::move(*fd);
  cwd_ = std::move(*where);
  return {};
}

Result<FileStat> Sandbox::stat(std::string_view path, Follow follow) const {
  auto fd = open(path, O_PATH, follow);
  if (!fd) return Unexpected(std::move(fd).error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return fail(errno, path);
  return to_file_stat(st);
}

Result<FsStat> Sandbox::statfs(std::string_view path) const {
  auto fd = resolve(path, O_PATH);
  if (!fd) return Unexpected(std::move(fd).error());
  struct statvfs vfs {};
  if (::fstatvfs(fd->get(), &vfs) != 0) return fail(errno, path);
  FsStat s;
  s.blocks = vfs.f_blocks;
  s.free_blocks = vfs.f_bfree;
  s.avail_blocks = vfs.f_bavail;
  s.block_size = vfs.f_bsize;
  s.files = vfs.f_files;
  s.free_files = vfs.f_ffree;
  s.name_max = vfs.f_namemax;
  return s;
}

Result<std::vector<EntryInfo>> Sandbox::list(std::string_view dir) const {
  auto fd = resolve(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return Unexpected(std::move(fd).error());
  struct stat here {
  }, root{};
  if (::fstat(fd->get(), &here) != 0) return fail(errno, dir);
  const bool at_root = confined_ && ::fstat(root_.get(), &root) == 0 &&
                       root.st_dev == here.st_dev && root.st_ino == here.st_ino;

  const int dir_fd = fd->get();
  DIR* d = ::fdopendir(fd->release());
  if (d == nullptr) return fail(errno, dir);
  std::vector<EntryInfo> out;
  const std::string rel_dir = effective(dir);
  errno = 0;
  while (const dirent* de = ::readdir(d)) {
    EntryInfo e;
    e.name = de->d_name;
    if (options_.policy.hide_temporaries && is_temporary_name(e.name)) continue;
    struct stat st {};
    int rc;
    if (e.name == ".." && at_root) {
      st = root;  // the root has no parent a client may see
      rc = 0;
    } else {
      rc = ::fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
    }
    if (rc != 0) {
      errno = 0;
      continue;  // vanished while we listed
    }
    e.type = e.target = type_of(st.st_mode);
    if (e.type == FileType::symlink) {
      struct stat target {};
      bool ok;
      if (confined_) {
        auto t = open_beneath(root_.get(), rel_dir + "/" + e.name, O_PATH, options_.resolver);
        ok = t && ::fstat(t->get(), &target) == 0;
      } else {
        ok = ::fstatat(dir_fd, de->d_name, &target, 0) == 0;
      }
      if (ok) {
        st = target;
        e.target = type_of(target.st_mode);
      } else {
        e.dangling = true;
        e.target = FileType::other;
      }
    }
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.mode = st.st_mode & 07777;
    e.mtime = st.st_mtim.tv_sec;
    out.push_back(std::move(e));
    errno = 0;
  }
  const int e = errno;
  ::closedir(d);
  if (e != 0) return fail(e, dir);
  return out;
}

Result<void> Sandbox::mkdir(std::string_view path, mode_t mode, bool recursive) const {
  if (recursive) {
    if (auto ok = check_path(path, options_.policy); !ok) return ok;
    std::string prefix = is_absolute(path) ? "/" : "";
    for (auto c : components(path)) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += c;
      if (c == "..") continue;
      auto made = mkdir(prefix, mode, false);
      if (!made && made.error().code == Errc::exists) {
        auto st = stat(prefix);
        if (st && st->type == FileType::directory) continue;
        return fail(Errc::exists, EEXIST, path);
      }
      if (!made) return with_path(std::move(made), path);
    }
    return {};
  }
  auto parent = open_parent(path);
  if (!parent) {
    if (parent.error().code == Errc::invalid_name && parent.error().sys_errno == EINVAL) {
      return fail(EEXIST, path);  // the root, or a path ending in "..": both exist
    }
    return Unexpected(std::move(parent).error());
  }
  const mode_t wanted = mode & ~options_.umask & 07777;
  // Made readable and searchable by its owner first, so that it can be opened for real (a
  // confined session may chmod only through descriptors); then the process umask, which also
  // applied, is replaced by exactly the session's mode.
  if (::mkdirat(parent->dir.get(), parent->leaf.c_str(), wanted | S_IRUSR | S_IXUSR) != 0) {
    return fail(errno, path);
  }
  UniqueFd made(::openat(parent->dir.get(), parent->leaf.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!made || ::fchmod(made.get(), wanted) != 0) return fail(errno, path);
  return {};
}

Result<void> Sandbox::rename(std::string_view from, std::string_view to,
                             Overwrite overwrite) const {
  auto src = open_parent(from);
  if (!src) return Unexpected(std::move(src).error());
  auto dst = open_parent(to);
  if (!dst) return Unexpected(std::move(dst).error());
  const unsigned flags = overwrite == Overwrite::refuse ? RENAME_NOREPLACE : 0;
  if (::renameat2(src->dir.get(), src->leaf.c_str(), dst->dir.get(), dst->leaf.c_str(), flags) !=
      0) {
    return fail(errno, errno == ENOENT ? from : to);
  }
  return {};
}

Result<void> Sandbox::unlink(std::string_view path) const {
  auto parent = open_parent(path);
  if (!parent) return Unexpected(std::move(parent).error());
  if (::unlinkat(parent->dir.get(), parent->leaf.c_str(), 0) != 0) return fail(errno, path);
  return {};
}

namespace {
bool remove_if_unheld(int dir, const char* name);

// Removes the temporaries in `dir` that nobody holds (and records whose data is gone), so that
// a directory that looks empty to every client can be removed. True if only those were there.
bool clear_unheld_temporaries(int dir) {
  DIR* d = ::fdopendir(dir);
  if (d == nullptr) {
    ::close(dir);
    return false;
  }
  bool only_temporaries = true;
  std::vector<std::string> records;
  while (const dirent* de = ::readdir(d)) {
    const std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (!is_temporary_name(name) ||
        ::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      only_temporaries = false;
      continue;
    }
    if (is_partial_name(name) && !is_partial_data_name(name)) {
      records.emplace_back(name);  // once the data files have been looked at
    } else if (!remove_if_unheld(::dirfd(d), de->d_name)) {
      only_temporaries = false;  // being written
    }
  }
  for (const auto& r : records) {
    struct stat dst {};
    if (::fstatat(::dirfd(d), data_name_of(r).c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno == ENOENT) {
      ::unlinkat(::dirfd(d), r.c_str(), 0);
    }
  }
  ::closedir(d);
  return only_temporaries;
}
}  // namespace

Result<void> Sandbox::rmdir(std::string_view path) const {
  auto parent = open_parent(path);
  if (!parent) return Unexpected(std::move(parent).error());
  if (::unlinkat(parent->dir.get(), parent->leaf.c_str(), AT_REMOVEDIR) == 0) return {};
  int e = errno == EEXIST ? ENOTEMPTY : errno;
  // Hidden temporaries (what killed uploads left, partial data kept for a resume) must not keep
  // a directory every listing shows empty: those nobody holds go first.
  if (e == ENOTEMPTY && options_.policy.hide_temporaries) {
    const int dir = ::openat(parent->dir.get(), parent->leaf.c_str(),
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir >= 0 && clear_unheld_temporaries(dir) &&
        ::unlinkat(parent->dir.get(), parent->leaf.c_str(), AT_REMOVEDIR) == 0) {
      return {};
    }
    e = ENOTEMPTY;
  }
  return fail(e, path);
}

Result<void> Sandbox::chmod(std::string_view path, mode_t mode) const {
  auto fd = resolve(path, O_PATH);
  if (!fd) return Unexpected(std::move(fd).error());
  if (detail::chmod_fd(fd->get(), mode & 07777) != 0) return fail(errno, path);
  return {};
}

Result<void> Sandbox::set_times(std::string_view path, std::int64_t atime,
                                std::int64_t mtime) const {
  auto fd = resolve(path, O_PATH);
  if (!fd) return Unexpected(std::move(fd).error());
  const timespec times[2] = {{static_cast<time_t>(atime), 0}, {static_cast<time_t>(mtime), 0}};
  if (::utimensat(AT_FDCWD, detail::proc_fd_path(fd->get()).c_str(), times, 0) != 0) {
    return fail(errno, path);
  }
  return {};
}

Result<File> Sandbox::open_read(std::string_view path) const {
  // O_NONBLOCK so that a FIFO cannot stall the open; it is refused below anyway.
  auto fd = resolve(path, O_RDONLY | O_NONBLOCK);
  if (!fd) return Unexpected(std::move(fd).error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return fail(errno, path);
  if (S_ISDIR(st.st_mode)) return fail(EISDIR, path);
  if (!S_ISREG(st.st_mode)) return fail(Errc::invalid_name, EINVAL, path);
  const int flags = ::fcntl(fd->get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd->get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return fail(errno, path);
  }
  return File(std::move(*fd), display(path));
}

Result<AtomicWriter> Sandbox::create(std::string_view path, const WriteOptions& options) const {
  auto parent = open_parent(path);
  if (!parent) {
    if (parent.error().code == Errc::invalid_name && parent.error().sys_errno == EINVAL) {
      return fail(EISDIR, path);
    }
    return Unexpected(std::move(parent).error());
  }
  return AtomicWriter::open({std::move(parent->dir), std::move(parent->leaf), display(path)},
                            options, options_.umask);
}

namespace {

// A temporary nobody holds: its writer would keep it flock()ed until commit or abort.
bool remove_if_unheld(int dir, const char* name) {
  UniqueFd fd(::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  struct stat held {
  }, named{};
  if (::fstat(fd.get(), &held) != 0 || !S_ISREG(held.st_mode) ||
      ::fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) != 0 || held.st_ino != named.st_ino ||
      held.st_dev != named.st_dev) {
    return false;
  }
  return ::unlinkat(dir, name, 0) == 0;
}

}  // namespace

Result<std::size_t> Sandbox::remove_stale_temporaries(std::chrono::seconds partial_expiry,
                                                      std::size_t max_entries) const {
  const std::int64_t now = ::time(nullptr);
  // A record being saved has no data file under the name yet for an instant: orphans must be
  // a minute old.
  constexpr std::int64_t kOrphanAge = 60;
  auto older_than = [&](const struct stat& st, std::int64_t age) {
    return now - static_cast<std::int64_t>(st.st_mtime) >= age;
  };
  constexpr std::size_t kMaxDepth = 64;
  std::size_t removed = 0, seen = 0;
  struct Level {
    DIR* dir;
  };
  std::vector<Level> stack;
  auto push = [&](int fd) -> bool {
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return false;
    }
    stack.push_back({d});
    return true;
  };
  const int top = ::openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0 || !push(top)) return fail(errno, display("/"));
  while (!stack.empty() && seen < max_entries) {
    DIR* d = stack.back().dir;
    const dirent* de = ::readdir(d);
    if (de == nullptr) {
      ::closedir(d);
      stack.pop_back();
      continue;
    }
    ++seen;
    const std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    const int dfd = ::dirfd(d);
    struct stat st {};
    if (::fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (stack.size() >= kMaxDepth) continue;
      // O_NOFOLLOW: a directory swapped for a symlink meanwhile is not entered.
      const int sub = ::openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) push(sub);
    } else if (!S_ISREG(st.st_mode) || !is_temporary_name(name)) {
      continue;
    } else if (is_partial_data_name(name)) {
      if (older_than(st, partial_expiry.count()) && remove_if_unheld(dfd, de->d_name)) {
        ++removed;
        if (::unlinkat(dfd, record_name_of(name).c_str(), 0) == 0) ++removed;
      }
    } else if (is_partial_name(name)) {  // a record, or a record's new copy
      const std::string data = data_name_of(name);
      struct stat dst {};
      if (older_than(st, kOrphanAge) &&
          ::fstatat(dfd, data.c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
          ::unlinkat(dfd, de->d_name, 0) == 0) {
        ++removed;
      }
    } else if (remove_if_unheld(dfd, de->d_name)) {
      ++removed;
    }
  }
  for (auto& l : stack) ::closedir(l.dir);
  return removed;
}

}  // namespace ferry::storage
