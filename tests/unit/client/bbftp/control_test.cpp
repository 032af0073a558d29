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

TEST(ControlLanguage, ParsesEveryVerbAndRefusesTypos) {
  auto c = client::parse_command(" put /tmp/a.bin a.bin");
  ASSERT_TRUE(c);
  ASSERT_TRUE(*c);
  EXPECT_EQ((*c)->verb, "put");
  EXPECT_EQ((*c)->args, (std::vector<std::string>{"/tmp/a.bin", "a.bin"}));
  EXPECT_EQ((*c)->raw, " put /tmp/a.bin a.bin");
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
                         "setsendcontrolto 5",
                         "setlocalcos 0"}) {
    EXPECT_TRUE(client::parse_command(ok)) << ok;
  }
  EXPECT_FALSE(*client::parse_command("   "));
  EXPECT_EQ(client::parse_command("gett a").error(), "unknown command 'gett'");
  EXPECT_EQ(client::parse_command("get").error(), "wrong number of arguments for get");
  EXPECT_FALSE(client::parse_command("cd a b"));
}

}  // namespace
}  // namespace ferry::test
