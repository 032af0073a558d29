// What the servers need from the storage layer: listing, stat, statfs, mkdir, rename, unlink,
// chmod, times, umask and working directories, in both modes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "sandbox_fixture.hpp"

namespace ferry::test {
namespace {

using storage::Errc;
using storage::FileType;
using storage::Sandbox;

class SandboxOps : public ::testing::TestWithParam<storage::Resolver> {
 protected:
  Sandbox open() {
    auto sb = Sandbox::confined(tree.root, {.resolver = GetParam(), .policy = {}, .umask = 022});
    EXPECT_TRUE(sb);
    return std::move(*sb);
  }
  SandboxTree tree;
};

TEST_P(SandboxOps, ListShowsDotsTypesAndDanglingLinks) {
  auto sb = open();
  auto entries = sb.list("/");
  ASSERT_TRUE(entries) << entries.error().message();
  std::map<std::string, storage::EntryInfo> by_name;
  for (auto& e : *entries) by_name[e.name] = e;
  ASSERT_TRUE(by_name.count("."));
  ASSERT_TRUE(by_name.count(".."));
  EXPECT_EQ(by_name["."].type, FileType::directory);
  // ".." of the root describes the root, never what lies above it.
  struct stat root_st {};
  ASSERT_EQ(::stat(tree.root.c_str(), &root_st), 0);
  EXPECT_EQ(by_name[".."].mtime, root_st.st_mtim.tv_sec);
  EXPECT_EQ(by_name["file.txt"].type, FileType::regular);
  EXPECT_EQ(by_name["file.txt"].size, 5u);
  EXPECT_EQ(by_name["file.txt"].mode, 0644u & ~0u);
  EXPECT_EQ(by_name["dir"].type, FileType::directory);
  EXPECT_EQ(by_name["link_in"].type, FileType::symlink);
  EXPECT_EQ(by_name["link_in"].target, FileType::directory);
  EXPECT_FALSE(by_name["link_in"].dangling);
  EXPECT_TRUE(by_name["dangling"].dangling);
  // A link that leads out is shown as dangling: its target is not ours to describe.
  EXPECT_TRUE(by_name["link_etc"].dangling);
  EXPECT_TRUE(by_name["link_out_rel"].dangling);
}

TEST_P(SandboxOps, StatReportsEveryField) {
  auto sb = open();
  auto st = sb.stat("file.txt");
  ASSERT_TRUE(st);
  struct stat real {};
  ASSERT_EQ(::stat((tree.root + "/file.txt").c_str(), &real), 0);
  EXPECT_EQ(st->type, FileType::regular);
  EXPECT_EQ(st->inode, real.st_ino);
  EXPECT_EQ(st->mode, real.st_mode);
  EXPECT_EQ(st->size, 5u);
  EXPECT_EQ(st->block_size, static_cast<std::uint64_t>(real.st_blksize));
  EXPECT_EQ(st->blocks, static_cast<std::uint64_t>(real.st_blocks));
  EXPECT_EQ(st->uid, real.st_uid);
  EXPECT_EQ(st->gid, real.st_gid);
  EXPECT_EQ(st->atime, real.st_atim.tv_sec);
  EXPECT_EQ(st->mtime, real.st_mtim.tv_sec);
  EXPECT_EQ(st->ctime, real.st_ctim.tv_sec);
  auto link = sb.stat("link_in", storage::Follow::no);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->type, FileType::symlink);
}

TEST_P(SandboxOps, StatfsDescribesTheFilesystem) {
  auto sb = open();
  auto fs = sb.statfs("/");
  ASSERT_TRUE(fs);
  EXPECT_GT(fs->blocks, 0u);
  EXPECT_GT(fs->block_size, 0u);
  EXPECT_LE(fs->free_blocks, fs->blocks);
  EXPECT_EQ(fs->name_max, 255u);
}

TEST_P(SandboxOps, MkdirPlainRecursiveAndUmask) {
  auto sb = open();
  ASSERT_TRUE(sb.mkdir("newdir", 0777));
  struct stat st {};
  ASSERT_EQ(::stat((tree.root + "/newdir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  auto again = sb.mkdir("newdir", 0777);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::exists);
  auto orphan = sb.mkdir("no/such/parent", 0777);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, Errc::not_found);
  ASSERT_TRUE(sb.mkdir("/a/b/../c/d", 0777, true));
  EXPECT_TRUE(exists(tree.root + "/a/c/d"));
  ASSERT_TRUE(sb.mkdir("a/c/d", 0777, true)) << "an existing tree is fine when recursive";
  EXPECT_EQ(sb.set_umask(077), 022u);
  ASSERT_TRUE(sb.mkdir("private", 0777));
  ASSERT_EQ(::stat((tree.root + "/private").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto over_file = sb.mkdir("file.txt/x", 0777, true);
  ASSERT_FALSE(over_file);
  EXPECT_EQ(sb.mkdir("/", 0777).error().code, Errc::exists);
}

TEST_P(SandboxOps, RenameUnlinkRmdir) {
  auto sb = open();
  ASSERT_TRUE(sb.rename("file.txt", "dir/moved.txt"));
  EXPECT_FALSE(exists(tree.root + "/file.txt"));
  EXPECT_EQ(read_file(tree.root + "/dir/moved.txt"), "hello");
  EXPECT_EQ(sb.rename("nothing", "x").error().code, Errc::not_found);
  ASSERT_TRUE(sb.unlink("dir/moved.txt"));
  EXPECT_EQ(sb.unlink("dir/moved.txt").error().code, Errc::not_found);
  EXPECT_EQ(sb.unlink("dir").error().code, Errc::is_a_directory);
  ASSERT_TRUE(sb.unlink("dangling")) << "a symlink itself can be removed";
  EXPECT_EQ(sb.rmdir("dir").error().code, Errc::not_empty);
  ASSERT_TRUE(sb.rmdir("swap"));
  EXPECT_EQ(sb.rmdir("/").error().code, Errc::invalid_name);
}

TEST_P(SandboxOps, ChmodAndTimes) {
  auto sb = open();
  ASSERT_TRUE(sb.chmod("file.txt", 0600));
  ASSERT_TRUE(sb.set_times("file.txt", 1000000000, 1200000000));
  struct stat st {};
  ASSERT_EQ(::stat((tree.root + "/file.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  ASSERT_TRUE(sb.chmod("link_in", 0700)) << "follows a symlink that stays inside";
  ASSERT_EQ(::stat((tree.root + "/dir/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_P(SandboxOps, WorkingDirectoryIsVirtualAndPhysical) {
  auto sb = open();
  EXPECT_EQ(sb.cwd(), "/");
  ASSERT_TRUE(sb.chdir("dir"));
  EXPECT_EQ(sb.cwd(), "/dir");
  auto rel = sb.open_read("sub/deep.txt");
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->path(), "/dir/sub/deep.txt");
  ASSERT_TRUE(sb.chdir("/link_in"));
  EXPECT_EQ(sb.cwd(), "/dir/sub") << "reported as getcwd would: the physical path";
  ASSERT_TRUE(sb.chdir(".."));
  EXPECT_EQ(sb.cwd(), "/dir");
  auto bad = sb.chdir("file-that-is-missing");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::not_found);
  EXPECT_EQ(sb.cwd(), "/dir");
  EXPECT_EQ(sb.chdir("/file.txt").error().code, Errc::not_a_directory);
  // The reply to a cd must work as a later cd argument (a bbftp client replays it).
  const std::string replay = sb.cwd();
  ASSERT_TRUE(sb.chdir("/"));
  ASSERT_TRUE(sb.chdir(replay));
  EXPECT_EQ(sb.cwd(), "/dir");
}

TEST_P(SandboxOps, OpenReadRefusesDirectoriesAndFifos) {
  auto sb = open();
  EXPECT_EQ(sb.open_read("dir").error().code, Errc::is_a_directory);
  ASSERT_EQ(::mkfifo((tree.root + "/fifo").c_str(), 0644), 0);
  auto fifo = sb.open_read("fifo");
  ASSERT_FALSE(fifo) << "must not block, must not serve a FIFO";
  EXPECT_EQ(fifo.error().code, Errc::invalid_name);
  auto f = sb.open_read("file.txt");
  ASSERT_TRUE(f);
  std::string buf(5, '\0');
  ASSERT_TRUE(f->pread_exact({reinterpret_cast<std::byte*>(buf.data()), buf.size()}, 0));
  EXPECT_EQ(buf, "hello");
  auto past = f->pread_exact({reinterpret_cast<std::byte*>(buf.data()), buf.size()}, 1);
  EXPECT_FALSE(past) << "reading past the end is a short read";
}

TEST_P(SandboxOps, DisplayPathsAreVirtual) {
  auto sb = open();
  ASSERT_TRUE(sb.chdir("dir"));
  EXPECT_EQ(sb.display("x"), "/dir/x");
  EXPECT_EQ(sb.display("/a/../b"), "/b");
  EXPECT_EQ(sb.display("../.."), "/");
}

INSTANTIATE_TEST_SUITE_P(Confined, SandboxOps, ::testing::ValuesIn(available_resolvers()),
                         [](const auto& i) { return resolver_name(i.param); });

TEST(UnconfinedSandbox, PathsResolveAsTheOsResolvesThem) {
  SandboxTree tree;
  auto sb = Sandbox::unconfined(tree.root);
  ASSERT_TRUE(sb) << sb.error().message();
  EXPECT_FALSE(sb->confined());
  char real[4096];
  ASSERT_NE(::realpath(tree.root.c_str(), real), nullptr);
  EXPECT_EQ(sb->cwd(), real);
  EXPECT_TRUE(sb->stat("link_out_rel/secret.txt")) << "no confinement: the OS decides";
  EXPECT_TRUE(sb->stat("/etc/hostname") || sb->stat("/etc/passwd"));
  ASSERT_TRUE(sb->chdir("link_in"));
  EXPECT_EQ(sb->cwd(), std::string(real) + "/dir/sub");
  auto f = sb->open_read("deep.txt");
  ASSERT_TRUE(f);
  ASSERT_TRUE(sb->chdir(".."));
  EXPECT_EQ(sb->cwd(), std::string(real) + "/dir");
  ASSERT_TRUE(sb->mkdir(tree.tmp / "abs/new", 0755, true));
  EXPECT_TRUE(exists(tree.tmp / "abs/new"));
}

TEST(UnconfinedSandbox, RefusesWhatNoPathMayContain) {
  auto sb = Sandbox::unconfined("/");
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->stat(std::string("etc\0passwd", 10)).error().code, Errc::invalid_name);
  EXPECT_EQ(sb->stat(kLongName256).error().code, Errc::name_too_long);
  EXPECT_EQ(sb->stat("").error().code, Errc::invalid_name);
}

TEST(SandboxSetup, MissingRootIsAClearError) {
  auto sb = Sandbox::confined("/nonexistent/ferry/root");
  ASSERT_FALSE(sb);
  EXPECT_EQ(sb.error().code, Errc::not_found);
  EXPECT_EQ(sb.error().message(), "/nonexistent/ferry/root: No such file or directory");
}

}  // namespace
}  // namespace ferry::test

namespace ferry::test {
namespace {

TEST(Temporaries, NamesAreRecognised) {
  EXPECT_TRUE(storage::is_temporary_name(".f.ferry-part"));
  EXPECT_TRUE(storage::is_temporary_name(storage::reserved_temp_name("data.h5")));
  EXPECT_TRUE(storage::is_temporary_name(storage::reserved_temp_name(std::string(255, 'n'))));
  EXPECT_TRUE(storage::is_temporary_name(".f.ferry-tmp.0123456789ab"));
  EXPECT_FALSE(storage::is_temporary_name("f.ferry-part"));  // not hidden: a user's name
  EXPECT_FALSE(storage::is_temporary_name(".f.ferry-tmp.0123456789"));
  EXPECT_FALSE(storage::is_temporary_name(".f.ferry-tmp.0123456789aX"));
  EXPECT_FALSE(storage::is_temporary_name(".profile"));
}

TEST(Temporaries, HiddenFromListingsAndEveryPathWhenThePolicySaysSo) {
  SandboxTree tree;
  write_file(tree.root + "/.f.ferry-part", "partial");
  write_file(tree.root + "/dir/.g.ferry-tmp.0123456789ab", "partial");
  auto sb = Sandbox::confined(tree.root, {.policy = {.hide_temporaries = true}});
  ASSERT_TRUE(sb);
  for (const char* dir : {"/", "/dir"}) {
    auto entries = sb->list(dir);
    ASSERT_TRUE(entries);
    for (const auto& e : *entries) EXPECT_FALSE(storage::is_temporary_name(e.name)) << e.name;
  }
  for (const char* p : {"/.f.ferry-part", "dir/.g.ferry-tmp.0123456789ab", "/.f.ferry-part/x"}) {
    EXPECT_EQ(sb->stat(p).error().code, Errc::invalid_name) << p;
    EXPECT_FALSE(sb->open_read(p)) << p;
    EXPECT_FALSE(sb->unlink(p)) << p;
    EXPECT_FALSE(sb->rename(p, "/stolen")) << p;
    EXPECT_FALSE(sb->rename("/file.txt", p)) << p;
    EXPECT_FALSE(sb->mkdir(p)) << p;
    EXPECT_FALSE(sb->create(p, {})) << p;
  }
  EXPECT_TRUE(sb->stat("/file.txt"));
  auto plain = Sandbox::confined(tree.root);
  EXPECT_TRUE(plain->stat("/.f.ferry-part")) << "the default policy leaves them visible";
}

TEST(Temporaries, ASweepRemovesWhatNoWriterHoldsAndNothingElse) {
  SandboxTree tree;
  write_file(tree.root + "/.a.ferry-part", "left by a killed writer");
  write_file(tree.root + "/dir/sub/.b.ferry-tmp.0123456789ab", "left too");
  write_file(tree.root + "/.profile", "a user's dot file");
  write_file(tree.outside + "/.c.ferry-part", "outside the root");
  SandboxTree::ln(tree.outside, tree.root + "/dir/to_outside");
  auto sb = Sandbox::confined(tree.root);
  ASSERT_TRUE(sb);
  auto held = sb->create("/held", {.collision = storage::Collision::exclusive});
  ASSERT_TRUE(held);
  auto swept = sb->remove_stale_temporaries();
  ASSERT_TRUE(swept) << swept.error().message();
  EXPECT_EQ(*swept, 2U);
  EXPECT_FALSE(sb->stat("/.a.ferry-part"));
  EXPECT_FALSE(sb->stat("/dir/sub/.b.ferry-tmp.0123456789ab"));
  EXPECT_TRUE(sb->stat("/.profile"));
  EXPECT_TRUE(sb->stat("/" + storage::reserved_temp_name("held"))) << "a live writer's is kept";
  struct stat st {};
  EXPECT_EQ(::stat((tree.outside + "/.c.ferry-part").c_str(), &st), 0) << "symlinks not followed";
  ASSERT_TRUE(held->commit());
}

}  // namespace
}  // namespace ferry::test
