// The xftp command line: targets, default names and exit codes (documented in xftp(1)).
#include "client/xftp/cli.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

using client::parse_xftp_target;

TEST(XftpCli, Targets) {
  auto t = parse_xftp_target("localhost");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "localhost");
  EXPECT_FALSE(t->port);
  t = parse_xftp_target("127.0.0.1:2333");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 2333);
  t = parse_xftp_target("[::1]:99");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 99);
  t = parse_xftp_target("fe80::1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "fe80::1");
  EXPECT_FALSE(t->port);
  for (const char* bad : {"", ":1", "h:", "h:0", "h:65536", "h:x", "[::1", "[]:1", "[::1]x"}) {
    EXPECT_FALSE(parse_xftp_target(bad)) << bad;
  }
}

TEST(XftpCli, DefaultNames) {
  using client::local_name_for_get;
  using client::remote_name_for_put;
  EXPECT_EQ(local_name_for_get("/a/b.txt", "", false), "b.txt");
  EXPECT_EQ(local_name_for_get("/a/b.txt", "dl", true), "dl/b.txt");
  EXPECT_EQ(local_name_for_get("/a/b.txt", "dl/", false), "dl/b.txt");
  EXPECT_EQ(local_name_for_get("/a/b.txt", "c.txt", false), "c.txt");
  EXPECT_EQ(local_name_for_get("/", "", false), "");
  EXPECT_EQ(local_name_for_get("/a/", "", false), "");
  EXPECT_EQ(local_name_for_get("/a/..", "", false), "");
  EXPECT_EQ(remote_name_for_put("dir/f.bin", ""), "/f.bin");
  EXPECT_EQ(remote_name_for_put("dir/f.bin", "/up/"), "/up/f.bin");
  EXPECT_EQ(remote_name_for_put("dir/f.bin", "/up/g"), "/up/g");
}

TEST(XftpCli, ExitCodes) {
  using Kind = session::XftpClientError::Kind;
  auto refused = [](xftp::Status s) { return client::exit_code_for({Kind::refused, s, 0, {}}); };
  EXPECT_EQ(refused(xftp::Status::not_found), 3);
  EXPECT_EQ(refused(xftp::Status::file_exists), 4);
  EXPECT_EQ(refused(xftp::Status::invalid), 5);
  EXPECT_EQ(refused(xftp::Status::internal_error), 6);
  EXPECT_EQ(client::exit_code_for({Kind::no_reply, {}, 0, {}}), 7);
  EXPECT_EQ(client::exit_code_for({Kind::network, {}, 0, {}}), 7);
  EXPECT_EQ(client::exit_code_for({Kind::local_file, {}, 0, {}}), 8);
  EXPECT_EQ(client::exit_code_for({Kind::interrupted, {}, 0, {}}), 130);
  EXPECT_EQ(client::exit_code_for({Kind::protocol, {}, 0, {}}), 1);
}

}  // namespace
}  // namespace ferry::test
