#include "client/bbftp/control.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

TEST(ControlLanguage, SplitKeepsWhatTheRealClientEchoes) {
  const auto parts = client::split_commands("mkdir co; cd co;put a b");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "mkdir co");
  EXPECT_EQ(parts[1], " cd co");
  EXPECT_EQ(parts[2], "put a b");
}

TEST(ControlLanguage, ParsesEveryVerbAndSortsBadLinesAsTheRealClient) {
  using Kind = client::Command::Kind;
  auto c = client::parse_command(" put /tmp/a.bin a.bin");
  EXPECT_EQ(c.kind, Kind::run);
  EXPECT_EQ(c.verb, "put");
  EXPECT_EQ(c.args, (std::vector<std::string>{"/tmp/a.bin", "a.bin"}));
  EXPECT_EQ(c.raw, " put /tmp/a.bin a.bin");
  for (const char* ok : {"get r",
                         "get r l",
                         "mget *.dat",
                         "mput *.dat rdir",
                         "cd d",
                         "lcd d",
                         "mkdir d",
                         "rm f",
                         "stat f",
                         "df .",
                         "dir .",
                         "setnbstream 4",
                         "setbuffersize 1024",
                         "setoption nogzip",
                         "setremoteumask 022",
                         "setlocalumask 077",
                         "setremotecos 1",
                         "setackto 10",
                         "setdatato 10",
                         "setrecvwinsize 512",
                         "setsendwinsize 512",
                         "setrecvcontrolto 5",
                         "setsendcontrolto 5"}) {
    EXPECT_EQ(client::parse_command(ok).kind, Kind::run) << ok;
  }
  // Blank lines and comments ('#' or '!' first, after spaces) are kept, as typed.
  for (const char* blank : {"", "   ", "#c", " !x y", "\t# get a"}) {
    const auto b = client::parse_command(blank);
    EXPECT_EQ(b.kind, Kind::blank) << blank;
    EXPECT_EQ(b.raw, blank);
  }
  const auto typo = client::parse_command(" gett a");
  EXPECT_EQ(typo.kind, Kind::unknown);
  EXPECT_EQ(typo.verb, "gett");
  EXPECT_EQ(client::parse_command("get").kind, Kind::malformed);
  EXPECT_EQ(client::parse_command("cd a b").kind, Kind::malformed);
  EXPECT_EQ(client::parse_command("get#x").kind, Kind::unknown);
  // The real client knows setlocalcos only when built with RFIO, which it is not here.
  EXPECT_EQ(client::parse_command("setlocalcos 0").kind, Kind::unknown);
}

TEST(ControlLanguage, SplitsOnTheSeparatorKeepingEveryPiece) {
  EXPECT_EQ(client::split_commands("cd a; get b;"),
            (std::vector<std::string>{"cd a", " get b", ""}));
  EXPECT_EQ(client::split_commands("dir .\n\n# c\n", '\n'),
            (std::vector<std::string>{"dir .", "", "# c", ""}));
  EXPECT_EQ(client::split_commands(""), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace ferry::test
