#include "storage/checksum.hpp"

#include <gtest/gtest.h>

#include "core/bytes.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using storage::Digest;
using storage::Hasher;

TEST(Checksum, KnownVectors) {
  Hasher xxh(Digest::xxh3_128);
  EXPECT_EQ(xxh.finish_hex(), "99aa06d3014798d86001c324468d497f");  // XXH3-128 of ""
  Hasher sha(Digest::sha256);
  sha.update(as_bytes("abc"));
  EXPECT_EQ(sha.finish_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Checksum, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7);
  for (auto d : {Digest::xxh3_128, Digest::sha256}) {
    Hasher whole(d), parts(d);
    whole.update(as_bytes(data));
    for (std::size_t i = 0; i < data.size(); i += 997) {
      parts.update(as_bytes(std::string_view(data).substr(i, 997)));
    }
    EXPECT_EQ(whole.finish_hex(), parts.finish_hex()) << to_string(d);
  }
}

TEST(Checksum, FileChecksumMatchesHasher) {
  TempDir dir;
  std::string data(3 << 20, 'q');
  data[12345] = 'z';
  write_file(dir / "f.bin", data);
  auto sb = storage::Sandbox::confined(dir.path());
  ASSERT_TRUE(sb);
  auto f = sb->open_read("f.bin");
  ASSERT_TRUE(f);
  for (auto d : {Digest::xxh3_128, Digest::sha256}) {
    Hasher h(d);
    h.update(as_bytes(data));
    auto sum = storage::checksum_file(*f, d);
    ASSERT_TRUE(sum);
    EXPECT_EQ(*sum, h.finish_hex());
  }
}

TEST(Checksum, NamesParse) {
  EXPECT_EQ(storage::parse_digest("sha256"), Digest::sha256);
  EXPECT_EQ(storage::parse_digest("xxh3-128"), Digest::xxh3_128);
  EXPECT_FALSE(storage::parse_digest("md5"));
  EXPECT_EQ(to_string(Digest::xxh3_128), "xxh3-128");
}

}  // namespace
}  // namespace ferry::test
