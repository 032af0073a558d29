// The bbftp extension's checked data streams (docs/protocol/bbftp-extended.md, section 7) over a
// socket pair: a segment in integrity blocks with their sums, raw and compressed; against a
// scripted peer, a block whose sum does not match is asked for again (and given up after
// kMaxResendRounds), and a block that reads differently the second time means the file changed.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <csignal>
#include <future>
#include <thread>

#include "core/bytes.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/extension.hpp"
#include "session/bbftp/streams.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

constexpr std::uint64_t kBlock = bbftp::ext::kIntegrityBlock;

struct Pair {
  UniqueFd a, b;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = UniqueFd(fds[0]);
    b = UniqueFd(fds[1]);
  }
};

std::string content_of(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u) >> 11);
  return s;
}

std::vector<std::uint8_t> xxh64_of(std::string_view data) {
  XXH64_canonical_t c;
  XXH64_canonicalFromHash(&c, XXH3_64bits(data.data(), data.size()));
  return {c.digest, c.digest + 8};
}

struct Files {
  TempDir dir;
  std::optional<storage::Sandbox> box;
  std::optional<storage::File> source;
  std::optional<storage::AtomicWriter> target;
  explicit Files(const std::string& content) {
    write_file(dir / "source", content);
    box.emplace(*storage::Sandbox::unconfined(dir.path()));
    source.emplace(*box->open_read("source"));
    storage::WriteOptions wo;
    wo.preallocate = content.size();
    target.emplace(*box->create("target", wo));
  }
};

session::StreamSpec checked_spec(std::uint64_t length, bool compressed,
                                 std::vector<std::vector<std::uint8_t>>* sums,
                                 std::uint64_t* resent) {
  session::StreamSpec spec;
  spec.offset = 0;
  spec.length = length;
  spec.block_size = 256 * 1024;
  spec.compressed = compressed;
  spec.data_timeout = spec.ack_timeout = std::chrono::seconds(10);
  spec.check =
      session::StreamSpec::Check{storage::Digest::xxh3_64, kBlock, length, {}, sums, resent, {}};
  for (std::uint64_t b = 0; b * kBlock < length; ++b) spec.check->blocks.push_back(b);
  if (sums != nullptr) sums->resize(spec.check->blocks.size());
  return spec;
}

void round_trip(bool compressed) {
  const std::string content = content_of(3 * kBlock + 5000);
  Files f(content);
  Pair p;
  std::vector<std::vector<std::uint8_t>> sent_sums, got_sums;
  std::uint64_t sent_again = 0, got_again = 0;
  session::StreamResult<void> sent;
  std::thread sender([&] {
    sent = session::send_segment(p.a.get(), *f.source,
                                 checked_spec(content.size(), compressed, &sent_sums, &sent_again));
  });
  auto got = session::receive_segment(
      p.b.get(), f.target->file(), checked_spec(content.size(), compressed, &got_sums, &got_again));
  sender.join();
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got_sums.size(), 4U);
  EXPECT_EQ(got_sums, sent_sums);
  EXPECT_EQ(got_sums[3], xxh64_of(std::string_view(content).substr(3 * kBlock)));
  EXPECT_EQ(sent_again + got_again, 0U);
  ASSERT_TRUE(f.target->commit());
  EXPECT_EQ(read_file(f.dir / "target"), content);
}

