// The bbftprc file as the real bbftp 3.3 client reads it (checked against it: unknown lines and
// options are skipped with warning 13, a bad value is warning 19 and a failed run).
#include "client/bbftp/bbftprc.hpp"

#include <gtest/gtest.h>

#include "proto/bbftp/messages.hpp"

namespace ferry::test {
namespace {

using client::apply_bbftprc;
using client::RunnerConfig;
namespace tropt = bbftp::tropt;

TEST(Bbftprc, SettingsApply) {
  RunnerConfig c;
  c.transfer.options = 0;
  const auto r = apply_bbftprc(
      "# comment\n\n  setnbstream 6\nsetbuffersize\t512\nsetdatato 7\nsetrecvcontrolto 3\n"
      "setackto 9\nsetlocalumask 027\nsetremoteumask 002\nsetremotecos 4\nsetsendwinsize 1024\n"
      "setrecvwinsize 2048\nsetoption gzip\nsetoption keepmode\nsetoption nokeepmode\n",
      c);
  EXPECT_FALSE(r.failed);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(c.transfer.streams, 6);
  EXPECT_EQ(c.transfer.buffer_kb, 512);
  EXPECT_EQ(c.connection.data_timeout, std::chrono::seconds(7));
  EXPECT_EQ(c.connection.control_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.connection.ack_timeout, std::chrono::seconds(9));
  EXPECT_EQ(c.local_umask, 027u);
  EXPECT_EQ(c.remote_umask, 002u);
  EXPECT_EQ(c.remote_cos, 4);
  EXPECT_EQ(c.transfer.send_window_kb, 1024);
  EXPECT_EQ(c.transfer.recv_window_kb, 2048);
  EXPECT_EQ(c.transfer.options, tropt::kGzip);
}

TEST(Bbftprc, UnknownLinesAndOptionsAreSkippedWithWarnings) {
  RunnerConfig c;
  const auto before = c.transfer.options;
  const auto r = apply_bbftprc("foo bar\nsetoption bogus\nput a b\nsetnbstream 2\n", c);
  EXPECT_FALSE(r.failed);
  ASSERT_EQ(r.warnings.size(), 3u);
  EXPECT_EQ(r.warnings[0].code, 13);
  EXPECT_EQ(r.warnings[0].text, "Skipping Unknown command in .bbftprc file (foo bar)");
  EXPECT_EQ(r.warnings[1].text, "Unknown option in .bbftprc file (bogus)");
  EXPECT_EQ(r.warnings[2].text, "Skipping Unknown command in .bbftprc file (put a b)");
  EXPECT_EQ(c.transfer.options, before);
  EXPECT_EQ(c.transfer.streams, 2);  // the lines after are still read
}

TEST(Bbftprc, BadValueFailsTheRunWithTheRealUsage) {
  RunnerConfig c;
  const auto r = apply_bbftprc("setnbstream x\nsetdatato 5\n", c);
  EXPECT_TRUE(r.failed);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].code, 19);
  EXPECT_EQ(r.warnings[0].text, "Number of streams in bbftprc file must be numeric and > 0");
  EXPECT_EQ(c.connection.data_timeout, std::chrono::seconds(5));
  // Zero is taken, as the real client takes it, but changes nothing.
  const auto zero = apply_bbftprc("setdatato 0\nsetnbstream -2\n", c);
  EXPECT_FALSE(zero.failed);
  EXPECT_TRUE(zero.warnings.empty());
  EXPECT_EQ(c.connection.data_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(apply_bbftprc("setremotecos -1\n", c).failed);
  EXPECT_TRUE(apply_bbftprc("setlocalumask 9\n", c).failed);
}

TEST(Bbftprc, OptionNamesMayBeAbbreviatedAsInTheRealClient) {
  RunnerConfig c;
  c.transfer.options = 0;
  EXPECT_FALSE(apply_bbftprc("setoption gz\nsetoption keepa\n", c).failed);
  EXPECT_EQ(c.transfer.options, tropt::kGzip | tropt::kAcc);
  // The rest of the line is the name: a trailing blank makes it unknown.
  const auto r = apply_bbftprc("setoption qbss \n", c);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].code, 13);
  EXPECT_EQ(c.transfer.options & tropt::kQbss, 0u);
}

TEST(Bbftprc, ACommandNeedsABlankAfterItsName) {
  RunnerConfig c;
  const int streams = c.transfer.streams;
  const auto r = apply_bbftprc("setnbstream\nsetnbstreams 4\n", c);
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(c.transfer.streams, streams);
}

}  // namespace
}  // namespace ferry::test
