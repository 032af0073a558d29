// xftpd's extended-mode connection table without sockets: the HELLO exchange clear and keyed,
// a repeated HELLO, a wrong MAC, the peer-address check, repeated and replayed request IDs, and
// the limits.
#include "session/xftp/extended_connections.hpp"

#include <gtest/gtest.h>

#include "crypto/xftp_keys.hpp"

namespace ferry::test {
namespace {

using namespace ferry::xftp;
using session::ExtendedConnections;
using Clock = std::chrono::steady_clock;

io::SocketAddress at(const char* host, std::uint16_t port) {
  auto a = io::resolve(host, port, true);
  EXPECT_TRUE(a && !a->empty());
  return a->front();
}

struct Client {
  ext::ConnectionId id{9, 9, 9, 9, 9, 9, 9, 9};
  ext::Nonce nonce{};
  std::optional<std::vector<std::uint8_t>> key;
  std::vector<std::uint8_t> hello() const {
    ext::Hello h;
    h.connection = id;
    h.nonce = nonce;
    if (key) {
      h.features = ext::feature::kKeyed;
      h.mac = ext::Tag{};
    }
    auto b = ext::encode({{ext::Type::hello, {}, 0}, h});
    if (key) {
      const auto mac = crypto::xftp_hello_mac(*key, {b.data(), b.size() - ext::kTagSize});
      std::copy(mac.begin(), mac.end(), b.end() - ext::kTagSize);
    }
    return b;
  }
};

Bytes bytes(const std::vector<std::uint8_t>& v) {
  return as_bytes(v);
}

ext::Hello hello_ok(const std::vector<std::uint8_t>& reply) {
  auto d = ext::decode(bytes(reply));
  EXPECT_TRUE(d);
  EXPECT_EQ(d->header.type, ext::Type::hello_ok);
  return std::get<ext::Hello>(d->body);
}

TEST(XftpExtendedConnections, ClearHelloRequestsRepeatsAndReplays) {
  ExtendedConnections table(std::nullopt, {});
  Client c;
  const auto me = at("127.0.0.1", 5000);
  const auto now = Clock::now();
  auto first = table.on_datagram(me, bytes(c.hello()), now);
  ASSERT_FALSE(first.reply.empty());
  const auto ok = hello_ok(first.reply);
  // The same HELLO again (its answer was lost): the same answer, one connection.
  EXPECT_EQ(table.on_datagram(me, bytes(c.hello()), now).reply, first.reply);
  EXPECT_EQ(table.size(), 1u);

  std::atomic<std::uint64_t> packets{1};
  session::ExtendedFraming f{ok.connection, c.id, &packets, nullptr, nullptr};
  auto request = [&](std::uint32_t id) {
    return session::frame(f, ext::Type::request,
                          ext::Request{id, 1, ext::encode_fields(ext::PathArgs{"/x"})});
  };
  auto r100 = table.on_datagram(me, bytes(request(100)), now);
  ASSERT_TRUE(r100.work);
  EXPECT_EQ(r100.work->request.id, 100u);
  // Repeated while running: nothing (the reply is coming); answered: the same reply.
  EXPECT_FALSE(table.on_datagram(me, bytes(request(100)), now).work);
  const auto answer = table.reply(*r100.work, ext::Status::not_found, std::monostate{});
  EXPECT_EQ(table.on_datagram(me, bytes(request(100)), now).reply, answer);
  // From another address: a stranger, dropped.
  EXPECT_FALSE(table.on_datagram(at("127.0.0.2", 5000), bytes(request(101)), now).work);
  EXPECT_EQ(table.drops().stranger.load(), 1u);
  // Far below the highest ID: a replay, dropped.
  EXPECT_TRUE(table.on_datagram(me, bytes(request(500)), now).work);
  EXPECT_FALSE(table.on_datagram(me, bytes(request(3)), now).work);
  // An unknown connection ID.
  session::ExtendedFraming other{{1, 1, 1, 1, 1, 1, 1, 1}, c.id, &packets, nullptr, nullptr};
  EXPECT_FALSE(
      table
          .on_datagram(me, bytes(session::frame(other, ext::Type::request, ext::Request{7, 1, {}})),
                       now)
          .work);
  EXPECT_GE(table.drops().elsewhere.load(), 2u);
}

TEST(XftpExtendedConnections, KeyedHelloNeedsTheKey) {
  const std::vector<std::uint8_t> key(32, 7);
  ExtendedConnections table(key, {});
  const auto me = at("127.0.0.1", 5001);
  Client good;
  good.key = key;
  auto ok = table.on_datagram(me, bytes(good.hello()), Clock::now());
  ASSERT_FALSE(ok.reply.empty());
  const auto answer = hello_ok(ok.reply);
  EXPECT_NE(answer.features & ext::feature::kKeyed, 0u);
  ASSERT_TRUE(answer.mac);
  EXPECT_TRUE(crypto::equal_tags(
      *answer.mac,
      crypto::xftp_hello_mac(key, {ok.reply.data(), ok.reply.size() - ext::kTagSize})));
  // Another key: no answer at all, counted. No key: refused in clear with the reason.
  Client wrong = good;
  wrong.id = {3, 3, 3, 3, 3, 3, 3, 3};
  wrong.key = std::vector<std::uint8_t>(32, 8);
  EXPECT_TRUE(table.on_datagram(me, bytes(wrong.hello()), Clock::now()).reply.empty());
  EXPECT_EQ(table.drops().unauthentic.load(), 1u);
  Client none;
  auto refused = table.on_datagram(me, bytes(none.hello()), Clock::now());
  auto d = ext::decode(bytes(refused.reply));
  ASSERT_TRUE(d);
  EXPECT_NE(std::get<ext::Abort>(d->body).reason.find("needs a key"), std::string::npos);
  EXPECT_EQ(table.size(), 1u);
}

TEST(XftpExtendedConnections, LimitsPerSourceAndInAll) {
  session::ExtendedLimits limits;
  limits.connections = 3;
  limits.per_source = 2;
  ExtendedConnections table(std::nullopt, limits);
  const auto now = Clock::now();
  auto hello_from = [&](const char* host, std::uint16_t port, std::uint8_t id) {
    Client c;
    c.id.fill(id);
    return table.on_datagram(at(host, port), bytes(c.hello()), now);
  };
  EXPECT_EQ(hello_ok(hello_from("127.0.0.1", 1, 1).reply).version, 1);
  EXPECT_EQ(hello_ok(hello_from("127.0.0.1", 2, 2).reply).version, 1);
  auto third = ext::decode(bytes(hello_from("127.0.0.1", 3, 3).reply));
  ASSERT_TRUE(third);
  EXPECT_TRUE(std::holds_alternative<ext::Abort>(third->body)) << "two per source";
  EXPECT_EQ(hello_ok(hello_from("127.0.0.2", 1, 4).reply).version, 1);
  auto full = ext::decode(bytes(hello_from("127.0.0.3", 1, 5).reply));
  ASSERT_TRUE(full);
  EXPECT_TRUE(std::holds_alternative<ext::Abort>(full->body)) << "three in all";
  EXPECT_EQ(table.size(), 3u);
  // Forgotten after the idle time, and then there is room again.
  Client late;
  late.id.fill(6);
  auto later = table.on_datagram(at("127.0.0.3", 1), bytes(late.hello()),
                                 now + limits.idle + std::chrono::seconds(1));
  EXPECT_EQ(hello_ok(later.reply).version, 1);
  EXPECT_EQ(table.size(), 1u);
}

}  // namespace
}  // namespace ferry::test
