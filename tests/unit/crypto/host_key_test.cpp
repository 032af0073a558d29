// The bbftp extension's host key and key agreement, against published vectors (RFC 8032 test 1,
// RFC 7748 section 6.1) and values computed independently with Python's `cryptography`.
#include "crypto/host_key.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <vector>

#include "support/hex.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

constexpr std::string_view kSeed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kPublic =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kEmptySignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
    "46bd25bf5f0595bbe24655141438e7a100b";
constexpr std::string_view kPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

TEST(HostKey, Rfc8032Vector) {
  auto k = crypto::HostKey::from_seed(hex(kSeed));
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->public_key(), fixed<32>(kPublic));
  EXPECT_EQ(k->sign({}), fixed<64>(kEmptySignature));
  // "ferry", as Python's cryptography signs it.
  const std::vector<std::uint8_t> msg{'f', 'e', 'r', 'r', 'y'};
  EXPECT_EQ(k->sign(msg),
            fixed<64>("87d42dd377b2fbcb14805ddfa7862bde7c486b99e3148c570d8d7ae747138d4c4440e913"
                      "8060f9d60ae6b0d48f007e9ad9efa7558b5f528ad470b2aca8993f0a"));
  EXPECT_TRUE(crypto::ed25519_verify(k->public_key(), msg, k->sign(msg)));
  auto bad = k->sign(msg);
  bad[10] ^= 1;
  EXPECT_FALSE(crypto::ed25519_verify(k->public_key(), msg, bad));
  const std::vector<std::uint8_t> other{'f', 'e', 'r', 'r', 'x'};
  EXPECT_FALSE(crypto::ed25519_verify(k->public_key(), other, k->sign(msg)));
  EXPECT_EQ(crypto::fingerprint(k->public_key()),
            "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk");
}

TEST(HostKey, PemRoundTripAndRefusals) {
  auto k = crypto::HostKey::from_pem(kPem);
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->public_key(), fixed<32>(kPublic));
  EXPECT_EQ(k->to_pem(), kPem);
  EXPECT_FALSE(crypto::HostKey::from_pem("not a key"));
  EXPECT_FALSE(crypto::HostKey::from_seed(hex("0102")));
}

TEST(HostKey, CreatedOnceReadableOnlyByItsOwner) {
  TempDir dir;
  const std::string path = dir / "host_ed25519";
  auto made = crypto::HostKey::load_or_create(path);
  ASSERT_TRUE(made) << made.error();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = crypto::HostKey::load_or_create(path);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->public_key(), made->public_key());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open_to_all = crypto::HostKey::load_or_create(path);
  ASSERT_FALSE(open_to_all);
  EXPECT_NE(open_to_all.error().find("readable by others (mode 644)"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  write_file(path, "garbage");
  EXPECT_FALSE(crypto::HostKey::load_or_create(path));  // never silently replaced
  EXPECT_EQ(read_file(path), "garbage");
}

TEST(X25519, Rfc7748Vector) {
  auto alice = crypto::X25519Secret::from_bytes(
      hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = crypto::X25519Secret::from_bytes(
      hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->share(),
            fixed<32>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  EXPECT_EQ(bob->share(),
            fixed<32>("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  const auto shared = fixed<32>("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  auto ab = alice->agree(bob->share());
  auto ba = bob->agree(alice->share());
  ASSERT_TRUE(ab && ba);
  EXPECT_EQ(*ab, shared);
  EXPECT_EQ(*ba, shared);
}

TEST(X25519, FreshSharesAgreeAndDegenerateOnesAreRefused) {
  auto a = crypto::X25519Secret::generate();
  auto b = crypto::X25519Secret::generate();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->share(), b->share());
  EXPECT_EQ(*a->agree(b->share()), *b->agree(a->share()));
  EXPECT_FALSE(a->agree(crypto::PublicKey{}));  // the all-zero point: an all-zero secret
}

}  // namespace
}  // namespace ferry::test
