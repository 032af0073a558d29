#include "storage/atomic_writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include "storage/fs_util.hpp"
#include "storage/partial.hpp"
#include "storage/path.hpp"

namespace ferry::storage {
namespace {

constexpr int kReserveAttempts = 8;

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Hidden names next to the target. Names too long to decorate are replaced by their hash, so a
// 255-byte target name still gets a temporary.
std::string decorated(std::string_view leaf, std::string_view suffix) {
  std::string name = "." + std::string(leaf) + std::string(suffix);
  if (name.size() <= kMaxNameBytes) return name;
  return ".ferry-" + hex64(XXH3_64bits(leaf.data(), leaf.size())) + std::string(suffix);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::string(kRandomInfix) + hex64(rng()).substr(0, kRandomHexDigits);
}

bool same_inode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

std::string reserved_temp_name(std::string_view leaf) {
  return decorated(leaf, kReservedSuffix);
}

AtomicWriter::AtomicWriter(AtomicWriter&& o) noexcept
    : target_(std::move(o.target_)),
      options_(o.options_),
      final_mode_(o.final_mode_),
      file_(std::move(o.file_)),
      temp_name_(std::move(o.temp_name_)),
      resume_size_(o.resume_size_),
      done_(std::exchange(o.done_, true)) {}

AtomicWriter& AtomicWriter::operator=(AtomicWriter&& o) noexcept {
  if (this != &o) {
    abort(options_.resumable ? Partial::keep : Partial::drop);
    target_ = std::move(o.target_);
    options_ = o.options_;
    final_mode_ = o.final_mode_;
    file_ = std::move(o.file_);
    temp_name_ = std::move(o.temp_name_);
    resume_size_ = o.resume_size_;
    done_ = std::exchange(o.done_, true);
  }
  return *this;
}

AtomicWriter::~AtomicWriter() {
  abort(options_.resumable ? Partial::keep : Partial::drop);
}

Result<AtomicWriter> AtomicWriter::open(Target target, const WriteOptions& options, mode_t umask) {
  struct stat st {};
  if (::fstatat(target.dir.get(), target.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(EISDIR, target.shown);
    if (options.collision == Collision::exclusive) return fail(EEXIST, target.shown);
    // Like the real bbftpd: an existing file the user may not write is not replaced.
    if (S_ISREG(st.st_mode) &&
        ((st.st_mode & 0222) == 0 ||
         ::faccessat(target.dir.get(), target.leaf.c_str(), W_OK, AT_EACCESS) != 0)) {
      return fail(EACCES, target.shown);
    }
  } else if (errno != ENOENT) {
    return fail(errno, target.shown);
  }

  AtomicWriter w(std::move(target), options,
                 (options.exact_mode ? options.mode : options.mode & ~umask) & 07777);
  auto opened = (options.collision == Collision::exclusive || options.resumable)
                    ? w.open_reserved()
                    : w.open_anonymous();
  if (!opened) {
    w.abort(options.resumable ? Partial::keep : Partial::drop);
    return Unexpected(std::move(opened).error());
  }
  if (auto r = w.preallocate(); !r) {
    w.abort(Partial::drop);
    return Unexpected(std::move(r).error());
  }
  return w;
}

Result<void> AtomicWriter::preallocate() const {
  if (options_.preallocate == 0) return {};
  const auto len = static_cast<off_t>(options_.preallocate);
  if (::fallocate(fd(), 0, 0, len) == 0) return {};
  const int e = errno;
  // Filesystems without fallocate still get the final size, so streams can pwrite anywhere.
  if ((e != EOPNOTSUPP && e != ENOSYS) || ::ftruncate(fd(), len) != 0) {
    return fail(e, target_.shown);
  }
  return {};
}

Result<void> AtomicWriter::open_anonymous() {
  if (detail::proc_fd_usable()) {
    const int fd = ::openat(target_.dir.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
      (void)::flock(fd, LOCK_EX | LOCK_NB);  // held once it gets a name (see move_into_place)
      file_ = File(UniqueFd(fd), target_.shown);
      return {};
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return fail(errno, target_.shown);
    }
  }
  // No O_TMPFILE here: a hidden, randomly named file created exclusively.
  for (int attempt = 0; attempt < kReserveAttempts; ++attempt) {
    std::string name = decorated(target_.leaf, random_suffix());
    const int fd = ::openat(target_.dir.get(), name.c_str(),
                            O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      // Locked like a reserved temporary: a sweep for abandoned ones leaves it alone.
      (void)::flock(fd, LOCK_EX | LOCK_NB);
      file_ = File(UniqueFd(fd), target_.shown);
      temp_name_ = std::move(name);
      return {};
    }
    if (errno != EEXIST) return fail(errno, target_.shown);
  }
  return fail(EEXIST, target_.shown);
}

// The reserved temporary has a stable name and is locked with flock while written: a second
// writer of the same name finds it locked and fails at once. A lock taken on a file that was
// renamed or unlinked meanwhile is worthless, so the name is checked to still lead to our inode.
Result<void> AtomicWriter::open_reserved() {
  const std::string name =
      options_.resumable ? partial_data_name(target_.leaf) : reserved_temp_name(target_.leaf);
  const int dir = target_.dir.get();
  for (int attempt = 0; attempt < kReserveAttempts; ++attempt) {
    UniqueFd fd(::openat(dir, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail(errno, target_.shown);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        // Being written by someone else right now.
        return fail(options_.collision == Collision::exclusive ? EEXIST : EBUSY, target_.shown);
      }
      return fail(errno, target_.shown);
    }
    struct stat mine {
    }, named{};
    if (::fstat(fd.get(), &mine) != 0) return fail(errno, target_.shown);
    if (::fstatat(dir, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 ||
        !same_inode(mine, named)) {
      continue;  // renamed into place or dropped by its previous owner: take a fresh one
    }
    if (!S_ISREG(mine.st_mode)) return fail(EEXIST, target_.shown);
    temp_name_ = name;
    file_ = File(std::move(fd), target_.shown);

    struct stat final_st {};
    if (options_.collision == Collision::exclusive &&
        ::fstatat(dir, target_.leaf.c_str(), &final_st, AT_SYMLINK_NOFOLLOW) == 0) {
      abort(options_.resumable ? Partial::keep : Partial::drop);
      return fail(EEXIST, target_.shown);
    }
    if (options_.resumable) {
      resume_size_ = static_cast<std::uint64_t>(mine.st_size);
    } else if (mine.st_size != 0 && ::ftruncate(file_.fd(), 0) != 0) {
      return fail(errno, target_.shown);  // a stale leftover of a killed writer
    }
    return {};
  }
  return fail(EBUSY, target_.shown);
}

Result<void> AtomicWriter::set_times(std::int64_t atime, std::int64_t mtime) const {
  const timespec times[2] = {{static_cast<time_t>(atime), 0}, {static_cast<time_t>(mtime), 0}};
  if (::futimens(fd(), times) != 0) return fail(errno, target_.shown);
  return {};
}

Result<void> AtomicWriter::commit() {
  if (done_) return fail(EINVAL, target_.shown);
  const Partial on_error = options_.resumable ? Partial::keep : Partial::drop;
  if (options_.sync && ::fsync(fd()) != 0) {
    const int e = errno;
    abort(on_error);
    return fail(e, target_.shown);
  }
  if (::fchmod(fd(), final_mode_) != 0) {
    const int e = errno;
    abort(on_error);
    return fail(e, target_.shown);
  }
  if (auto moved = move_into_place(); !moved) {
    abort(on_error);
    return moved;
  }
  done_ = true;
  file_.close();
  if (options_.resumable) drop_record();
  if (options_.sync) {
    UniqueFd d(::openat(target_.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d || ::fsync(d.get()) != 0) return fail(errno, target_.shown);
  }
  return {};
}

Result<void> AtomicWriter::move_into_place() {
  const int dir = target_.dir.get();
  const char* leaf = target_.leaf.c_str();
  if (temp_name_.empty()) {
    // Anonymous O_TMPFILE: give it a hidden name first (linkat through /proc needs no
    // privilege), then rename over the target, which replaces atomically.
    std::string name = decorated(target_.leaf, random_suffix());
    if (::linkat(AT_FDCWD, detail::proc_fd_path(fd()).c_str(), dir, name.c_str(),
                 AT_SYMLINK_FOLLOW) != 0) {
      return fail(errno, target_.shown);
    }
    temp_name_ = std::move(name);
  }
  if (options_.collision == Collision::exclusive) {
    if (::renameat2(dir, temp_name_.c_str(), dir, leaf, RENAME_NOREPLACE) == 0) return {};
    if (errno != EINVAL) return fail(errno, target_.shown);
    // Filesystems without RENAME_NOREPLACE: link() refuses an existing name just the same.
    if (::linkat(dir, temp_name_.c_str(), dir, leaf, 0) != 0) return fail(errno, target_.shown);
    ::unlinkat(dir, temp_name_.c_str(), 0);
    return {};
  }
  if (::renameat(dir, temp_name_.c_str(), dir, leaf) != 0) return fail(errno, target_.shown);
  return {};
}

void AtomicWriter::abort(Partial partial) noexcept {
  if (done_) return;
  done_ = true;
  struct stat st {};
  const bool kept = options_.resumable && !temp_name_.empty() &&
                    temp_name_ == partial_data_name(target_.leaf) && partial == Partial::keep &&
                    ::fstat(fd(), &st) == 0 && st.st_size > 0;  // an empty one is of no use
  if (!temp_name_.empty() && !kept) {
    drop_temp();
    if (options_.resumable) drop_record();
  }
  file_.close();  // releases the reservation lock last
}

void AtomicWriter::drop_temp() noexcept {
  ::unlinkat(target_.dir.get(), temp_name_.c_str(), 0);
}

void AtomicWriter::drop_record() const noexcept {
  ::unlinkat(target_.dir.get(), partial_record_name(target_.leaf).c_str(), 0);
}

Result<void> AtomicWriter::save_record(Bytes record) const {
  if (!options_.resumable || done_) return fail(EINVAL, target_.shown);
  const int dir = target_.dir.get();
  // The new copy's name is ours alone while we hold the partial data's lock.
  const std::string name = partial_record_name(target_.leaf);
  const std::string fresh = record_fresh_name(target_.leaf);
  UniqueFd fd(
      ::openat(dir, fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return fail(errno, target_.shown);
  File f(std::move(fd), target_.shown);
  if (auto w = f.pwrite_all(record, 0); !w) {
    ::unlinkat(dir, fresh.c_str(), 0);
    return w;
  }
  f.close();
  if (::renameat(dir, fresh.c_str(), dir, name.c_str()) != 0) {
    const int e = errno;
    ::unlinkat(dir, fresh.c_str(), 0);
    return fail(e, target_.shown);
  }
  return {};
}

std::optional<std::vector<std::uint8_t>> AtomicWriter::load_record(std::size_t max_bytes) const {
  if (!options_.resumable) return std::nullopt;
  UniqueFd fd(::openat(target_.dir.get(), partial_record_name(target_.leaf).c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return std::nullopt;
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
  File f(std::move(fd), target_.shown);
  auto r = f.pread_some({reinterpret_cast<std::byte*>(out.data()), out.size()}, 0);
  if (!r) return std::nullopt;
  out.resize(*r);
  return out;
}

Result<File> AtomicWriter::open_record_for_append() const {
  if (!options_.resumable || done_) return fail(EINVAL, target_.shown);
  UniqueFd fd(::openat(target_.dir.get(), partial_record_name(target_.leaf).c_str(),
                       O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return fail(errno, target_.shown);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno, target_.shown);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, target_.shown);
  return File(std::move(fd), target_.shown);
}

Result<void> AtomicWriter::discard_partial() {
  if (!options_.resumable || done_) return fail(EINVAL, target_.shown);
  drop_record();
  if (::ftruncate(fd(), 0) != 0) return fail(errno, target_.shown);
  resume_size_ = 0;
  return preallocate();  // the room the emptied file had, again
}

}  // namespace ferry::storage
