// An extended-mode transfer over real UDP sockets on 127.0.0.1, through a relay socket that
// loses datagrams at random (seeded), so that loss, retransmission, the end checksum and the
// keys are exercised on the wire; a stranger injects datagrams; with a key, the relay checks
// that the file's bytes never cross in clear.
#include "session/xftp/extended_transfer.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <numeric>
#include <random>
#include <thread>

#include "io/udp.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/checksum.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using namespace ferry::xftp;
using session::ExtendedFraming;

io::SocketAddress loopback() {
  auto a = io::resolve("127.0.0.1", 0, true);
  EXPECT_TRUE(a && !a->empty());
  return a->front();
}

struct Udp {
  UniqueFd fd;
  io::SocketAddress at;
  Udp() {
    auto s = io::bind_udp(loopback());
    EXPECT_TRUE(s);
    fd = std::move(*s);
    at = *io::SocketAddress::of_local(fd.get());
  }
};

// Forwards between a and b, losing `loss` of the datagrams; remembers whether `secret` crossed.
struct Relay {
  Udp sock;
  io::SocketAddress a, b;
  double loss = 0;
  std::string secret;
  std::atomic<bool> stop{false};
  std::atomic<bool> saw_secret{false};
  std::atomic<std::uint64_t> forwarded{0}, dropped{0};
  std::thread thread;
  void start(std::uint64_t seed) {
    thread = std::thread([this, seed] {
      std::mt19937_64 rng(seed);
      std::vector<std::byte> buf(65536);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!stop && std::chrono::steady_clock::now() < give_up) {
        pollfd p{sock.fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        io::SocketAddress from;
        auto n = io::try_receive_datagram(sock.fd.get(), buf, from);
        if (!n) continue;
        const std::string_view bytes(reinterpret_cast<const char*>(buf.data()), *n);
        if (!secret.empty() && bytes.find(secret) != std::string_view::npos) saw_secret = true;
        if (std::uniform_real_distribution<double>(0, 1)(rng) < loss) {
          ++dropped;
          continue;
        }
        const auto& to = io::same_endpoint(from, a) ? b : a;
        (void)io::send_to(sock.fd.get(), {buf.data(), *n}, to);
        ++forwarded;
      }
    });
  }
  ~Relay() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

struct Outcome {
  Result<ext::EndStatus, session::TransferError> sent = ext::EndStatus::failed;
  Result<ext::EndStatus, session::TransferError> received = ext::EndStatus::failed;
  session::DropCounts sender_drops, receiver_drops;
  bool identical = false;
};

// `size` bytes from a sender to a receiver through the relay (loss as given), clear or keyed.
void transfer(Outcome& run, std::size_t size, double loss, bool keyed, bool inject = false) {
  TempDir dir;
  std::string content(size, '\0');
  std::mt19937_64 fill(size);
  for (auto& c : content) c = static_cast<char>(fill());
  const std::string secret = "ferry-secret-marker-0123456789";
  if (size > secret.size() * 4) content.replace(size / 2, secret.size(), secret);
  write_file(dir / "source", content);
  auto box = storage::Sandbox::unconfined(dir.path());
  ASSERT_TRUE(box);
  auto source = box->open_read("source");
  ASSERT_TRUE(source);
  storage::WriteOptions wo;
  wo.preallocate = size;
  auto target = box->create("target", wo);
  ASSERT_TRUE(target);

  Udp s, r;
  Relay relay;
  relay.a = s.at;
  relay.b = r.at;
  relay.loss = loss;
  relay.secret = secret;
  relay.start(size + static_cast<std::uint64_t>(loss * 1000));

  std::vector<std::uint8_t> key(32);
  std::iota(key.begin(), key.end(), 7);
  const std::vector<std::uint8_t> cn(16, 1), sn(16, 2);
  auto c2s =
      crypto::XftpSealer::derive(key, cn, sn, crypto::XftpSealer::Direction::client_to_server);
  auto s2c =
      crypto::XftpSealer::derive(key, cn, sn, crypto::XftpSealer::Direction::server_to_client);
  ASSERT_TRUE(c2s && s2c);
  std::atomic<std::uint64_t> sender_packets{0}, receiver_packets{0};
  const ext::ConnectionId sender_id{1, 1, 1, 1, 1, 1, 1, 1}, receiver_id{2, 2, 2, 2, 2, 2, 2, 2};
  ExtendedFraming sf{receiver_id, sender_id, &sender_packets, keyed ? &*c2s : nullptr,
                     keyed ? &*s2c : nullptr};
  ExtendedFraming rf{sender_id, receiver_id, &receiver_packets, keyed ? &*s2c : nullptr,
                     keyed ? &*c2s : nullptr};

  auto checksum = storage::checksum_file(*source);
  ASSERT_TRUE(checksum);
  ext::Checksum sum{};
  for (std::size_t i = 0; i < 16; ++i)
    sum[i] = static_cast<std::uint8_t>(std::stoi(checksum->substr(2 * i, 2), nullptr, 16));

  SenderConfig sc;
  sc.transfer = 9;
  sc.idle_timeout = std::chrono::seconds(20);
  ReceiverConfig rc;
  rc.transfer = 9;
  rc.idle_timeout = std::chrono::seconds(20);
  TransferSender sender(sc, size, sum);
  TransferReceiver receiver(rc, size);
  session::ExtendedTransferOptions o;
  o.linger = std::chrono::milliseconds(300);

  std::thread receiving([&] {
    session::ExtendedTransferOptions ro = o;
    ro.drops = &run.receiver_drops;
    run.received = session::receive_extended(
        r.fd.get(), relay.sock.at, target->file(), receiver, rf,
        [&] { return static_cast<bool>(target->commit()); }, ro);
  });
  if (inject) {
    // A stranger (another socket) sends DATA and ACK datagrams straight to both ends.
    Udp stranger;
    std::atomic<std::uint64_t> p{0};
    ExtendedFraming forged{receiver_id, sender_id, &p, nullptr, nullptr};
    for (int i = 0; i < 20; ++i) {
      auto data = session::frame(forged, ext::Type::data, ext::Data{9, 0, 0, {'X', 'X', 'X'}});
      (void)io::send_to(stranger.fd.get(), as_bytes(data), r.at);
      auto ack =
          session::frame(forged, ext::Type::ack, ext::Ack{9, 0, 0, 1ull << 40, size, {{0, 1}}});
      (void)io::send_to(stranger.fd.get(), as_bytes(ack), s.at);
    }
  }
  session::ExtendedTransferOptions so = o;
  so.drops = &run.sender_drops;
  run.sent = session::send_extended(s.fd.get(), relay.sock.at, *source, sender, sf, so);
  receiving.join();
  relay.stop = true;
  run.identical = read_file(dir / "target") == content;
  if (keyed) {
    EXPECT_FALSE(relay.saw_secret) << "the file's bytes crossed the wire in clear";
  } else if (size > secret.size() * 4) {
    EXPECT_TRUE(relay.saw_secret) << "the check would see bytes in clear";
  }
  if (loss > 0) {
    EXPECT_GT(relay.dropped.load(), 0u);
  }
}

TEST(XftpExtendedTransfer, ClearOverALossyRelay) {
  Outcome run;
  transfer(run, 8 << 20, 0.02, false);
  ASSERT_TRUE(run.sent) << run.sent.error().message;
  ASSERT_TRUE(run.received) << run.received.error().message;
  EXPECT_EQ(*run.sent, ext::EndStatus::in_place);
  EXPECT_EQ(*run.received, ext::EndStatus::in_place);
  EXPECT_TRUE(run.identical);
}

TEST(XftpExtendedTransfer, KeyedOverALossyRelayNothingInClear) {
  Outcome run;
  transfer(run, 4 << 20, 0.02, true);
  ASSERT_TRUE(run.sent) << run.sent.error().message;
  EXPECT_EQ(*run.sent, ext::EndStatus::in_place);
  EXPECT_TRUE(run.identical);
}

TEST(XftpExtendedTransfer, AStrangersDatagramsAreDroppedAndCounted) {
  for (bool keyed : {false, true}) {
    Outcome run;
    transfer(run, 2 << 20, 0, keyed, true);
    ASSERT_TRUE(run.sent) << run.sent.error().message;
    EXPECT_EQ(*run.sent, ext::EndStatus::in_place);
    EXPECT_TRUE(run.identical) << "keyed " << keyed;
    EXPECT_EQ(run.receiver_drops.stranger.load(), 20u) << "keyed " << keyed;
    EXPECT_EQ(run.sender_drops.stranger.load(), 20u) << "keyed " << keyed;
  }
}

TEST(XftpExtendedTransfer, AnEmptyFile) {
  Outcome run;
  transfer(run, 0, 0, true);
  ASSERT_TRUE(run.sent) << run.sent.error().message;
  EXPECT_EQ(*run.sent, ext::EndStatus::in_place);
  EXPECT_TRUE(run.identical);
}

}  // namespace
}  // namespace ferry::test
