// The extension's block sums hashed ahead of the checked streams (session/bbftp/sums_ahead.hpp):
// the hasher keeps to its window and skips what a stream took first; a stream sends what was
// hashed ahead from the page cache, and a block changed between its hashing and its sending is
// found out as a file that changed while being sent.
#include "session/bbftp/sums_ahead.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <csignal>
#include <future>
#include <thread>

#include "proto/bbftp/extension.hpp"
#include "session/bbftp/streams.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

constexpr std::uint64_t kBlock = bbftp::ext::kIntegrityBlock;

std::string content_of(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u) >> 13);
  return s;
}

std::vector<std::uint8_t> xxh64_of(std::string_view data) {
  XXH64_canonical_t c;
  XXH64_canonicalFromHash(&c, XXH3_64bits(data.data(), data.size()));
  return {c.digest, c.digest + 8};
}

struct Source {
  TempDir dir;
  std::string content;
  std::optional<storage::Sandbox> box;
  std::optional<storage::File> file;
  explicit Source(std::size_t size) : content(content_of(size)) {
    write_file(dir / "source", content);
    box.emplace(*storage::Sandbox::unconfined(dir.path()));
    file.emplace(*box->open_read("source"));
  }
  std::string_view block(std::uint64_t i) const {
    return std::string_view(content).substr(i * kBlock, kBlock);
  }
};

TEST(BbftpSumsAhead, HashesInOrderWithinItsWindowAndSkipsWhatAStreamTookFirst) {
  Source src(4 * kBlock + 100);
  // A window of one block: the hasher stops after the first block of its order.
  session::SumsAhead ahead(*src.file, storage::Digest::xxh3_64, kBlock, src.content.size(),
                           {2, 0, 4, 1}, kBlock);
  ahead.wait_idle();
  EXPECT_EQ(ahead.take(0), std::nullopt);  // not reached: the caller's now
  EXPECT_EQ(ahead.take(2), xxh64_of(src.block(2)));
  EXPECT_EQ(ahead.take(2), std::nullopt);  // taken once only
  // Room again: block 0 was taken by hand, so the hasher goes on with 4 (the short last one).
  ahead.wait_idle();
  EXPECT_EQ(ahead.take(4), xxh64_of(src.block(4)));
  ahead.wait_idle();
  EXPECT_EQ(ahead.take(1), xxh64_of(src.block(1)));
  EXPECT_EQ(ahead.take(3), std::nullopt);  // not in its order
  EXPECT_EQ(ahead.take(9), std::nullopt);  // past the file
}

TEST(BbftpSumsAhead, AFileCutShortStopsTheHasherAndLeavesTheRestToTheStreams) {
  Source src(3 * kBlock);
  ASSERT_EQ(::truncate((src.dir / "source").c_str(), static_cast<off_t>(kBlock)), 0);
  session::SumsAhead ahead(*src.file, storage::Digest::xxh3_64, kBlock, src.content.size(),
                           {0, 1, 2}, 8 * kBlock);
  ahead.wait_idle();
  EXPECT_EQ(ahead.take(0), xxh64_of(src.block(0)));
  EXPECT_EQ(ahead.take(1), std::nullopt);
  EXPECT_EQ(ahead.take(2), std::nullopt);
}

TEST(BbftpSumsAhead, TheSendingOrderTakesEachStreamsNextBlockInTurn) {
  bbftp::TransferPlan plan;
  plan.blocks = {{0, 1, 2}, {3, 4}, {}, {5}};
  EXPECT_EQ(session::sending_order(plan), (std::vector<std::uint64_t>{0, 3, 5, 1, 4, 2}));
}

struct Pair {
  UniqueFd a, b;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = UniqueFd(fds[0]);
    b = UniqueFd(fds[1]);
  }
};

session::StreamSpec spec_of(std::uint64_t size, std::vector<std::vector<std::uint8_t>>* sums,
                            session::SumsAhead* ahead) {
  session::StreamSpec spec;
  spec.length = size;
  spec.data_timeout = spec.ack_timeout = std::chrono::seconds(10);
  spec.check =
      session::StreamSpec::Check{storage::Digest::xxh3_64, kBlock, size, {}, sums, {}, {}, ahead};
  for (std::uint64_t b = 0; b * kBlock < size; ++b) spec.check->blocks.push_back(b);
  sums->resize(spec.check->blocks.size());
  return spec;
}

