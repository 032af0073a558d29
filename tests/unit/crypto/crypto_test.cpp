#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "crypto/rsa.hpp"
#include "proto/bbftp/codec.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RsaLogin, FreshKeyHasTheWireShape) {
  auto key = crypto::RsaPrivateKey::generate();
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->size_bytes(), 128u);
  EXPECT_EQ(key->modulus_mpi().size(), 133u) << "4-byte length + 0x00 sign byte + 128 bytes";
  EXPECT_EQ(key->exponent_mpi(), (std::vector<std::uint8_t>{0, 0, 0, 3, 1, 0, 1}));
}

TEST(RsaLogin, ClientEncryptsServerDecrypts) {
  auto key = crypto::RsaPrivateKey::generate();
  ASSERT_TRUE(key);
  auto pub = crypto::RsaPublicKey::from_mpi(key->modulus_mpi(), key->exponent_mpi());
  ASSERT_TRUE(pub) << pub.error();
  const std::string longest(86, 'p');
  for (const std::string& secret : {std::string("bbtest"), std::string("pä$$wörd"), longest}) {
    auto c = pub->encrypt(secret);
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->size(), 128u);
    auto p = key->decrypt(*c);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(*p, secret);
  }
  EXPECT_FALSE(pub->encrypt(std::string(87, 'x'))) << "OAEP leaves room for 86 bytes";
}

TEST(RsaLogin, GarbageNeverDecrypts) {
  auto key = crypto::RsaPrivateKey::generate();
  ASSERT_TRUE(key);
  std::vector<std::uint8_t> junk(128, 0x42);
  EXPECT_FALSE(key->decrypt(junk));
  EXPECT_FALSE(key->decrypt(std::span<const std::uint8_t>(junk).first(5)));
  EXPECT_FALSE(crypto::RsaPublicKey::from_mpi(std::vector<std::uint8_t>{0, 0, 0, 1, 5},
                                              std::vector<std::uint8_t>{0, 0, 0, 1, 3}));
  EXPECT_FALSE(crypto::RsaPublicKey::from_mpi({}, {}));
}

TEST(RsaLogin, Session4LoginDecryptsThroughTheAdapter) {
  auto key = crypto::RsaPrivateKey::from_pem(slurp(golden_path("bbftp/session4-server-key.pem")));
  ASSERT_TRUE(key) << key.error();
  const auto conn = read_transcript(golden_path("bbftp/session4-login-with-key.txt")).at(0);
  const auto c2s = conn.stream(true);
  const auto s2c = conn.stream(false);
  auto crypt = bbftp::decode_next({reinterpret_cast<const std::byte*>(s2c.data()), s2c.size()},
                                  {bbftp::Direction::to_client, 3});
  auto login = bbftp::decode_next({reinterpret_cast<const std::byte*>(c2s.data()), c2s.size()},
                                  {bbftp::Direction::to_server, 3});
  ASSERT_TRUE(crypt && login);
  EXPECT_EQ(std::get<bbftp::CryptKey>(crypt->message).modulus_mpi, key->modulus_mpi());
  const auto& l = std::get<bbftp::Login>(login->message);
  EXPECT_EQ(key->decrypt(l.user).value_or(""), "bbtest");
  EXPECT_EQ(key->decrypt(l.pass).value_or(""), "bbtest-pw-123");
  // The client side: the announced key encrypts to something the server key opens.
  const auto& k = std::get<bbftp::CryptKey>(crypt->message);
  auto pub = crypto::RsaPublicKey::from_mpi(k.modulus_mpi, k.exponent_mpi);
  ASSERT_TRUE(pub);
  auto c = pub->encrypt("bbtest");
  ASSERT_TRUE(c);
  EXPECT_EQ(key->decrypt(*c).value_or(""), "bbtest");
}

}  // namespace
}  // namespace ferry::test
