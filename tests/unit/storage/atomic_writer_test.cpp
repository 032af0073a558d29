// Files appear under their final name only when complete: killed writers, aborted writers and
// racing writers never leave a partial or mixed file there.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <thread>
#include <vector>

#include "sandbox_fixture.hpp"
#include "storage/checksum.hpp"

namespace ferry::test {
namespace {

using storage::Collision;
using storage::Errc;
using storage::Partial;
using storage::Sandbox;
using storage::WriteOptions;

Bytes bytes_of(std::string_view s) {
  return as_bytes(s);
}

std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  auto sb = Sandbox::unconfined(dir);
  if (!sb) return out;
  auto entries = sb->list(".");
  if (!entries) return out;
  for (auto& e : *entries) {
    if (e.name != "." && e.name != "..") out.push_back(e.name);
  }
  return out;
}

class AtomicWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sb = Sandbox::confined(tree.root);
    ASSERT_TRUE(sb);
    sandbox = std::make_unique<Sandbox>(std::move(*sb));
  }
  SandboxTree tree;
  std::unique_ptr<Sandbox> sandbox;
};

TEST_F(AtomicWriterTest, AppearsOnlyAtCommitWithTheSessionMode) {
  auto w = sandbox->create("dir/new.bin", {.mode = 0666});
  ASSERT_TRUE(w) << w.error().message();
  ASSERT_TRUE(w->pwrite_all(bytes_of("world"), 5));
  ASSERT_TRUE(w->pwrite_all(bytes_of("hello"), 0));
  EXPECT_FALSE(exists(tree.root + "/dir/new.bin"));
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(read_file(tree.root + "/dir/new.bin"), "helloworld");
  struct stat st {};
  ASSERT_EQ(::stat((tree.root + "/dir/new.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(dir_names(tree.root + "/dir").size(), 4u) << "no temporary left behind";
}

TEST_F(AtomicWriterTest, AbortAndDestructionLeaveNothing) {
  {
    auto w = sandbox->create("gone.bin", {});
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->pwrite_all(bytes_of("partial"), 0));
    w->abort();
  }
  {
    auto w = sandbox->create("dropped.bin", {.collision = Collision::exclusive});
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->pwrite_all(bytes_of("partial"), 0));
  }
  EXPECT_FALSE(exists(tree.root + "/gone.bin"));
  EXPECT_FALSE(exists(tree.root + "/dropped.bin"));
  EXPECT_FALSE(exists(tree.root + "/" + storage::reserved_temp_name("dropped.bin")));
}

TEST_F(AtomicWriterTest, ReplaceOverwritesButNotReadOnlyFiles) {
  auto w = sandbox->create("file.txt", {});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->pwrite_all(bytes_of("replaced"), 0));
  EXPECT_EQ(read_file(tree.root + "/file.txt"), "hello") << "old content until commit";
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(read_file(tree.root + "/file.txt"), "replaced");

  ASSERT_EQ(::chmod((tree.root + "/file.txt").c_str(), 0444), 0);
  auto ro = sandbox->create("file.txt", {});
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code, Errc::permission);
  EXPECT_EQ(ro.error().reason(), "Permission denied");
  EXPECT_EQ(sandbox->create("dir", {}).error().code, Errc::is_a_directory);
  EXPECT_EQ(sandbox->create("/", {}).error().code, Errc::is_a_directory);
}

TEST_F(AtomicWriterTest, ExclusiveReservesTheNameAtOnce) {
  auto first = sandbox->create("race.bin", {.collision = Collision::exclusive});
  ASSERT_TRUE(first);
  auto second = sandbox->create("race.bin", {.collision = Collision::exclusive});
  ASSERT_FALSE(second) << "a name being written is reserved";
  EXPECT_EQ(second.error().code, Errc::exists);
  EXPECT_EQ(second.error().reason(), "File exists");
  ASSERT_TRUE(first->pwrite_all(bytes_of("first"), 0));
  ASSERT_TRUE(first->commit());
  auto third = sandbox->create("race.bin", {.collision = Collision::exclusive});
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Errc::exists);
  EXPECT_EQ(read_file(tree.root + "/race.bin"), "first");
}

TEST_F(AtomicWriterTest, ExclusiveCommitLosesToANameThatAppearedMeanwhile) {
  auto w = sandbox->create("late.bin", {.collision = Collision::exclusive});
  ASSERT_TRUE(w);
  write_file(tree.root + "/late.bin", "someone else");
  auto r = w->commit();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exists);
  EXPECT_EQ(read_file(tree.root + "/late.bin"), "someone else");
}

