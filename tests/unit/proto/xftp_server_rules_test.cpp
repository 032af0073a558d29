// The pure half of the legacy XFTP server: which requests are acceptable and the memory that makes
// a repeated request harmless (spec section 3).
#include <gtest/gtest.h>

#include "proto/xftp/legacy_server.hpp"

namespace ferry::test {
namespace {

using namespace xftp;
using std::chrono::seconds;
using TimePoint = DuplicateFilter::TimePoint;

Datagram request(Command c, std::string data) {
  return {Status::request, static_cast<std::uint8_t>(c), Id{1, 2, 3, 4, 5, 6, 7, 8},
          std::move(data)};
}

TEST(XftpServerRules, PathsMustBeUtf8WithoutNulOrDotDot) {
  for (const char* good : {"/", "/a", "a/b", "//x", "/caf\xc3\xa9", "/a/./b", "/..a", "/a..",
                           "/...", "/dir with space/"}) {
    EXPECT_TRUE(acceptable_path(good)) << good;
  }
  for (std::string bad :
       {std::string(), std::string("/.."), std::string("../x"), std::string("/a/../b"),
        std::string("/a/.."), std::string("a/..//"), std::string("/a\0b", 4), std::string("/\xff"),
        std::string("/\xed\xa0\x80")}) {
    EXPECT_FALSE(acceptable_path(bad)) << bad;
  }
}

TEST(XftpServerRules, ClassifyKnowsTheSixCommands) {
  for (auto c :
       {Command::list, Command::upload, Command::download, Command::remove, Command::mkdir}) {
    auto r = classify(request(c, "/x"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->command, c);
    EXPECT_EQ(r->path, "/x");
  }
  auto m = classify(request(Command::move, std::string("/a\0/b", 5)));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->path, "/a");
  EXPECT_EQ(m->to, "/b");
}

TEST(XftpServerRules, ClassifyRefusesWithInvalid) {
  EXPECT_EQ(classify(request(Command::nothing, "/x")).error(), Status::invalid);
  EXPECT_EQ(classify(request(static_cast<Command>(0x06), "/x")).error(), Status::invalid);
  EXPECT_EQ(classify(request(Command::list, "")).error(), Status::invalid);
  EXPECT_EQ(classify(request(Command::download, "/../etc/passwd")).error(), Status::invalid);
  EXPECT_EQ(classify(request(Command::move, "/no-nul")).error(), Status::invalid);
  EXPECT_EQ(classify(request(Command::move, std::string("/a\0/../b", 9))).error(), Status::invalid);
  EXPECT_EQ(classify(request(Command::move, std::string("/a\0/b\0c", 7))).error(), Status::invalid);
}

TEST(XftpServerRules, ReplyEchoesCommandAndIdWithEmptyDataForErrors) {
  const auto r = reply_to(request(Command::mkdir, "/x"), Status::file_exists);
  EXPECT_EQ(r, (std::vector<std::uint8_t>{0xCF, 0x04, 0x05, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(XftpDuplicateFilter, ARepeatedRequestIsAnsweredFromMemoryUntilTheWindowEnds) {
  DuplicateFilter f(seconds(35));
  const auto req = request(Command::mkdir, "/made");
  const auto key = DuplicateFilter::key("127.0.0.1:4000", req);
  const TimePoint t0{seconds(1000)};
  EXPECT_EQ(f.begin(key, req, t0).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.begin(key, req, t0 + seconds(1)).seen, DuplicateFilter::Seen::in_progress);
  f.finish(key, {0xCF, 1});
  auto again = f.begin(key, req, t0 + seconds(30));
  EXPECT_EQ(again.seen, DuplicateFilter::Seen::answered);
  EXPECT_EQ(again.reply, (std::vector<std::uint8_t>{0xCF, 1}));
  EXPECT_EQ(f.begin(key, req, t0 + seconds(36)).seen, DuplicateFilter::Seen::fresh);
}

TEST(XftpDuplicateFilter, SourceIdCommandAndDataAllCount) {
  DuplicateFilter f(seconds(35));
  const TimePoint t{seconds(1)};
  auto req = request(Command::remove, "/a");
  f.begin(DuplicateFilter::key("127.0.0.1:1", req), req, t);
  EXPECT_EQ(f.begin(DuplicateFilter::key("127.0.0.1:2", req), req, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_id = req;
  other_id.id[0] = 9;
  EXPECT_EQ(f.begin(DuplicateFilter::key("127.0.0.1:1", other_id), other_id, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_data = request(Command::remove, "/b");
  EXPECT_EQ(f.begin(DuplicateFilter::key("127.0.0.1:1", other_data), other_data, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_cmd = request(Command::mkdir, "/a");
  EXPECT_EQ(f.begin(DuplicateFilter::key("127.0.0.1:1", other_cmd), other_cmd, t).seen,
            DuplicateFilter::Seen::fresh);
}

TEST(XftpDuplicateFilter, ListIsNeverRemembered) {
  DuplicateFilter f(seconds(35));
  const auto req = request(Command::list, "/");
  const auto key = DuplicateFilter::key("127.0.0.1:1", req);
  EXPECT_EQ(f.begin(key, req, TimePoint{}).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.begin(key, req, TimePoint{}).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.size(), 0U);
}

TEST(XftpDuplicateFilter, ForgottenRequestsMayRunAgainAndCapacityIsBounded) {
  DuplicateFilter f(seconds(35), 3);
  const TimePoint t{seconds(1)};
  auto req = request(Command::upload, "/x");
  const auto key = DuplicateFilter::key("s", req);
  f.begin(key, req, t);
  f.forget(key);
  EXPECT_EQ(f.begin(key, req, t).seen, DuplicateFilter::Seen::fresh);
  for (int i = 0; i < 10; ++i) {
    auto r = request(Command::upload, "/f" + std::to_string(i));
    f.begin(DuplicateFilter::key("s", r), r, t + seconds(i));
  }
  EXPECT_LE(f.size(), 3U);
}

}  // namespace
}  // namespace ferry::test
