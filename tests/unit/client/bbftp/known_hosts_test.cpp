// Host key pins: first use, a match, a changed key and a downgrade; what a user wrote is kept.
#include "client/bbftp/known_hosts.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using client::KnownHost;
using client::KnownHosts;
using client::PinCheck;

const KnownHost kA{"data.example.org", 5021, "ed25519", "SHA256:AAAA"};
const KnownHost kB{"data.example.org", 5021, "ed25519", "SHA256:BBBB"};

TEST(KnownHosts, FirstUseThenMatchChangeAndDowngrade) {
  KnownHosts k;
  EXPECT_EQ(k.check("data.example.org", 5021, kA), PinCheck::first_use);
  EXPECT_EQ(k.check("data.example.org", 5021, std::nullopt), PinCheck::first_use);
  k.pin(kA);
  EXPECT_EQ(k.check("data.example.org", 5021, kA), PinCheck::matches);
  EXPECT_EQ(k.check("data.example.org", 5021, kB), PinCheck::changed);
  EXPECT_EQ(k.check("data.example.org", 5021, std::nullopt), PinCheck::downgrade);
  EXPECT_EQ(k.check("data.example.org", 5022, kB), PinCheck::first_use);  // per port
  KnownHost other_type = kA;
  other_type.type = "ed448";
  EXPECT_EQ(k.check("data.example.org", 5021, other_type), PinCheck::changed);
  EXPECT_TRUE(k.forget("data.example.org", 5021));
  EXPECT_FALSE(k.forget("data.example.org", 5021));
  EXPECT_EQ(k.check("data.example.org", 5021, kB), PinCheck::first_use);
}

TEST(KnownHosts, KeepsWhatItDoesNotUnderstand) {
  const std::string text =
      "# pins\n"
      "\n"
      "data.example.org 5021 ed25519 SHA256:AAAA\n"
      "garbage line\n"
      "h 99999 ed25519 SHA256:X\n"
      "h 0x10 ed25519 SHA256:X\n"
      "h 21 ed25519 MD5:X\n"
      "other.example.org   5021\ted25519 SHA256:CCCC";
  auto k = KnownHosts::parse(text);
  ASSERT_NE(k.find("data.example.org", 5021), nullptr);
  EXPECT_EQ(*k.find("data.example.org", 5021), kA);
  ASSERT_NE(k.find("other.example.org", 5021), nullptr);
  EXPECT_EQ(k.find("other.example.org", 5021)->fingerprint, "SHA256:CCCC");
  EXPECT_EQ(k.find("h", 21), nullptr);
  EXPECT_EQ(k.serialize(), text + "\n");
  k.pin(kB);  // replaces the pin, keeps the rest
  const auto again = KnownHosts::parse(k.serialize());
  EXPECT_EQ(*again.find("data.example.org", 5021), kB);
  EXPECT_NE(k.serialize().find("garbage line\n"), std::string::npos);
  EXPECT_EQ(k.serialize().find("SHA256:AAAA"), std::string::npos);
}

TEST(KnownHosts, TheFileIsTheOwnersOnly) {
  TempDir dir;
  const std::string path = dir / "config/ferry/known_hosts";
  auto empty = KnownHosts::load(path);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->find("data.example.org", 5021), nullptr);
  KnownHosts k;
  k.pin(kA);
  ASSERT_TRUE(k.save(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "config/ferry").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto back = KnownHosts::load(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back->find("data.example.org", 5021), kA);
  EXPECT_EQ(read_file(path), "data.example.org 5021 ed25519 SHA256:AAAA\n");
}

}  // namespace
}  // namespace ferry::test