TEST_F(AtomicWriterTest, ResumableKeepsItsBytesForTheNextWriter) {
  {
    auto w = sandbox->create("big.bin", {.resumable = true});
    ASSERT_TRUE(w);
    EXPECT_EQ(w->resume_size(), 0u);
    ASSERT_TRUE(w->pwrite_all(bytes_of("0123456789"), 0));
    w->abort(Partial::keep);
  }
  EXPECT_FALSE(exists(tree.root + "/big.bin"));
  auto w = sandbox->create("big.bin", {.resumable = true});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->resume_size(), 10u);
  ASSERT_TRUE(w->pwrite_all(bytes_of("abc"), 10));
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(read_file(tree.root + "/big.bin"), "0123456789abc");
}

TEST_F(AtomicWriterTest, DiscardedPartialDataLosesItsBytesButNotItsRoom) {
  constexpr std::uint64_t kSize = 1 << 20;
  {
    auto w = sandbox->create("big.bin", {.preallocate = kSize, .resumable = true});
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->pwrite_all(bytes_of("0123456789"), 0));
    w->abort(Partial::keep);
  }
  auto w = sandbox->create("big.bin", {.preallocate = kSize, .resumable = true});
  ASSERT_TRUE(w);
  ASSERT_GT(w->resume_size(), 0u);
  ASSERT_TRUE(w->discard_partial());
  EXPECT_EQ(w->resume_size(), 0u);
  // Emptied and reserved again: streams go on writing anywhere in the final size.
  struct stat st {};
  ASSERT_EQ(::fstat(w->file().fd(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kSize);
  std::array<std::byte, 10> head{};
  ASSERT_TRUE(w->file().pread_exact(head, 0));
  EXPECT_EQ(head, (std::array<std::byte, 10>{}));  // the old bytes are gone
  ASSERT_TRUE(w->pwrite_all(bytes_of("end"), kSize - 3));
  ASSERT_TRUE(w->commit());
  auto done = sandbox->stat("big.bin");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->size, kSize);
}

TEST_F(AtomicWriterTest, LongestNamesStillGetATemporary) {
  ASSERT_TRUE(sandbox->unlink(kLongName255));
  for (auto collision : {Collision::replace, Collision::exclusive}) {
    auto w = sandbox->create(kLongName255, {.collision = collision});
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_TRUE(w->pwrite_all(bytes_of("x"), 0));
    ASSERT_TRUE(w->commit());
    ASSERT_TRUE(sandbox->unlink(kLongName255));
  }
}

TEST_F(AtomicWriterTest, PreallocationSizesTheFile) {
  auto w = sandbox->create("pre.bin", {.preallocate = 1 << 20, .sync = true});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->pwrite_all(bytes_of("end"), (1 << 20) - 3));
  ASSERT_TRUE(w->commit());
  auto st = sandbox->stat("pre.bin");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 1u << 20);
}

