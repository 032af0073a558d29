// XFTP legacy datagrams and LIST JSON against the original server's captured exchanges.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "proto/xftp/legacy.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

using namespace xftp;

std::vector<std::uint8_t> unhex(const std::string& h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes view(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size()};
}

const Id kId{1, 2, 3, 4, 5, 6, 7, 8};

TEST(XftpGolden, EveryCapturedDatagramDecodesAndReencodes) {
  std::ifstream in(golden_path("xftp/legacy-exchanges.txt"));
  ASSERT_TRUE(in);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string tag, hex;
    ss >> tag >> hex;
    if ((tag != "req" && tag != "resp") || hex == "-") continue;
    const auto bytes = unhex(hex);
    auto d = decode(view(bytes));
    ASSERT_TRUE(d) << line;
    EXPECT_EQ(d->id, kId);
    EXPECT_EQ(d->status == Status::request, tag == "req");
    EXPECT_EQ(encode(*d), bytes) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 15);
}

TEST(XftpGolden, ListJsonEscapesExactlyAsTheOriginal) {
  // The captured root: the names in the server's directory order.
  const std::string json = list_json(
      {"dir with space", "sub"},
      {"caf\xc3\xa9.txt", "\xf0\x9f\x98\x80.bin", "quote\"back\\\\slash.txt", "hello.txt"});
  EXPECT_EQ(json,
            R"({"dirs": ["dir with space", "sub"], "files": ["caf\u00e9.txt", "\ud83d\ude00.bin", )"
            R"("quote\"back\\\\slash.txt", "hello.txt"]})");
  const auto resp = unhex(
      "cf010001020304050607087b2264697273223a205b226469722077697468207370616365222c2022737562225d"
      "2c202266696c6573223a205b226361665c75303065392e747874222c20225c75643833645c75646530302e6269"
      "6e222c202271756f74655c226261636b5c5c5c5c736c6173682e747874222c202268656c6c6f2e747874225d7d");
  EXPECT_EQ(encode({Status::ok, 0, kId, json}), resp);
  EXPECT_EQ(list_json({}, {}), R"({"dirs": [], "files": []})");
}

TEST(XftpGolden, SpecVectors) {
  const Datagram list_req{Status::request, 0, kId, "/"};
  EXPECT_EQ(encode(list_req), unhex("cf000001020304050607082f"));
  EXPECT_EQ(encode({Status::ok, 1, kId, encode_port(33714)}), unhex("cf01010102030405060708b283"));
  EXPECT_EQ(decode_port("\xb2\x83"), 33714);
  EXPECT_EQ(encode(upload_ack(kId)), unhex("cf06010102030405060708"));
  EXPECT_EQ(encode(download_ack(kId)), unhex("cf06ff0102030405060708"));
  EXPECT_EQ(list_json({"sub"}, {"hello.txt"}), R"({"dirs": ["sub"], "files": ["hello.txt"]})");
}

TEST(XftpLegacy, MalformedDatagramsAreRefused) {
  for (std::size_t n = 0; n < kHeaderSize; ++n) {
    std::vector<std::uint8_t> b(n, kMagic);
    EXPECT_EQ(decode(view(b)).error(), Errc::too_short) << n;
  }
  std::vector<std::uint8_t> extended(11, 0);
  extended[0] = 0xD0;
  EXPECT_EQ(decode(view(extended)).error(), Errc::wrong_magic);
}

TEST(XftpLegacy, JsonEscapesControlsAndUndecodableBytes) {
  EXPECT_EQ(json_string("a\nb\tc\x01"), R"("a\nb\tc\u0001")");
  EXPECT_EQ(json_string("\x7f"), R"("\u007f")");
  // Python decodes undecodable bytes to lone surrogates (surrogateescape) and escapes them.
  EXPECT_EQ(json_string("bad\xff\xc3"), R"("bad\udcff\udcc3")");
  EXPECT_EQ(json_string("\xed\xa0\x80"), R"("\udced\udca0\udc80")");
}

TEST(XftpLegacy, ListJsonParsesBack) {
  auto l = parse_list_json(list_json({"d\xc3\xa9"}, {"q\"\\", "\xf0\x9f\x98\x80"}));
  ASSERT_TRUE(l) << l.error();
  EXPECT_EQ(l->dirs, std::vector<std::string>{"d\xc3\xa9"});
  EXPECT_EQ(l->files, (std::vector<std::string>{"q\"\\", "\xf0\x9f\x98\x80"}));
  EXPECT_FALSE(parse_list_json("{\"dirs\": 1}"));
  EXPECT_FALSE(parse_list_json("not json"));
}

TEST(XftpLegacy, ListOfNamesThatAreNotUtf8ParsesBackToTheSameBytes) {
  // As the original (Python, surrogateescape) writes them: a lone \udcXX per undecodable byte,
  // also right after a character beyond the BMP (a surrogate pair), and a name that merely
  // contains the text "\udcff".
  const std::vector<std::string> names = {"bad\xffname", "\xf0\x9f\x98\x80\xfe", "\xed\xa0\x80",
                                          "lit\\udcff", "caf\xc3\xa9"};
  const std::string json = list_json(names, {});
  EXPECT_NE(json.find("bad\\udcffname"), std::string::npos) << json;
  auto back = parse_list_json(json);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->dirs, names);
  // The captured form of a name with one byte 0xFF parses too.
  auto captured = parse_list_json(R"({"dirs": [], "files": ["a\udcff"]})");
  ASSERT_TRUE(captured.has_value());
  EXPECT_EQ(captured->files, std::vector<std::string>{"a\xff"});
}

TEST(XftpLegacy, MovePayload) {
  EXPECT_EQ(encode_move("a", "b/c"), std::string("a\0b/c", 5));
  auto m = decode_move(std::string("a\0b/c", 5));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, "a");
  EXPECT_EQ(m->second, "b/c");
  EXPECT_FALSE(decode_move("no separator"));
  EXPECT_FALSE(decode_move(std::string("a\0b\0c", 5)));
}

}  // namespace
}  // namespace ferry::test
