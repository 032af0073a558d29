// The bbftp data channel below the end-to-end tests: listeners that take the peer's host only,
// in stream order; connections that carry the plan's marking at both ends; a plan moved over
// several streams, both directions.
#include "session/bbftp/data_channel.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "storage/atomic_writer.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using session::DataEndpoint;

constexpr int kQbssTos = 0x20;  // QBSS, as bbftp marks it (DSCP CS1)
using session::DataListeners;

io::SocketAddress loopback(const char* host = "127.0.0.1") {
  auto a = io::resolve(host, 0, true);
  EXPECT_TRUE(a && !a->empty());
  return a->front();
}

DataEndpoint endpoint() {
  DataEndpoint e;
  e.local = loopback();
  e.peer = loopback();
  e.timeout = std::chrono::seconds(10);
  return e;
}

int tos_of(int fd) {
  int tos = -1;
  socklen_t len = sizeof tos;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_IP, IP_TOS, &tos, &len), 0);
  return tos;
}

// A socket bound to `source` (a stranger's address on the loopback network), or nothing when
// this system does not route all of 127.0.0.0/8 to loopback.
UniqueFd bound_to(const char* source) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return {};
  return fd;
}

// A connection to `port` on 127.0.0.1 from the socket `fd`, made by hand.
UniqueFd connect_from(UniqueFd fd, std::uint32_t port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  return fd;
}

TEST(BbftpDataChannel, AcceptsThePeersHostOnlyInStreamOrderAndMarksBothEnds) {
  auto at = endpoint();
  at.backlog = 4;
  std::vector<io::SocketAddress> strangers;
  at.on_stranger = [&](const io::SocketAddress& from) { strangers.push_back(from); };
  auto listeners = DataListeners::open(at, 3);
  ASSERT_TRUE(listeners) << listeners.error().message();
  ASSERT_EQ(listeners->ports().size(), 3u);
  // A stranger on 127.0.0.2 knocks on the second stream's port before the peer does.
  auto from = bound_to("127.0.0.2");
  if (!from) GTEST_SKIP() << "127.0.0.2 cannot be bound here: no stranger to play";
  auto stranger = connect_from(std::move(from), listeners->ports()[1]);

  const auto plan = bbftp::plan_transfer(3 << 20, 3, 256, bbftp::tropt::kQbss);
  ASSERT_TRUE(plan.qbss);
  session::DataSockets connected = Unexpected(session::DataOpenError{});
  std::thread peer([&] { connected = session::connect_all(endpoint(), listeners->ports(), plan); });
  auto accepted = listeners->accept_all(at, plan);
  peer.join();
  ASSERT_TRUE(accepted) << accepted.error().error.message();
  ASSERT_TRUE(connected) << connected.error().error.message();
  ASSERT_EQ(accepted->size(), 3u);
  ASSERT_EQ(strangers.size(), 1u);
  EXPECT_EQ(strangers[0].host(), "127.0.0.2");
  char byte = 0;
  EXPECT_EQ(::recv(stranger.get(), &byte, 1, 0), 0) << "the stranger is closed unread";
  for (std::size_t i = 0; i < 3; ++i) {
    // Which listener accepted says which stream: the i-th accepted socket is the i-th port's.
    auto local = io::SocketAddress::of_local((*accepted)[i].get());
    ASSERT_TRUE(local);
    EXPECT_EQ(local->port(), listeners->ports()[i]);
    EXPECT_EQ(tos_of((*accepted)[i].get()) & 0xfc, kQbssTos) << "accepting end, stream " << i;
    EXPECT_EQ(tos_of((*connected)[i].get()) & 0xfc, kQbssTos) << "connecting end, stream " << i;
  }
}

TEST(BbftpDataChannel, UnmarkedWithoutQbss) {
  auto at = endpoint();
  auto listeners = DataListeners::open(at, 1);
  ASSERT_TRUE(listeners);
  const auto plan = bbftp::plan_transfer(1000, 1, 256, 0);
  session::DataSockets connected = Unexpected(session::DataOpenError{});
  std::thread peer([&] { connected = session::connect_all(endpoint(), listeners->ports(), plan); });
  auto accepted = listeners->accept_all(at, plan);
  peer.join();
  ASSERT_TRUE(accepted && connected);
  EXPECT_EQ(tos_of((*accepted)[0].get()), 0);
  EXPECT_EQ(tos_of((*connected)[0].get()), 0);
}

