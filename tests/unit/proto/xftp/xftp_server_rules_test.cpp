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

DuplicateFilter make_filter(std::size_t budget = 16U << 20, std::size_t per_source = 1U << 20) {
  return DuplicateFilter(
      {.window = seconds(35), .budget_bytes = budget, .per_source_bytes = per_source}, 42);
}

TEST(XftpDuplicateFilter, ARepeatedRequestIsAnsweredFromMemoryUntilTheWindowEnds) {
  auto f = make_filter();
  const auto req = request(Command::mkdir, "/made");
  const auto key = f.key("127.0.0.1", "127.0.0.1:4000", req);
  const TimePoint t0{seconds(1000)};
  EXPECT_EQ(f.begin(key, req, t0).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.begin(key, req, t0 + seconds(1)).seen, DuplicateFilter::Seen::in_progress);
  f.finish(key, {0xCF, 1}, t0 + seconds(20));  // a slow request: answered 20 s later
  auto again = f.begin(key, req, t0 + seconds(50));
  EXPECT_EQ(again.seen, DuplicateFilter::Seen::answered) << "the window counts from the reply";
  EXPECT_EQ(again.reply, (std::vector<std::uint8_t>{0xCF, 1}));
  EXPECT_EQ(f.begin(key, req, t0 + seconds(56)).seen, DuplicateFilter::Seen::fresh);
}