// Sends `src` over a checked stream with its sums hashed ahead, after `meanwhile`; what the
// sender and the receiver made of it.
template <class F>
std::pair<session::StreamResult<void>, session::StreamResult<void>> send_ahead(
    Source& src, TempDir& out, F meanwhile, std::vector<std::vector<std::uint8_t>>& got_sums) {
  session::SumsAhead ahead(*src.file, storage::Digest::xxh3_64, kBlock, src.content.size(),
                           {0, 1, 2, 3, 4, 5}, 64 * kBlock);
  ahead.wait_idle();
  meanwhile();
  auto box = *storage::Sandbox::unconfined(out.path());
  storage::WriteOptions wo;
  wo.preallocate = src.content.size();
  auto target = *box.create("target", wo);
  Pair p;
  std::vector<std::vector<std::uint8_t>> sent_sums;
  session::StreamResult<void> sent;
  std::thread sender([&] {
    sent = session::send_segment(p.a.get(), *src.file,
                                 spec_of(src.content.size(), &sent_sums, &ahead));
    p.a.reset();  // a failed sender hangs up, as a session's stream does
  });
  auto got = session::receive_segment(p.b.get(), target.file(),
                                      spec_of(src.content.size(), &got_sums, nullptr));
  sender.join();
  if (got && sent) {
    EXPECT_EQ(got_sums, sent_sums);
    EXPECT_TRUE(target.commit());
  }
  return {std::move(sent), std::move(got)};
}

TEST(BbftpSumsAhead, BlocksHashedAheadArriveWholeWithTheirSums) {
  Source src(5 * kBlock + 4321);  // five whole blocks and a short one: more than one group
  TempDir out;
  std::vector<std::vector<std::uint8_t>> got_sums;
  auto [sent, got] = send_ahead(
      src, out, [] {}, got_sums);
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got_sums.size(), 6U);
  EXPECT_EQ(got_sums[5], xxh64_of(src.block(5)));
  EXPECT_EQ(read_file(out / "target"), src.content);
}

TEST(BbftpSumsAhead, ABlockChangedAfterItsHashingMeansTheFileChanged) {
  Source src(3 * kBlock);
  TempDir out;
  std::vector<std::vector<std::uint8_t>> got_sums;
  auto [sent, got] = send_ahead(
      src, out,
      [&] {
        std::string changed = src.content;
        changed[kBlock + 5] ^= 0x40;  // block 1, in place
        write_file(src.dir / "source", changed);
      },
      got_sums);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().sys_errno, ESTALE);
  EXPECT_NE(sent.error().message.find("changed while being sent"), std::string::npos)
      << sent.error().message;
  EXPECT_FALSE(got);
}

// A receiver that stops reading and keeps its connection open: a sender on sendfile gives up
// after its data timeout (ETIMEDOUT) instead of waiting for ever.
TEST(BbftpSumsAhead, ASenderFromThePageCacheGivesUpOnAPeerThatStopsReading) {
  Source src(16 * kBlock);  // far more than the socket pair holds
  session::SumsAhead ahead(*src.file, storage::Digest::xxh3_64, kBlock, src.content.size(),
                           {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 64 * kBlock);
  ahead.wait_idle();
  Pair p;  // p.b is never read
  std::vector<std::vector<std::uint8_t>> sums;
  auto spec = spec_of(src.content.size(), &sums, &ahead);
  spec.data_timeout = std::chrono::milliseconds(300);
  auto sending = std::async(std::launch::async,
                            [&] { return session::send_segment(p.a.get(), *src.file, spec); });
  if (sending.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the sender still waits on a peer that stopped reading";
    std::signal(SIGPIPE, SIG_IGN);     // as the programs do (app/signals.cpp)
    ::shutdown(p.b.get(), SHUT_RDWR);  // lets it end, with EPIPE
  }
  const auto sent = sending.get();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().sys_errno, ETIMEDOUT) << sent.error().message;
}

}  // namespace
}  // namespace ferry::test