TEST(BbftpDataChannel, BuffersAndPortRangeAsConfigured) {
  auto at = endpoint();
  at.first_port = 40100;
  at.last_port = 40163;
  at.send_buffer_bytes = 128 * 1024;
  at.recv_buffer_bytes = 192 * 1024;
  auto listeners = DataListeners::open(at, 2);
  if (!listeners)
    GTEST_SKIP() << "ports 40100-40163 are busy here: " << listeners.error().message();
  for (auto port : listeners->ports()) {
    EXPECT_GE(port, 40100u);
    EXPECT_LE(port, 40163u);
  }
  const auto plan = bbftp::plan_transfer(1 << 20, 2, 256, 0);
  auto to = endpoint();
  to.send_buffer_bytes = 64 * 1024;
  to.recv_buffer_bytes = 96 * 1024;
  session::DataSockets connected = Unexpected(session::DataOpenError{});
  std::thread peer([&] { connected = session::connect_all(to, listeners->ports(), plan); });
  auto accepted = listeners->accept_all(at, plan);
  peer.join();
  ASSERT_TRUE(accepted && connected);
  auto buffer = [](int fd, int which) {
    int v = 0;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, which, &v, &len), 0);
    return v;
  };
  // Linux doubles what it is given (room for its bookkeeping): at least the size asked.
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_GE(buffer((*accepted)[i].get(), SO_SNDBUF), 128 * 1024);
    EXPECT_GE(buffer((*accepted)[i].get(), SO_RCVBUF), 192 * 1024);
    EXPECT_GE(buffer((*connected)[i].get(), SO_SNDBUF), 64 * 1024);
    EXPECT_LT(buffer((*connected)[i].get(), SO_SNDBUF), 128 * 1024 * 2) << "set, not autotuned";
    EXPECT_GE(buffer((*connected)[i].get(), SO_RCVBUF), 96 * 1024);
  }
}

TEST(BbftpDataChannel, ConnectingToAClosedPortSaysWhichStream) {
  auto listeners = DataListeners::open(endpoint(), 2);
  ASSERT_TRUE(listeners);
  auto ports = listeners->ports();
  listeners->close();  // nobody listens there any more
  const auto plan = bbftp::plan_transfer(1 << 20, 2, 256, 0);
  auto connected = session::connect_all(endpoint(), ports, plan);
  // Refused, unless another program took the freed port meanwhile (then it is not ours to say).
  if (connected) GTEST_SKIP() << "the closed port was taken again at once";
  EXPECT_EQ(connected.error().stream, 0u);
  EXPECT_NE(connected.error().error.sys_errno, 0);
}

// A plan moved over several streams, with and without compression: the file arrives whole, and
// the progress reported ends at its size.
void round_trip(std::uint32_t options) {
  TempDir dir;
  std::string content;
  const std::size_t length = (5 << 20) + 12345;
  content.reserve(length);
  for (std::size_t i = 0; i < length; ++i) {
    content.push_back(static_cast<char>((i * 7919) >> 5));
  }
  write_file(dir / "source", content);
  auto box = storage::Sandbox::unconfined(dir.path());
  ASSERT_TRUE(box);
  auto source = box->open_read("source");
  ASSERT_TRUE(source);
  storage::WriteOptions wo;
  wo.preallocate = content.size();
  auto target = box->create("target", wo);
  ASSERT_TRUE(target);

  auto at = endpoint();
  const auto plan = bbftp::plan_transfer(content.size(), 4, 64, options);
  auto listeners = DataListeners::open(at, 4);
  ASSERT_TRUE(listeners);
  session::DataSockets connected = Unexpected(session::DataOpenError{});
  std::thread peer([&] { connected = session::connect_all(endpoint(), listeners->ports(), plan); });
  auto accepted = listeners->accept_all(at, plan);
  peer.join();
  ASSERT_TRUE(accepted && connected);

  std::uint64_t last_reported = 0;
  std::optional<session::StreamError> sent;
  std::thread sender([&] {
    sent = session::move_streams(*connected, *source, plan, session::DataDirection::send, {});
  });
  auto received =
      session::move_streams(*accepted, target->file(), plan, session::DataDirection::receive, {},
                            [&](std::uint64_t moved, std::uint64_t size) {
                              EXPECT_EQ(size, content.size());
                              EXPECT_GE(moved, last_reported);
                              last_reported = moved;
                            });
  sender.join();
  ASSERT_FALSE(sent) << sent->message;
  ASSERT_FALSE(received) << received->message;
  EXPECT_EQ(last_reported, content.size());
  ASSERT_TRUE(target->commit());
  EXPECT_EQ(read_file(dir / "target"), content);
}

TEST(BbftpDataChannel, MovesAPlanOverFourStreams) {
  round_trip(0);
}
TEST(BbftpDataChannel, MovesACompressedPlanOverFourStreams) {
  round_trip(bbftp::tropt::kGzip);
}

// A receiving stream whose peer goes away mid-segment fails with a clear error, not a hang.
TEST(BbftpDataChannel, APeerThatLeavesMidSegmentIsAnError) {
  TempDir dir;
  auto box = storage::Sandbox::unconfined(dir.path());
  ASSERT_TRUE(box);
  storage::WriteOptions wo;
  auto target = box->create("target", wo);
  ASSERT_TRUE(target);
  auto at = endpoint();
  const auto plan = bbftp::plan_transfer(1 << 20, 1, 64, 0);
  auto listeners = DataListeners::open(at, 1);
  ASSERT_TRUE(listeners);
  session::DataSockets connected = Unexpected(session::DataOpenError{});
  std::thread peer([&] {
    connected = session::connect_all(endpoint(), listeners->ports(), plan);
    if (connected) {
      const char some[100] = {};
      (void)!::send((*connected)[0].get(), some, sizeof some, MSG_NOSIGNAL);
      (*connected)[0].reset();  // gone after 100 of 1 MiB
    }
  });
  auto accepted = listeners->accept_all(at, plan);
  peer.join();
  ASSERT_TRUE(accepted);
  auto failed =
      session::move_streams(*accepted, target->file(), plan, session::DataDirection::receive, {});
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->message.empty());
}

}  // namespace
}  // namespace ferry::test
