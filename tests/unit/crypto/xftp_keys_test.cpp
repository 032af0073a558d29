// XFTP extended mode's keys against vectors computed independently (Python's cryptography
// package, from the derivation in docs/protocol/xftp-extended.md section 3), and RFC 5869's.
#include "crypto/xftp_keys.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace ferry::test {
namespace {

using crypto::XftpSealer;

std::vector<std::uint8_t> hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}
std::vector<std::uint8_t> iota(std::uint8_t from, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}
std::vector<std::uint8_t> text(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(XftpKeys, HkdfRfc5869Case1) {
  const std::vector<std::uint8_t> ikm(22, 0x0b);
  auto okm = crypto::hkdf_sha256(ikm, iota(0, 13), "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", 42);
  ASSERT_TRUE(okm);
  EXPECT_EQ(*okm, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5"
                      "b887185865"));
}

TEST(XftpKeys, SealVectorsBothDirectionsAndOpen) {
  const auto key = iota(0, 32), cn = iota(0x20, 16), sn = iota(0x40, 16);
  const auto header =
      hex("d0050102030405060708"
          "0000000000000007");
  auto c2s = XftpSealer::derive(key, cn, sn, XftpSealer::Direction::client_to_server);
  auto s2c = XftpSealer::derive(key, cn, sn, XftpSealer::Direction::server_to_client);
  ASSERT_TRUE(c2s && s2c);
  const auto sealed = c2s->seal(header, text("abc"), 7);
  EXPECT_EQ(sealed, hex("57aea9ce3df439d5d30b5b13871fd5e06e75a9"));
  EXPECT_EQ(s2c->seal(header, text("abc"), 7), hex("d3e69abc4b356ac57a2fc14eb61af36d8b37d0"));
  auto opened = c2s->open(header, sealed, 7);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, text("abc"));
  // Another packet number, another header, a flipped bit, the other direction's key: refused.
  EXPECT_FALSE(c2s->open(header, sealed, 8));
  auto other = header;
  other[1] = 0x06;
  EXPECT_FALSE(c2s->open(other, sealed, 7));
  auto flipped = sealed;
  flipped[0] ^= 1;
  EXPECT_FALSE(c2s->open(header, flipped, 7));
  EXPECT_FALSE(s2c->open(header, sealed, 7));
  EXPECT_FALSE(c2s->open(header, hex("0011"), 7)) << "shorter than a tag";
  // The file's bytes are not on the wire.
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), std::begin("abc"), std::begin("abc") + 3),
            sealed.end());
}

TEST(XftpKeys, HelloMacVector) {
  const auto mac = crypto::xftp_hello_mac(iota(0, 32), text("hello bytes"));
  EXPECT_EQ(std::vector<std::uint8_t>(mac.begin(), mac.end()),
            hex("ff2ee5e419cd3371b04100fa18ad07f3"));
  EXPECT_NE(crypto::xftp_hello_mac(iota(1, 32), text("hello bytes")),
            crypto::xftp_hello_mac(iota(0, 32), text("hello bytes")));
}

}  // namespace
}  // namespace ferry::test
