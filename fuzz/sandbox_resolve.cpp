// Confinement under fuzzing: whatever path comes in, anything the sandbox opens lies beneath the
// root, and both resolvers give the same answer. The tree is made once, with outward symlinks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "storage/sandbox.hpp"

namespace {

struct Tree {
  std::string base, root;
  Tree() {
    char tmpl[] = "/tmp/ferry-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    FUZZ_CHECK(::mkdir(root.c_str(), 0755) == 0);
    FUZZ_CHECK(::mkdir((base + "/outside").c_str(), 0755) == 0);
    FUZZ_CHECK(::mkdir((root + "/a").c_str(), 0755) == 0);
    FUZZ_CHECK(::mkdir((root + "/a/b").c_str(), 0755) == 0);
    FUZZ_CHECK(::symlink("..", (root + "/up").c_str()) == 0);
    FUZZ_CHECK(::symlink("/etc", (root + "/etc").c_str()) == 0);
    FUZZ_CHECK(::symlink("a/b", (root + "/in").c_str()) == 0);
    FUZZ_CHECK(::symlink("../../outside", (root + "/a/out").c_str()) == 0);
    FUZZ_CHECK(::symlink("l2", (root + "/l1").c_str()) == 0);
    FUZZ_CHECK(::symlink("l1", (root + "/l2").c_str()) == 0);
  }
  ~Tree() {
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
  }
};

const std::string& root_real(const Tree& t) {
  static const std::string real = [&] {
    char buf[4096];
    FUZZ_CHECK(::realpath(t.root.c_str(), buf) != nullptr);
    return std::string(buf);
  }();
  return real;
}

bool beneath(int fd, const std::string& root) {
  char buf[4096];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf);
  if (n <= 0) return false;
  const std::string_view p(buf, static_cast<std::size_t>(n));
  return p == root || (p.starts_with(root) && p[root.size()] == '/');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::storage;
  static const Tree tree;
  const std::string_view path(reinterpret_cast<const char*>(data), size);
  auto walk = Sandbox::confined(tree.root, {.resolver = Resolver::walk});
  FUZZ_CHECK(static_cast<bool>(walk));
  auto a = walk->open(path, O_PATH);
  if (a) FUZZ_CHECK(beneath(a->get(), root_real(tree)));
  if (openat2_available()) {
    auto kernel = Sandbox::confined(tree.root, {.resolver = Resolver::openat2});
    FUZZ_CHECK(static_cast<bool>(kernel));
    auto b = kernel->open(path, O_PATH);
    FUZZ_CHECK(a.has_value() == b.has_value());
    if (b) FUZZ_CHECK(beneath(b->get(), root_real(tree)));
    if (!a && !b) {
      // Kernel quirk: a ".." at the root under RESOLVE_BENEATH makes the RCU walk retry in
      // ref-walk mode without resetting the symlink count, so an escape after ~20 symlinks comes
      // back as ELOOP. Both refuse; only that pair of codes may differ.
      const auto x = a.error().code, y = b.error().code;
      FUZZ_CHECK(x == y || (x == Errc::escape && y == Errc::symlink_loop));
    }
  }
  return 0;
}
