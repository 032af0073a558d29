#include <gtest/gtest.h>

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