// A resumed stream moves the blocks it is given, in that order, wherever they are in the file;
// the receiver says which arrived whole, each once, after writing it.
TEST(BbftpCheckedStreams, OnlyTheGivenBlocksMoveAndEachArrivalIsReported) {
  const std::string content = content_of(5 * kBlock + 77);
  Files f(content);
  Pair p;
  std::vector<std::vector<std::uint8_t>> sent_sums, got_sums;
  auto spec_of = [&](std::vector<std::vector<std::uint8_t>>* sums) {
    auto spec = checked_spec(content.size(), false, sums, nullptr);
    spec.check->blocks = {5, 1, 3};
    return spec;
  };
  std::vector<std::uint64_t> arrived;
  auto receive = spec_of(&got_sums);
  // Written before it is reported: a record of it may be believed.
  receive.check->arrived = [&](std::uint64_t index, Bytes data,
                               const std::vector<std::uint8_t>& sum) {
    arrived.push_back(index);
    std::string back(data.size(), '\0');
    ASSERT_TRUE(f.target->file().pread_exact(
        {reinterpret_cast<std::byte*>(back.data()), back.size()}, index * kBlock));
    EXPECT_EQ(back, std::string_view(content).substr(index * kBlock, data.size()));
    EXPECT_EQ(sum, xxh64_of(back));
  };
  session::StreamResult<void> sent;
  std::thread sender(
      [&] { sent = session::send_segment(p.a.get(), *f.source, spec_of(&sent_sums)); });
  auto got = session::receive_segment(p.b.get(), f.target->file(), receive);
  sender.join();
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(arrived, (std::vector<std::uint64_t>{5, 1, 3}));
  EXPECT_EQ(got_sums, sent_sums);
  EXPECT_TRUE(got_sums[0].empty() && got_sums[2].empty() && got_sums[4].empty());
  EXPECT_EQ(got_sums[5], xxh64_of(std::string_view(content).substr(5 * kBlock)));
  std::string block3(kBlock, '\0');
  ASSERT_TRUE(f.target->file().pread_exact(
      {reinterpret_cast<std::byte*>(block3.data()), block3.size()}, 3 * kBlock));
  EXPECT_EQ(block3, std::string_view(content).substr(3 * kBlock, kBlock));
}

TEST(BbftpCheckedStreams, RawSegmentInBlocksWithTheirSums) {
  round_trip(false);
}
TEST(BbftpCheckedStreams, CompressedSegmentInBlocksWithTheirSums) {
  round_trip(true);
}

void write_bytes(int fd, std::string_view s) {
  ASSERT_TRUE(io::write_all(fd, as_bytes(s), std::chrono::seconds(5)));
}
void write_sum(int fd, const std::vector<std::uint8_t>& sum) {
  ASSERT_TRUE(io::write_all(fd, as_bytes(sum), std::chrono::seconds(5)));
}
bbftp::Header read_header(int fd) {
  std::byte h[bbftp::kHeaderSize];
  EXPECT_TRUE(io::read_exact(fd, h, std::chrono::seconds(5)));
  return bbftp::decode_header(h);
}

TEST(BbftpCheckedStreams, ABlockThatDoesNotMatchItsSumIsAskedForAgain) {
  const std::string content = content_of(2 * kBlock);
  Files f(content);
  Pair p;
  std::thread scripted_sender([&] {
    const std::string_view b0 = std::string_view(content).substr(0, kBlock);
    const std::string_view b1 = std::string_view(content).substr(kBlock);
    std::string damaged(b1);
    damaged[1234] ^= 0x40;  // flipped on the way
    write_bytes(p.a.get(), b0);
    write_sum(p.a.get(), xxh64_of(b0));
    write_bytes(p.a.get(), damaged);
    write_sum(p.a.get(), xxh64_of(b1));
    const auto h = read_header(p.a.get());
    EXPECT_EQ(h.code, bbftp::ext::kMsgExtResend);
    ASSERT_EQ(h.msglen, 4U);
    std::byte idx[4];
    ASSERT_TRUE(io::read_exact(p.a.get(), idx, std::chrono::seconds(5)));
    EXPECT_EQ(load_be32(idx), 1U);
    write_bytes(p.a.get(), b1);
    write_sum(p.a.get(), xxh64_of(b1));
    EXPECT_EQ(read_header(p.a.get()).code, static_cast<std::uint32_t>(bbftp::MsgCode::ack));
  });
  std::vector<std::vector<std::uint8_t>> sums;
  std::uint64_t resent = 0;
  auto got = session::receive_segment(p.b.get(), f.target->file(),
                                      checked_spec(content.size(), false, &sums, &resent));
  scripted_sender.join();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(resent, 1U);
  ASSERT_TRUE(f.target->commit());
  EXPECT_EQ(read_file(f.dir / "target"), content);
}

