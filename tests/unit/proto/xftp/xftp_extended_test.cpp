// XFTP extended-mode datagrams: the test vectors of docs/protocol/xftp-extended.md, decoded and
// encoded both ways; malformed datagrams refused with the right reason.
#include <gtest/gtest.h>

#include "proto/xftp/extended.hpp"

namespace ferry::test {
namespace {

using namespace ferry::xftp::ext;

std::vector<std::uint8_t> hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  std::string digits;
  for (char c : h) {
    if (c != ' ') digits.push_back(c);
  }
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes bytes_of(const std::vector<std::uint8_t>& v) {
  return as_bytes(v);
}

const ConnectionId kCid{1, 2, 3, 4, 5, 6, 7, 8};

void round_trip(const Datagram& d, std::string_view vector) {
  const auto wire = hex(vector);
  EXPECT_EQ(encode(d), wire);
  auto back = decode(bytes_of(wire));
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(*back, d);
}

TEST(XftpExtended, DataVector) {
  round_trip({{Type::data, kCid, 7}, Data{42, 3, 0x1000, {'a', 'b', 'c'}}},
             "d0 05 0102030405060708 0000000000000007 "
             "0000002a 0000000000000003 0000000000001000 616263");
}

TEST(XftpExtended, AckVector) {
  Ack a{42, 9, 1000, 0x1000000, 0x2000, {{7, 10}, {2, 5}}};
  round_trip({{Type::ack, kCid, 1}, a},
             "d0 06 0102030405060708 0000000000000001 "
             "0000002a 0000000000000009 000003e8 0000000001000000 0000000000002000 02 "
             "0000000000000007 0000000000000009 0000000000000002 0000000000000004");
}

TEST(XftpExtended, EndEndOkAbortVectors) {
  End e{42, 3, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
  round_trip({{Type::end, kCid, 2}, e},
             "d0 07 0102030405060708 0000000000000002 0000002a 0000000000000003 "
             "000102030405060708090a0b0c0d0e0f");
  round_trip({{Type::end_ok, kCid, 3}, EndOk{42, EndStatus::checksum_mismatch}},
             "d0 08 0102030405060708 0000000000000003 0000002a 01");
  round_trip({{Type::abort, kCid, 4}, Abort{42, "gone"}},
             "d0 09 0102030405060708 0000000000000004 0000002a 676f6e65");
}

TEST(XftpExtended, HelloVectors) {
  Hello h;
  h.max_datagram = 1232;
  h.features = feature::kKeyed | feature::kResume;
  h.connection = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
  for (std::uint8_t i = 0; i < 16; ++i) h.nonce[i] = static_cast<std::uint8_t>(0x20 + i);
  Tag mac{};
  for (std::uint8_t i = 0; i < 16; ++i) mac[i] = static_cast<std::uint8_t>(0x30 + i);
  h.mac = mac;
  round_trip({{Type::hello, {}, 0}, h},
             "d0 01 0000000000000000 0000000000000000 01 04d0 00000003 1112131415161718 "
             "202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f");
  Hello clear = h;
  clear.features = feature::kResume;
  clear.mac.reset();
  round_trip({{Type::hello_ok, kCid, 0}, clear},
             "d0 02 0102030405060708 0000000000000000 01 04d0 00000002 1112131415161718 "
             "202122232425262728292a2b2c2d2e2f");
  // A later version's extra fields are ignored.
  auto longer =
      hex("d0 02 0102030405060708 0000000000000000 02 04d0 00000002 1112131415161718 "
          "202122232425262728292a2b2c2d2e2f ffff");
  auto d = decode(bytes_of(longer));
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<Hello>(d->body).version, 2);
}

TEST(XftpExtended, RequestAndReplyKeepTheirBodies) {
  round_trip({{Type::request, kCid, 5}, Request{7, 2, {'/', 'x'}}},
             "d0 03 0102030405060708 0000000000000005 00000007 02 2f78");
  round_trip({{Type::reply, kCid, 6}, Reply{7, 0, {}}},
             "d0 04 0102030405060708 0000000000000006 00000007 00");
}

TEST(XftpExtended, RefusesWhatIsNotOneOfOurs) {
  EXPECT_EQ(decode(bytes_of(hex(""))).error(), Errc::too_short);
  EXPECT_EQ(decode(bytes_of(hex("cf 00 00 0102030405060708 2f"))).error(), Errc::wrong_magic);
  EXPECT_EQ(decode(bytes_of(hex("d0 05 0102030405060708 00000000"))).error(), Errc::too_short);
  EXPECT_EQ(decode(bytes_of(hex("d0 0a 0102030405060708 0000000000000000"))).error(),
            Errc::unknown_type);
  EXPECT_EQ(decode(bytes_of(hex("d0 00 0102030405060708 0000000000000000"))).error(),
            Errc::unknown_type);
  // A DATA without its fixed fields; a keyed HELLO without its MAC.
  EXPECT_EQ(decode(bytes_of(hex("d0 05 0102030405060708 0000000000000000 0000002a"))).error(),
            Errc::too_short);
  EXPECT_EQ(decode(bytes_of(hex("d0 01 0000000000000000 0000000000000000 01 04d0 00000001 "
                                "1112131415161718 202122232425262728292a2b2c2d2e2f")))
                .error(),
            Errc::too_short);
  // ACK ranges that overlap, go up, or do not start at the largest; more ranges than bytes.
  const std::string head =
      "d0 06 0102030405060708 0000000000000001 0000002a 0000000000000009 "
      "00000000 0000000000000000 0000000000000000 ";
  EXPECT_EQ(decode(bytes_of(hex(head + "01 0000000000000007 0000000000000008"))).error(),
            Errc::malformed);
  EXPECT_EQ(decode(bytes_of(hex(head + "02 0000000000000007 0000000000000009 "
                                       "0000000000000008 0000000000000008")))
                .error(),
            Errc::malformed);
  EXPECT_EQ(decode(bytes_of(hex(head + "01 0000000000000009 0000000000000007"))).error(),
            Errc::malformed);
  EXPECT_EQ(decode(bytes_of(hex(head + "02 0000000000000007 0000000000000009"))).error(),
            Errc::too_short);
  // END_OK with a status this version does not define; DATA past 2^64.
  EXPECT_EQ(decode(bytes_of(hex("d0 08 0102030405060708 0000000000000003 0000002a 07"))).error(),
            Errc::malformed);
  EXPECT_EQ(decode(bytes_of(hex("d0 05 0102030405060708 0000000000000000 0000002a "
                                "0000000000000000 ffffffffffffffff 6162")))
                .error(),
            Errc::malformed);
}

}  // namespace
}  // namespace ferry::test
