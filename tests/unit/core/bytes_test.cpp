#include "core/bytes.hpp"

#include <gtest/gtest.h>

#include <array>

namespace ferry {
namespace {

TEST(Bytes, BigEndianRoundTrip) {
  std::array<std::byte, 8> b{};
  store_be32(std::span(b).first<4>(), 0x22000000u >> 24 << 24 | 0x1f);
  EXPECT_EQ(u8(b[0]), 0x22);
  EXPECT_EQ(u8(b[3]), 0x1f);
  store_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(u8(b[0]), 1);
  EXPECT_EQ(u8(b[7]), 8);
  EXPECT_EQ(load_be64(b), 0x0102030405060708ull);
  EXPECT_EQ(load_be32(std::span<const std::byte>(b).last<4>()), 0x05060708u);
}

TEST(Bytes, LittleEndianPort) {
  // XFTP puts its data port little-endian: 33714 is b2 83 on the wire.
  std::array<std::byte, 2> b{};
  store_le16(b, 33714);
  EXPECT_EQ(u8(b[0]), 0xb2);
  EXPECT_EQ(u8(b[1]), 0x83);
  EXPECT_EQ(load_le16(b), 33714);
}

TEST(Bytes, StringViews) {
  EXPECT_EQ(as_chars(as_bytes("abc")), "abc");
}

}  // namespace
}  // namespace ferry