TEST(XftpDuplicateFilter, SourceIdCommandAndDataAllCount) {
  auto f = make_filter();
  const TimePoint t{seconds(1)};
  auto req = request(Command::remove, "/a");
  f.begin(f.key("127.0.0.1", "127.0.0.1:1", req), req, t);
  EXPECT_EQ(f.begin(f.key("127.0.0.1", "127.0.0.1:2", req), req, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_id = req;
  other_id.id[0] = 9;
  EXPECT_EQ(f.begin(f.key("127.0.0.1", "127.0.0.1:1", other_id), other_id, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_data = request(Command::remove, "/b");
  EXPECT_EQ(f.begin(f.key("127.0.0.1", "127.0.0.1:1", other_data), other_data, t).seen,
            DuplicateFilter::Seen::fresh);
  auto other_cmd = request(Command::mkdir, "/a");
  EXPECT_EQ(f.begin(f.key("127.0.0.1", "127.0.0.1:1", other_cmd), other_cmd, t).seen,
            DuplicateFilter::Seen::fresh);
}

TEST(XftpDuplicateFilter, ListIsNeverRemembered) {
  auto f = make_filter();
  const auto req = request(Command::list, "/");
  const auto key = f.key("127.0.0.1", "127.0.0.1:1", req);
  EXPECT_EQ(f.begin(key, req, TimePoint{}).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.begin(key, req, TimePoint{}).seen, DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.size(), 0U);
}

TEST(XftpDuplicateFilter, ForgottenRequestsMayRunAgain) {
  auto f = make_filter();
  const TimePoint t{seconds(1)};
  auto req = request(Command::upload, "/x");
  const auto key = f.key("h", "h:1", req);
  f.begin(key, req, t);
  f.forget(key);
  EXPECT_EQ(f.begin(key, req, t).seen, DuplicateFilter::Seen::fresh);
}

TEST(XftpDuplicateFilter, MemoryPerEntryDoesNotGrowWithTheRequestsData) {
  auto f = make_filter();
  const TimePoint t{seconds(1)};
  const auto small = request(Command::mkdir, "/a");
  f.begin(f.key("h", "h:1", small), small, t);
  const std::size_t one = f.bytes() - DuplicateFilter::kHostOverhead;  // one entry's cost
  const auto big = request(Command::mkdir, "/" + std::string(60000, 'x'));
  const auto key = f.key("h", "h:1", big);
  EXPECT_EQ(f.begin(key, big, t).seen, DuplicateFilter::Seen::fresh);
  const std::size_t two = DuplicateFilter::kHostOverhead + 2 * one;
  EXPECT_EQ(f.bytes(), two);                             // a digest, not the 60000 bytes
  f.finish(key, std::vector<std::uint8_t>(5000, 1), t);  // an oversized reply is not kept
  EXPECT_EQ(f.bytes(), two);
  EXPECT_EQ(f.begin(key, big, t).seen, DuplicateFilter::Seen::answered);
}

TEST(XftpDuplicateFilter, OneSourceCannotTakeMoreThanItsShareAndAFullBudgetSparesLightHosts) {
  constexpr std::size_t H = DuplicateFilter::kHostOverhead;
  const auto probe = request(Command::mkdir, "/probe");
  auto sizing = make_filter();
  sizing.begin(sizing.key("10.0.0.1", "10.0.0.1:1", probe), probe, TimePoint{});
  const std::size_t entry = sizing.bytes() - H;

  auto f = make_filter(4 * H + entry * 10, H + entry * 4);
  const TimePoint t{seconds(1)};
  // Sends n distinct requests from `host`; answered ones are finished (their reply known).
  auto fill = [&](const std::string& host, int n, bool answer) {
    int fresh = 0;
    for (int i = 0; i < n; ++i) {
      const auto r = request(Command::mkdir, "/" + std::to_string(i));
      const auto k = f.key(host, host + ":1", r);
      if (f.begin(k, r, t).seen != DuplicateFilter::Seen::fresh) continue;
      ++fresh;
      if (answer) f.finish(k, {0xCF, 1}, t);
    }
    return fresh;
  };
  EXPECT_EQ(fill("10.0.0.1", 100, true), 4);  // the rest: over_budget, refused as busy
  EXPECT_LE(f.bytes_of("10.0.0.1"), H + entry * 4);
  EXPECT_EQ(fill("10.0.0.2", 2, false), 2);  // another source is still served
  EXPECT_EQ(fill("10.0.0.3", 100, false), 4);
  EXPECT_LE(f.bytes(), 4 * H + entry * 10);
  // Full. A host holding less gets room at the expense of the host holding the most, from its
  // answered entries only: 10.0.0.1's (10.0.0.3's are all still being carried out).
  const std::size_t heavy_before = f.bytes_of("10.0.0.1");
  EXPECT_GE(fill("10.0.0.4", 100, false), 1);
  EXPECT_LE(f.bytes(), 4 * H + entry * 10);
  EXPECT_LT(f.bytes_of("10.0.0.1"), heavy_before);
  EXPECT_EQ(f.bytes_of("10.0.0.3"), H + entry * 4) << "entries in progress are never given up";
  // What a light host had remembered is kept: still answered from memory, never run twice.
  const auto r0 = request(Command::mkdir, "/0");
  EXPECT_EQ(f.begin(f.key("10.0.0.2", "10.0.0.2:1", r0), r0, t).seen,
            DuplicateFilter::Seen::in_progress);
  EXPECT_EQ(f.begin(f.key("10.0.0.4", "10.0.0.4:1", r0), r0, t).seen,
            DuplicateFilter::Seen::in_progress);
  // The window ends: the memory is free again.
  const auto later = request(Command::mkdir, "/later");
  EXPECT_EQ(f.begin(f.key("10.0.0.4", "10.0.0.4:1", later), later, t + seconds(40)).seen,
            DuplicateFilter::Seen::fresh);
  EXPECT_EQ(f.size(), 1U);
  EXPECT_EQ(f.bytes(), H + entry);
}

TEST(XftpDuplicateFilter, AFloodOfForgedHostsKeepsTheMemoryWithinItsBudget) {
  auto f = make_filter(256 << 10, 16 << 10);
  TimePoint t{seconds(1)};
  for (int i = 0; i < 20000; ++i) {
    const std::string host = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1";
    const auto r = request(Command::remove, "/f" + std::to_string(i));
    const auto k = f.key(host, host + ":1", r);
    if (f.begin(k, r, t).seen == DuplicateFilter::Seen::fresh) f.finish(k, {0xCF, 3}, t);
    t += std::chrono::milliseconds(1);
    ASSERT_LE(f.bytes(), 256U << 10);
  }
  EXPECT_GT(f.size(), 0U);
}

TEST(XftpServerRules, RequestsLongerThanALegacyDatagramAreInvalid) {
  EXPECT_EQ(classify(request(Command::mkdir, "/" + std::string(4085, 'a'))).error(),
            Status::invalid);
  EXPECT_TRUE(classify(request(Command::mkdir, "/" + std::string(4084, 'a'))).has_value());
}

}  // namespace
}  // namespace ferry::test