// A writer killed with SIGKILL mid-file leaves nothing under the final name, and its
// reservation does not outlive it.
void kill_writer_midway(Sandbox& sandbox, const WriteOptions& options) {
  std::array<int, 2> ready{};
  ASSERT_EQ(::pipe(ready.data()), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = sandbox.create("killed.bin", options);
    if (!w) ::_exit(1);
    const std::string chunk(1 << 16, 'k');
    for (int i = 0; i < 16; ++i) (void)w->pwrite_all(bytes_of(chunk), std::uint64_t(i) << 16);
    (void)::write(ready[1], "x", 1);
    ::pause();  // mid-file: never commits
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the writer did not start";
  ::close(ready[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
}

TEST_F(AtomicWriterTest, KilledReplaceWriterLeavesNoFile) {
  kill_writer_midway(*sandbox, {});
  EXPECT_FALSE(exists(tree.root + "/killed.bin"));
  EXPECT_FALSE(sandbox->stat("killed.bin"));
}

TEST_F(AtomicWriterTest, KilledExclusiveWriterLeavesNoFileAndFreesTheName) {
  kill_writer_midway(*sandbox, {.collision = Collision::exclusive});
  EXPECT_FALSE(exists(tree.root + "/killed.bin"));
  auto next = sandbox->create("killed.bin", {.collision = Collision::exclusive});
  ASSERT_TRUE(next) << "a dead writer's reservation is released with its lock";
  ASSERT_TRUE(next->pwrite_all(bytes_of("fresh"), 0));
  ASSERT_TRUE(next->commit());
  EXPECT_EQ(read_file(tree.root + "/killed.bin"), "fresh") << "stale bytes were discarded";
}

// Two processes write the same name at the same time; the result is one of the two whole files.
void race_two_writers(Sandbox& sandbox, Collision collision, int* failures) {
  constexpr std::size_t kSize = 4 << 20;
  std::array<pid_t, 2> kids{};
  for (int k = 0; k < 2; ++k) {
    kids[k] = ::fork();
    ASSERT_GE(kids[k], 0);
    if (kids[k] == 0) {
      auto w = sandbox.create("shared.bin", {.collision = collision});
      if (!w) ::_exit(w.error().code == Errc::exists ? 3 : 1);
      const std::string chunk(1 << 14, k == 0 ? 'A' : 'B');
      for (std::size_t off = 0; off < kSize; off += chunk.size()) {
        if (!w->pwrite_all(bytes_of(chunk), off)) ::_exit(1);
      }
      auto c = w->commit();
      ::_exit(c ? 0 : (c.error().code == Errc::exists ? 3 : 1));
    }
  }
  *failures = 0;
  for (pid_t kid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(kid, &status, 0), kid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 1);
    if (WEXITSTATUS(status) == 3) ++*failures;
  }
  auto f = sandbox.open_read("shared.bin");
  ASSERT_TRUE(f);
  std::string content(kSize, '\0');
  ASSERT_TRUE(f->pread_exact({reinterpret_cast<std::byte*>(content.data()), kSize}, 0));
  EXPECT_TRUE(content == std::string(kSize, 'A') || content == std::string(kSize, 'B'))
      << "a mix of both writers";
}

TEST_F(AtomicWriterTest, TwoReplaceWritersEndWithOneWholeFile) {
  int failures = -1;
  race_two_writers(*sandbox, Collision::replace, &failures);
  EXPECT_EQ(failures, 0);
}

TEST_F(AtomicWriterTest, TwoExclusiveWritersOneWinsOneGetsExists) {
  int failures = -1;
  race_two_writers(*sandbox, Collision::exclusive, &failures);
  EXPECT_EQ(failures, 1);
}

// Four threads write disjoint quarters of one 256 MiB preallocated file, as four data streams do.
std::uint64_t pattern_word(std::uint64_t index) {
  std::uint64_t x = index * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

void fill_pattern(std::vector<std::uint64_t>& buf, std::uint64_t first_word) {
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern_word(first_word + i);
}

TEST_F(AtomicWriterTest, FourThreadsWriteDisjointRangesOf256MiB) {
  constexpr std::uint64_t kSize = 256ull << 20;
  constexpr std::uint64_t kChunk = 1 << 20;
  constexpr int kThreads = 4;
  auto w = sandbox->create("parallel.bin", {.preallocate = kSize});
  ASSERT_TRUE(w) << w.error().message();
  std::array<bool, kThreads> ok{};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::uint64_t> buf(kChunk / 8);
      const std::uint64_t begin = kSize / kThreads * static_cast<std::uint64_t>(t);
      const std::uint64_t end = begin + kSize / kThreads;
      ok[static_cast<std::size_t>(t)] = true;
      for (std::uint64_t off = begin; off < end; off += kChunk) {
        fill_pattern(buf, off / 8);
        if (!w->pwrite_all(std::as_bytes(std::span(buf)), off)) {
          ok[static_cast<std::size_t>(t)] = false;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (bool b : ok) ASSERT_TRUE(b);
  ASSERT_TRUE(w->commit());

  storage::Hasher expected;
  std::vector<std::uint64_t> buf(kChunk / 8);
  for (std::uint64_t off = 0; off < kSize; off += kChunk) {
    fill_pattern(buf, off / 8);
    expected.update(std::as_bytes(std::span(buf)));
  }
  auto f = sandbox->open_read("parallel.bin");
  ASSERT_TRUE(f);
  auto size = f->size();
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, kSize);
  auto sum = storage::checksum_file(*f);
  ASSERT_TRUE(sum);
  EXPECT_EQ(*sum, expected.finish_hex());
}

}  // namespace
}  // namespace ferry::test
