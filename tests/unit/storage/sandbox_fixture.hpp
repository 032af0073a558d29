// A confined tree with every kind of trap next to it, shared by the storage tests.
//
//   <tmp>/outside/secret.txt          what no confined path may reach
//   <tmp>/root/                       the sandbox root
//     file.txt  dir/sub/deep.txt  "with space/f.txt"  ünïcödé/  swap/
//     link_in -> dir/sub          link_root_up -> ..        link_etc -> /etc
//     link_abs_inside -> <root>/dir                          link_out_rel -> ../outside
//     dir/link_out_deep -> ../../outside                    dir/up2 -> ../..
//     link_chain -> link_out_rel  loop_a <-> loop_b          self_loop -> self_loop
//     link_proc -> /proc/self/root                          dangling -> missing
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::storage {
inline void PrintTo(Resolver r, std::ostream* os) {
  *os << (r == Resolver::openat2 ? "openat2" : r == Resolver::walk ? "walk" : "auto");
}
}  // namespace ferry::storage

namespace ferry::test {

inline const std::string kLongName255(255, 'n');
inline const std::string kLongName256(256, 'n');

class SandboxTree {
 public:
  SandboxTree() {
    root = tmp / "root";
    outside = tmp / "outside";
    mk(outside);
    write_file(outside + "/secret.txt", "secret");
    mk(root);
    write_file(root + "/file.txt", "hello");
    mk(root + "/dir");
    mk(root + "/dir/sub");
    write_file(root + "/dir/sub/deep.txt", "deep");
    mk(root + "/with space");
    write_file(root + "/with space/f.txt", "space");
    mk(root + "/ünïcödé");
    mk(root + "/swap");
    write_file(root + "/" + kLongName255, "long");
    ln("dir/sub", root + "/link_in");
    ln("..", root + "/link_root_up");
    ln("/etc", root + "/link_etc");
    ln(root + "/dir", root + "/link_abs_inside");
    ln("../outside", root + "/link_out_rel");
    ln("../../outside", root + "/dir/link_out_deep");
    ln("../..", root + "/dir/up2");
    ln("link_out_rel", root + "/link_chain");
    ln("loop_b", root + "/loop_a");
    ln("loop_a", root + "/loop_b");
    ln("self_loop", root + "/self_loop");
    ln("/proc/self/root", root + "/link_proc");
    ln("missing", root + "/dangling");
  }

  static void mk(const std::string& p) { ASSERT_EQ(::mkdir(p.c_str(), 0755), 0) << p; }
  static void ln(const std::string& target, const std::string& p) {
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }
  static ino_t inode(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_ino;
  }

  TempDir tmp;
  std::string root;
  std::string outside;
};

inline std::string resolver_name(storage::Resolver r) {
  switch (r) {
    case storage::Resolver::openat2:
      return "openat2";
    case storage::Resolver::walk:
      return "walk";
    case storage::Resolver::automatic:
      return "auto";
  }
  return "unknown";
}

// The resolvers this machine can run: the walk always, openat2 when the kernel has it.
inline std::vector<storage::Resolver> available_resolvers() {
  std::vector<storage::Resolver> out{storage::Resolver::walk};
  if (storage::openat2_available()) out.insert(out.begin(), storage::Resolver::openat2);
  return out;
}

}  // namespace ferry::test
