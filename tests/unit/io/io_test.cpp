#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "io/socket.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

io::SocketAddress loopback(const char* host = "127.0.0.1") {
  auto a = io::resolve(host, 0, true);
  EXPECT_TRUE(a) << a.error().message();
  return a->front();
}

TEST(TcpSocket, ConnectAcceptExchange) {
  auto listener = io::listen_tcp(loopback());
  ASSERT_TRUE(listener) << listener.error().message();
  auto local = io::SocketAddress::of_local(listener->get());
  ASSERT_TRUE(local);
  EXPECT_NE(local->port(), 0);
  std::thread client([port = local->port()] {
    auto c = io::connect_tcp("127.0.0.1", port, 2000ms);
    ASSERT_TRUE(c) << c.error().message();
    const std::string msg(1 << 20, 'x');
    ASSERT_TRUE(io::write_all(c->get(), as_bytes(msg), 5000ms));
  });
  io::SocketAddress peer;
  auto s = io::accept_tcp(listener->get(), 5000ms, &peer);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(peer.host(), "127.0.0.1");
  std::string got(1 << 20, '\0');
  ASSERT_TRUE(
      io::read_exact(s->get(), {reinterpret_cast<std::byte*>(got.data()), got.size()}, 5000ms));
  EXPECT_EQ(got, std::string(1 << 20, 'x'));
  client.join();
  std::byte b[1];
  auto eof = io::read_some(s->get(), b, 5000ms);
  ASSERT_FALSE(eof);
  EXPECT_TRUE(eof.error().eof());
  EXPECT_EQ(eof.error().message(), "read: connection closed by peer");
}

TEST(TcpSocket, ReadTimesOutWhenNothingComes) {
  auto listener = io::listen_tcp(loopback());
  ASSERT_TRUE(listener);
  auto port = io::SocketAddress::of_local(listener->get())->port();
  auto c = io::connect_tcp("127.0.0.1", port, 2000ms);
  ASSERT_TRUE(c);
  std::byte b[1];
  auto r = io::read_some(c->get(), b, 20ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ETIMEDOUT);
}

TEST(TcpSocket, ConnectionRefusedIsAClearError) {
  auto listener = io::listen_tcp(loopback());
  ASSERT_TRUE(listener);
  auto port = io::SocketAddress::of_local(listener->get())->port();
  listener->reset();
  auto c = io::connect_tcp("127.0.0.1", port, 2000ms);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().sys_errno, ECONNREFUSED);
  EXPECT_NE(c.error().message().find("Connection refused"), std::string::npos);
}

TEST(TcpSocket, PortRangeAndNames) {
  auto a = io::listen_tcp_in_range(loopback(), 40000, 40100);
  ASSERT_TRUE(a) << a.error().message();
  auto port = io::SocketAddress::of_local(a->get())->port();
  EXPECT_GE(port, 40000);
  EXPECT_LE(port, 40100);
  auto b = io::listen_tcp_in_range(loopback(), port, port);
  ASSERT_FALSE(b) << "the only port of the range is taken";
  EXPECT_TRUE(io::resolve("localhost", 21, false));
  auto bad = io::resolve("no-such-host.invalid", 21, false);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("cannot resolve"), std::string::npos);
}

TEST(TcpSocket, Ipv6Loopback) {
  auto addrs = io::resolve("::1", 0, true);
  if (!addrs) GTEST_SKIP() << "no IPv6 here: " << addrs.error().message();
  auto listener = io::listen_tcp(addrs->front());
  if (!listener) GTEST_SKIP() << "no IPv6 loopback: " << listener.error().message();
  auto local = io::SocketAddress::of_local(listener->get());
  auto c = io::connect_tcp("::1", local->port(), 2000ms);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(local->to_string().front(), '[');
}

}  // namespace
}  // namespace ferry::test

namespace ferry::test {
namespace {

TEST(TcpSocket, RandomPortOrderTriesEveryPortOnce) {
  std::vector<int> tried(100, 0);
  auto r = io::in_random_port_order(1000, 1099, [&](std::uint16_t p) -> io::Result<UniqueFd> {
    ++tried[p - 1000];
    return Unexpected(io::Error{EADDRINUSE, "taken"});
  });
  EXPECT_FALSE(r);
  for (int n : tried) EXPECT_EQ(n, 1);
  std::set<int> firsts;
  for (int i = 0; i < 20; ++i) {
    int first = -1;
    (void)io::in_random_port_order(1000, 1099, [&](std::uint16_t p) -> io::Result<UniqueFd> {
      first = p;
      return UniqueFd(::dup(0));
    });
    firsts.insert(first);
  }
  EXPECT_GT(firsts.size(), 5U) << "the first port tried is drawn at random";
}

TEST(TcpSocket, AcceptFromClosesStrangersAndTakesTheExpectedPeer) {
  const auto any = io::resolve("0.0.0.0", 0, true);
  ASSERT_TRUE(any);
  auto l = io::listen_tcp(any->front(), 8);
  ASSERT_TRUE(l);
  auto where = loopback();
  where.set_port(io::SocketAddress::of_local(l->get())->port());
  const auto stranger_from = loopback("127.0.0.2");
  auto stranger = io::connect_tcp(where, 2s, &stranger_from);
  if (!stranger) GTEST_SKIP() << "127.0.0.2 is not usable here";
  auto expected = loopback("127.0.0.1");
  auto mine = io::connect_tcp(where, 2s, &expected);
  ASSERT_TRUE(mine);
  std::vector<std::string> strangers;
  auto got = io::accept_from(l->get(), &expected, 2s,
                             [&](const io::SocketAddress& a) { strangers.push_back(a.host()); });
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(io::SocketAddress::of_peer(got->get())->host(), "127.0.0.1");
  EXPECT_EQ(strangers, std::vector<std::string>{"127.0.0.2"});
  std::byte b{};
  auto r = io::read_some(stranger->get(), {&b, 1}, 2s);
  EXPECT_TRUE(!r && (r.error().eof() || r.error().sys_errno == ECONNRESET)) << "closed unread";
  EXPECT_FALSE(io::accept_from(l->get(), &expected, 100ms)) << "the deadline holds";
}

}  // namespace
}  // namespace ferry::test
