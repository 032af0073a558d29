// Confinement: every escape attempt is refused with a clear error and every legal path resolves
// inside the root, identically for the openat2 resolver and the component walk.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <tuple>

#include "sandbox_fixture.hpp"

namespace ferry::test {
namespace {

using storage::Errc;
using storage::Resolver;
using storage::Sandbox;

struct EscapeCase {
  const char* name;
  std::string path;
  Errc expected;
  int expected_errno;
};

void PrintTo(const EscapeCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<EscapeCase>& escape_cases() {
  static const std::vector<EscapeCase> cases = {
      {"DotDot", "..", Errc::escape, EACCES},
      {"DotDotSlash", "../", Errc::escape, EACCES},
      {"RootDotDot", "/..", Errc::escape, EACCES},
      {"DotSlashDotDot", "./..", Errc::escape, EACCES},
      {"DotDotToSibling", "../outside/secret.txt", Errc::escape, EACCES},
      {"InnerThenPastRoot", "dir/../../outside/secret.txt", Errc::escape, EACCES},
      {"DeepPastRoot", "dir/sub/../../../outside", Errc::escape, EACCES},
      {"AbsoluteDeepPastRoot", "/dir/sub/../../..", Errc::escape, EACCES},
      {"DotsMixedPastRoot", "dir/./../..", Errc::escape, EACCES},
      {"ManyDotDotsToEtc", "dir/sub/../../../../../../etc/passwd", Errc::escape, EACCES},
      {"DotDotAtEnd", "dir/sub/../../..", Errc::escape, EACCES},
      {"DotDotBackIntoRoot", "../root/file.txt", Errc::escape, EACCES},
      {"SymlinkAtRootToParent", "link_root_up", Errc::escape, EACCES},
      {"ThroughRootParentLink", "link_root_up/outside/secret.txt", Errc::escape, EACCES},
      {"SymlinkToEtc", "link_etc", Errc::escape, EACCES},
      {"ThroughSymlinkToEtc", "link_etc/passwd", Errc::escape, EACCES},
      {"AbsoluteSymlinkPointingInside", "link_abs_inside", Errc::escape, EACCES},
      {"SymlinkToProcRoot", "link_proc/etc/passwd", Errc::escape, EACCES},
      {"RelativeSymlinkOut", "link_out_rel/secret.txt", Errc::escape, EACCES},
      {"DeepRelativeSymlinkOut", "dir/link_out_deep", Errc::escape, EACCES},
      {"SymlinkToGrandparent", "dir/up2/outside", Errc::escape, EACCES},
      {"SymlinkChainOut", "link_chain/secret.txt", Errc::escape, EACCES},
      {"InsideSymlinkThenPastRoot", "link_in/../../..", Errc::escape, EACCES},
      {"SymlinkLoop", "loop_a", Errc::symlink_loop, ELOOP},
      {"SymlinkSelfLoop", "self_loop/x", Errc::symlink_loop, ELOOP},
      {"NulByte", std::string("file.txt\0/../../etc", 19), Errc::invalid_name, EINVAL},
      {"Name256", kLongName256, Errc::name_too_long, ENAMETOOLONG},
      {"Name256InDir", "dir/" + kLongName256, Errc::name_too_long, ENAMETOOLONG},
  };
  return cases;
}

class EscapeTest : public ::testing::TestWithParam<std::tuple<Resolver, EscapeCase>> {
 protected:
  SandboxTree tree;
};

TEST_P(EscapeTest, IsRefusedForReadingAndStat) {
  const auto& [resolver, c] = GetParam();
  auto sb = Sandbox::confined(tree.root, {.resolver = resolver});
  ASSERT_TRUE(sb) << sb.error().message();

  auto st = sb->stat(c.path);
  ASSERT_FALSE(st) << "stat reached " << c.path;
  EXPECT_EQ(st.error().code, c.expected) << to_string(st.error().code);
  EXPECT_EQ(st.error().sys_errno, c.expected_errno) << st.error().message();
  EXPECT_FALSE(st.error().reason().empty());

  auto rd = sb->open_read(c.path);
  ASSERT_FALSE(rd);
  EXPECT_EQ(rd.error().code, c.expected);

  auto ls = sb->list(c.path);
  ASSERT_FALSE(ls);
  EXPECT_EQ(ls.error().code, c.expected);
}

TEST_P(EscapeTest, IsRefusedAsChdirTarget) {
  const auto& [resolver, c] = GetParam();
  auto sb = Sandbox::confined(tree.root, {.resolver = resolver});
  ASSERT_TRUE(sb);
  auto r = sb->chdir(c.path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, c.expected);
  EXPECT_EQ(sb->cwd(), "/");
}

std::string escape_name(const ::testing::TestParamInfo<std::tuple<Resolver, EscapeCase>>& i) {
  return resolver_name(std::get<0>(i.param)) + "_" + std::get<1>(i.param).name;
}

INSTANTIATE_TEST_SUITE_P(Confined, EscapeTest,
                         ::testing::Combine(::testing::ValuesIn(available_resolvers()),
                                            ::testing::ValuesIn(escape_cases())),
                         escape_name);

// Writes that would land outside, through every entry-creating operation.
class EscapeWriteTest : public ::testing::TestWithParam<Resolver> {
 protected:
  SandboxTree tree;
};

TEST_P(EscapeWriteTest, CreatingOutsideIsRefused) {
  auto sb = Sandbox::confined(tree.root, {.resolver = GetParam()});
  ASSERT_TRUE(sb);
  for (const std::string p : {"../evil", "link_out_rel/evil", "link_etc/evil", "dir/up2/evil",
                              "link_root_up/evil", "link_proc/tmp/evil"}) {
    auto w = sb->create(p, {});
    ASSERT_FALSE(w) << p;
    EXPECT_EQ(w.error().code, Errc::escape) << p;
    auto m = sb->mkdir(p, 0755, false);
    ASSERT_FALSE(m) << p;
    EXPECT_EQ(m.error().code, Errc::escape) << p;
    auto mr = sb->mkdir(p + "/deeper", 0755, true);
    ASSERT_FALSE(mr) << p;
    auto mv = sb->rename("file.txt", p);
    ASSERT_FALSE(mv) << p;
    EXPECT_EQ(mv.error().code, Errc::escape) << p;
  }
  EXPECT_FALSE(exists(tree.tmp / "evil"));
  EXPECT_FALSE(exists(tree.outside + "/evil"));
  EXPECT_TRUE(exists(tree.root + "/file.txt"));
}

TEST_P(EscapeWriteTest, DeletingAndChangingOutsideIsRefused) {
  auto sb = Sandbox::confined(tree.root, {.resolver = GetParam()});
  ASSERT_TRUE(sb);
  EXPECT_FALSE(sb->unlink("../outside/secret.txt"));
  EXPECT_FALSE(sb->unlink("link_out_rel/secret.txt"));
  EXPECT_FALSE(sb->rmdir("link_out_rel/.."));
  EXPECT_FALSE(sb->chmod("link_out_rel/secret.txt", 0777));
  EXPECT_FALSE(sb->set_times("link_out_rel/secret.txt", 0, 0));
  EXPECT_FALSE(sb->rename("../outside/secret.txt", "stolen"));
  EXPECT_FALSE(sb->statfs("link_etc"));
  EXPECT_EQ(read_file(tree.outside + "/secret.txt"), "secret");
  struct stat st {};
  ASSERT_EQ(::stat((tree.outside + "/secret.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_FALSE(exists(tree.root + "/stolen"));
}

// A directory that was fine at chdir time is swapped for an outward symlink before the next call.
TEST_P(EscapeWriteTest, DirectorySwappedForOutwardSymlinkBetweenCalls) {
  auto sb = Sandbox::confined(tree.root, {.resolver = GetParam()});
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->chdir("swap"));
  EXPECT_EQ(sb->cwd(), "/swap");
  ASSERT_EQ(::rmdir((tree.root + "/swap").c_str()), 0);
  ASSERT_EQ(::symlink(tree.outside.c_str(), (tree.root + "/swap").c_str()), 0);

  auto st = sb->stat("secret.txt");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::escape);
  auto w = sb->create("planted", {});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::escape);
  EXPECT_FALSE(sb->list("."));
  EXPECT_FALSE(exists(tree.outside + "/planted"));
}

// A relative escape from a working directory deep inside.
TEST_P(EscapeWriteTest, DotDotFromWorkingDirectoryStopsAtRoot) {
  auto sb = Sandbox::confined(tree.root, {.resolver = GetParam()});
  ASSERT_TRUE(sb);
  ASSERT_TRUE(sb->chdir("dir/sub"));
  EXPECT_EQ(sb->cwd(), "/dir/sub");
  auto ok = sb->stat("../../file.txt");
  ASSERT_TRUE(ok) << ok.error().message();
  auto st = sb->stat("../../../outside/secret.txt");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::escape);
}

TEST_P(EscapeWriteTest, InvalidUtf8RefusedWhenThePolicyAsks) {
  storage::SandboxOptions strict{.resolver = GetParam(), .policy = {.require_utf8 = true}};
  auto sb = Sandbox::confined(tree.root, strict);
  ASSERT_TRUE(sb);
  auto st = sb->stat("bad\xff\xfename");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::invalid_name);
  EXPECT_EQ(st.error().sys_errno, EILSEQ);
  EXPECT_TRUE(sb->stat("ünïcödé"));
}

INSTANTIATE_TEST_SUITE_P(Confined, EscapeWriteTest, ::testing::ValuesIn(available_resolvers()),
                         [](const auto& i) { return resolver_name(i.param); });

// Legal paths resolve to the very inode they name, for both resolvers.
struct LegalCase {
  const char* name;
  std::string path;
  std::string real;  // relative to the root
};

void PrintTo(const LegalCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<LegalCase>& legal_cases() {
  static const std::vector<LegalCase> cases = {
      {"Plain", "file.txt", "file.txt"},
      {"LeadingSlashIsRoot", "/file.txt", "file.txt"},
      {"ManyLeadingSlashes", "///file.txt", "file.txt"},
      {"RootItself", "/", "."},
      {"Dot", ".", "."},
      {"Spaces", "with space/f.txt", "with space/f.txt"},
      {"Utf8", "ünïcödé", "ünïcödé"},
      {"InnerDotDotStaysInside", "/dir/../file.txt", "file.txt"},
      {"DotDotBackToRoot", "dir/sub/../..", "."},
      {"TrailingSlash", "dir/sub/", "dir/sub"},
      {"RelativeSymlinkInside", "link_in/deep.txt", "dir/sub/deep.txt"},
      {"SymlinkThenDotDotIsPhysical", "link_in/../sub/deep.txt", "dir/sub/deep.txt"},
      {"Name255", kLongName255, kLongName255},
      {"DoubleSlashes", "dir//sub//deep.txt", "dir/sub/deep.txt"},
  };
  return cases;
}

class LegalPathTest : public ::testing::TestWithParam<std::tuple<Resolver, LegalCase>> {
 protected:
  SandboxTree tree;
};

TEST_P(LegalPathTest, ResolvesInsideTheRoot) {
  const auto& [resolver, c] = GetParam();
  auto sb = Sandbox::confined(tree.root, {.resolver = resolver});
  ASSERT_TRUE(sb);
  auto st = sb->stat(c.path);
  ASSERT_TRUE(st) << c.path << ": " << st.error().message();
  EXPECT_EQ(st->inode, SandboxTree::inode(tree.root + "/" + c.real));
}

INSTANTIATE_TEST_SUITE_P(Confined, LegalPathTest,
                         ::testing::Combine(::testing::ValuesIn(available_resolvers()),
                                            ::testing::ValuesIn(legal_cases())),
                         [](const auto& i) {
                           return resolver_name(std::get<0>(i.param)) + "_" +
                                  std::get<1>(i.param).name;
                         });

// Both resolvers agree on every case, error codes and errnos included.
TEST(ResolverAgreement, SameAnswerForEveryPath) {
  if (!storage::openat2_available()) GTEST_SKIP() << "this kernel has no openat2";
  SandboxTree tree;
  auto a = Sandbox::confined(tree.root, {.resolver = Resolver::openat2});
  auto b = Sandbox::confined(tree.root, {.resolver = Resolver::walk});
  ASSERT_TRUE(a && b);
  std::vector<std::string> paths;
  for (const auto& c : escape_cases()) paths.push_back(c.path);
  for (const auto& c : legal_cases()) paths.push_back(c.path);
  for (const char* p : {"dangling", "missing", "file.txt/x", "link_in", "dir/link_out_deep/x"}) {
    paths.emplace_back(p);
  }
  for (const auto& p : paths) {
    for (auto follow : {storage::Follow::yes, storage::Follow::no}) {
      auto x = a->stat(p, follow);
      auto y = b->stat(p, follow);
      ASSERT_EQ(x.has_value(), y.has_value()) << p;
      if (x) {
        EXPECT_EQ(x->inode, y->inode) << p;
      } else {
        EXPECT_EQ(x.error().code, y.error().code) << p;
        EXPECT_EQ(x.error().sys_errno, y.error().sys_errno) << p;
      }
    }
  }
}

}  // namespace
}  // namespace ferry::test
