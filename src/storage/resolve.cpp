#include "storage/resolve.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string>
#include <vector>

#include "storage/path.hpp"

namespace ferry::storage {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr int kMaxRetries = 16;   // openat2 says EAGAIN when a rename raced with ".."

long sys_openat2(int dirfd, const char* path, open_how* how) {
  // glibc 2.36 has no wrapper for openat2.
  return ::syscall(SYS_openat2, dirfd, path, how, sizeof(open_how));
}

Unexpected<Error> escape(std::string_view path) {
  return fail(Errc::escape, EACCES, path);
}

Result<UniqueFd> via_openat2(int root_fd, std::string_view path, int flags) {
  std::string rel;
  for (auto c : components(path)) {
    if (!rel.empty()) rel += '/';
    rel += c;
  }
  if (rel.empty()) rel.push_back('.');
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    const long fd = sys_openat2(root_fd, rel.c_str(), &how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int e = errno;
    if ((e == EAGAIN || e == EINTR) && attempt < kMaxRetries) continue;
    if (e == EXDEV) return escape(path);
    return fail(e, path);
  }
}

// The walk keeps a stack of directory descriptors below the root, so ".." is a pop and can never
// go above the root, and opens every component with O_NOFOLLOW so a symlink is seen as such and
// expanded here, where absolute targets are refused.
Result<UniqueFd> via_walk(int root_fd, std::string_view path, int flags) {
  std::deque<std::string> pending;
  for (auto c : components(path)) pending.emplace_back(c);
  std::vector<UniqueFd> stack;
  auto here = [&] { return stack.empty() ? root_fd : stack.back().get(); };
  const bool follow_final = (flags & O_NOFOLLOW) == 0;
  int expansions = 0;
  int reopen_races = 0;

  while (!pending.empty()) {
    const std::string name = std::move(pending.front());
    pending.pop_front();
    const bool last = pending.empty();

    if (name == "..") {
      if (stack.empty()) return escape(path);
      stack.pop_back();
      continue;
    }

    UniqueFd node(::openat(here(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!node) return fail(errno, path);
    struct stat st {};
    if (::fstat(node.get(), &st) != 0) return fail(errno, path);

    if (S_ISLNK(st.st_mode) && (!last || follow_final)) {
      if (++expansions > kMaxSymlinks) return fail(ELOOP, path);
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
      const ssize_t n = ::readlinkat(node.get(), "", target.data(), target.size());
      if (n < 0) return fail(errno, path);
      target.resize(static_cast<std::size_t>(n));
      if (target.empty()) return fail(ENOENT, path);
      if (target.front() == '/') return escape(path);
      const auto parts = components(target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.emplace_front(*it);
      continue;
    }

    if (!last) {
      if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR, path);
      stack.push_back(std::move(node));
      continue;
    }

    // Final component, not a symlink to expand: hand out the O_PATH node itself when that is what
    // was asked, else reopen the name without following; a swap to a symlink in between makes
    // that fail with ELOOP, and we look again.
    if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) return fail(ENOTDIR, path);
    if ((flags & O_PATH) != 0) return node;
    UniqueFd fd(::openat(here(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      const int e = errno;
      if (e == ELOOP && follow_final && ++reopen_races < kMaxRetries) {
        pending.push_front(name);
        continue;
      }
      return fail(e, path);
    }
    return fd;
  }

  // Every component was consumed by "." / ".." handling: open the directory we ended in.
  UniqueFd fd(::openat(here(), ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC));
  if (!fd) return fail(errno, path);
  return fd;
}

}  // namespace

bool openat2_available() noexcept {
  static const bool available = [] {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH;
    const long fd = sys_openat2(AT_FDCWD, ".", &how);
    if (fd < 0) return errno != ENOSYS && errno != EPERM;
    ::close(static_cast<int>(fd));
    return true;
  }();
  return available;
}

Result<UniqueFd> open_beneath(int root_fd, std::string_view path, int flags, Resolver how) {
  if (how == Resolver::automatic) how = openat2_available() ? Resolver::openat2 : Resolver::walk;
  if (how == Resolver::openat2) return via_openat2(root_fd, path, flags);
  return via_walk(root_fd, path, flags);
}

}  // namespace ferry::storage