TEST(BbftpCheckedStreams, ABlockBadEveryTimeEndsTheStream) {
  const std::string content = content_of(kBlock);
  Files f(content);
  Pair p;
  std::thread scripted_sender([&] {
    std::string damaged = content;
    damaged[7] ^= 1;
    for (int round = 0; round <= bbftp::ext::kMaxResendRounds; ++round) {
      write_bytes(p.a.get(), damaged);
      write_sum(p.a.get(), xxh64_of(content));
      if (round == bbftp::ext::kMaxResendRounds) break;
      const auto h = read_header(p.a.get());
      ASSERT_EQ(h.code, bbftp::ext::kMsgExtResend);
      std::byte idx[4];
      ASSERT_TRUE(io::read_exact(p.a.get(), idx, std::chrono::seconds(5)));
    }
  });
  auto got = session::receive_segment(p.b.get(), f.target->file(),
                                      checked_spec(content.size(), false, nullptr, nullptr));
  scripted_sender.join();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().sys_errno, EILSEQ);
  EXPECT_NE(got.error().message.find("arrived corrupt 4 times"), std::string::npos)
      << got.error().message;
}

// A scripted receiver takes both blocks of a checked segment, lets `meanwhile` do its work on
// the source, and asks for block 0 again; `sent` is what the sender made of it.
template <class F>
void ask_again_after(F meanwhile, session::StreamResult<void>& sent) {
  const std::string content = content_of(kBlock + 10);
  Files f(content);
  Pair p;
  std::thread sender([&] {
    sent = session::send_segment(p.a.get(), *f.source,
                                 checked_spec(content.size(), false, nullptr, nullptr));
  });
  std::vector<std::byte> all(content.size() + 16);
  ASSERT_TRUE(io::read_exact(p.b.get(), all, std::chrono::seconds(5)));
  meanwhile(f, content.size());
  std::byte ask[bbftp::kHeaderSize + 4];
  bbftp::encode_header({bbftp::ext::kMsgExtResend, 4},
                       std::span<std::byte, bbftp::kHeaderSize>(ask, bbftp::kHeaderSize));
  store_be32(std::span<std::byte, 4>(ask + bbftp::kHeaderSize, 4), 0);
  ASSERT_TRUE(io::write_all(p.b.get(), ask, std::chrono::seconds(5)));
  sender.join();
}

TEST(BbftpCheckedStreams, ABlockThatReadsDifferentlyTheSecondTimeMeansTheFileChanged) {
  session::StreamResult<void> sent;
  ask_again_after(
      [](Files& f, std::size_t size) { write_file(f.dir / "source", std::string(size, 'x')); },
      sent);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().sys_errno, ESTALE);
  EXPECT_NE(sent.error().message.find("changed while being sent"), std::string::npos)
      << sent.error().message;
}

// A block asked for again from a file cut short meanwhile ends the stream with a clear message.
TEST(BbftpCheckedStreams, ABlockAskedForAgainFromAFileCutShortEndsTheStream) {
  session::StreamResult<void> sent;
  ask_again_after(
      [](Files& f, std::size_t) { ASSERT_EQ(::truncate((f.dir / "source").c_str(), 0), 0); }, sent);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message.find("changed while being sent (it shrank)"), std::string::npos)
      << sent.error().message;
}

// Protocol 3's raw stream (sendfile) against a receiver that stops reading and keeps its
// connection open: the sender gives up after its data timeout instead of waiting for ever.
TEST(BbftpStreams, ARawSenderGivesUpOnAPeerThatStopsReading) {
  const std::string content = content_of(16 * kBlock);  // far more than the socket pair holds
  Files f(content);
  Pair p;  // p.b is never read
  session::StreamSpec spec;
  spec.length = content.size();
  spec.data_timeout = spec.ack_timeout = std::chrono::milliseconds(300);
  auto sending = std::async(std::launch::async,
                            [&] { return session::send_segment(p.a.get(), *f.source, spec); });
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
