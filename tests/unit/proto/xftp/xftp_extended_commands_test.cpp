// The fields of extended-mode requests and replies: vectors, round trips, refusals.
#include <gtest/gtest.h>

#include "proto/xftp/extended_commands.hpp"

namespace ferry::test {
namespace {

using namespace ferry::xftp::ext;

std::vector<std::uint8_t> hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  std::string d;
  for (char c : h) {
    if (c != ' ') d.push_back(c);
  }
  for (std::size_t i = 0; i + 1 < d.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(d.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(XftpExtendedCommands, UploadRequestVector) {
  UploadArgs u{"/a", 5, 1700000000, {}, kResumeFlag};
  for (std::uint8_t i = 0; i < 16; ++i) u.checksum[i] = i;
  const auto wire =
      hex("0002 2f61 0000000000000005 000000006553f100 000102030405060708090a0b0c0d0e0f 01");
  EXPECT_EQ(encode_fields(RequestFields{u}), wire);
  auto back = decode_fields(Command::upload, as_bytes(wire));
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<UploadArgs>(*back), u);
}

TEST(XftpExtendedCommands, EveryRequestRoundTrips) {
  const std::vector<std::pair<Command, RequestFields>> cases = {
      {Command::list, ListArgs{"/d", 40, 100}},
      {Command::stat, PathArgs{"/f"}},
      {Command::remove, PathArgs{"/f"}},
      {Command::mkdir, PathArgs{"/n\xc3\xa9w"}},
      {Command::move, MoveArgs{"/a", "/b"}},
      {Command::download, DownloadArgs{"/big", kResumeFlag, {{0, 4096}, {8192, 10000}}}},
  };
  for (const auto& [c, f] : cases) {
    const auto wire = encode_fields(f);
    auto back = decode_fields(c, as_bytes(wire));
    ASSERT_TRUE(back) << static_cast<int>(c);
    EXPECT_EQ(*back, f) << static_cast<int>(c);
  }
}

TEST(XftpExtendedCommands, RepliesRoundTrip) {
  ListResult l{7,
               {{"a", EntryType::file, 0100644, 5, 1}, {"d", EntryType::directory, 040755, 0, 2}}};
  const auto wire = encode_fields(ReplyFields{l});
  EXPECT_EQ(wire, hex("00000007 0002 0001 61 00 000081a4 0000000000000005 0000000000000001 "
                      "0001 64 01 000041ed 0000000000000000 0000000000000002"));
  EXPECT_EQ(std::get<ListResult>(*decode_fields(Command::list, Status::ok, as_bytes(wire))), l);
  UploadResult u{3, 40000, {{0, 1 << 20}}, {0x1122334455667788}};
  EXPECT_EQ(std::get<UploadResult>(*decode_fields(Command::upload, Status::ok,
                                                  as_bytes(encode_fields(ReplyFields{u})))),
            u);
  // The UPLOAD reply's layout, and one checksum per range or nothing.
  EXPECT_EQ(encode_fields(ReplyFields{u}),
            hex("00000003 9c40 0001 0000000000000000 0000000000100000 00000001 "
                "1122334455667788"));
  EXPECT_FALSE(decode_fields(Command::upload, Status::ok,
                             as_bytes(hex("00000003 9c40 0001 0000000000000000 "
                                          "0000000000100000 00000000"))));
  EXPECT_FALSE(decode_fields(Command::upload, Status::ok,
                             as_bytes(hex("00000003 9c40 0000 00000002 1111111111111111 "
                                          "2222222222222222"))));
  DownloadResult d{4, 40001, 99, -1, {}};
  EXPECT_EQ(std::get<DownloadResult>(*decode_fields(Command::download, Status::ok,
                                                    as_bytes(encode_fields(ReplyFields{d})))),
            d);
  EXPECT_EQ(std::get<BusyResult>(
                *decode_fields(Command::upload, Status::busy, as_bytes(hex("000003e8")))),
            BusyResult{1000});
  EXPECT_TRUE(std::holds_alternative<std::monostate>(
      *decode_fields(Command::upload, Status::not_found, {})));
}

TEST(XftpExtendedCommands, RefusesWhatDoesNotParse) {
  EXPECT_FALSE(decode_fields(Command::stat, as_bytes(hex("0005 2f"))));  // string runs out
  EXPECT_FALSE(decode_fields(Command::list, as_bytes(hex("0001 2f 0000"))));
  EXPECT_FALSE(decode_fields(static_cast<Command>(9), as_bytes(hex("0001 2f"))));
  // Ranges that are empty, go down or overlap.
  EXPECT_FALSE(decode_fields(Command::download,
                             as_bytes(hex("0001 2f 01 0001 0000000000000005 0000000000000005"))));
  EXPECT_FALSE(decode_fields(Command::download,
                             as_bytes(hex("0001 2f 01 0002 0000000000000005 0000000000000009 "
                                          "0000000000000001 0000000000000002"))));
  EXPECT_FALSE(decode_fields(Command::download, as_bytes(hex("0001 2f 01 0003"))));
  // An entry type this version does not define; a BUSY without its delay.
  EXPECT_FALSE(
      decode_fields(Command::stat, Status::ok,
                    as_bytes(hex("0001 61 07 000081a4 0000000000000005 0000000000000001"))));
  EXPECT_FALSE(decode_fields(Command::stat, Status::busy, {}));
}

}  // namespace
}  // namespace ferry::test
