#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "daemon/auth.hpp"
#include "daemon/rcfile.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

TEST(PasswordFile, ParsesUsersAndRefusesMalformedLines) {
  auto f =
      daemon::PasswordFile::parse("# users\n\nalice:$y$hash:/srv/a\r\nbob:$6$x$y:/srv/b\n", "pw");
  ASSERT_TRUE(f) << f.error();
  ASSERT_NE(f->find("alice"), nullptr);
  EXPECT_EQ(f->find("alice")->root, "/srv/a");
  EXPECT_EQ(f->find("bob")->hash, "$6$x$y");
  EXPECT_EQ(f->find("carol"), nullptr);
  EXPECT_EQ(daemon::PasswordFile::parse("alice:hash\n", "pw").error(),
            "pw:1: expected user:hash:root");
  EXPECT_FALSE(daemon::PasswordFile::parse("alice:h:relative/root\n", "pw"));
  EXPECT_FALSE(daemon::PasswordFile::parse("a:h:/r\na:h:/s\n", "pw"));
  EXPECT_FALSE(daemon::PasswordFile::parse("a:h:/r\r\r\n", "pw")) << "a control character";
  EXPECT_FALSE(daemon::PasswordFile::parse("a\tb:h:/r\n", "pw"));
}

TEST(PasswordFile, HashesCheckAndLockedAccountsNeverMatch) {
  const auto hash = daemon::hash_password("correct horse");
  ASSERT_EQ(hash.rfind("$y$", 0), 0u) << hash;
  EXPECT_TRUE(daemon::password_matches("correct horse", hash));
  EXPECT_FALSE(daemon::password_matches("correct hors", hash));
  EXPECT_FALSE(daemon::password_matches("", hash));
  EXPECT_FALSE(daemon::password_matches("x", "!" + hash));
  EXPECT_FALSE(daemon::password_matches("x", ""));
  // mkpasswd -m sha-512 output for "pw" with salt "saltsalt".
  EXPECT_TRUE(daemon::password_matches(
      "pw",
      "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80"
      "bAip/08R2BPH2xk/"));
}

TEST(PasswordFile, AddUserWritesAPrivateFile) {
  TempDir dir;
  const auto path = dir / "pw";
  ASSERT_TRUE(daemon::set_password_entry(path, {"alice", "h1", "/a"}));
  ASSERT_TRUE(daemon::set_password_entry(path, {"bob", "h2", "/b"}));
  ASSERT_TRUE(daemon::set_password_entry(path, {"alice", "h3", "/c"}));
  auto f = daemon::PasswordFile::load(path);
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->entries().size(), 2u);
  EXPECT_EQ(f->find("alice")->hash, "h3");
  EXPECT_EQ(f->find("alice")->root, "/c");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SystemAccounts, UnknownUserIsRefused) {
  EXPECT_FALSE(daemon::check_system_account("ferry-no-such-user", "x"));
}

// A throw-away account with a known password, checked through shadow and through PAM.
TEST(SystemAccounts, ShadowAndPamCheckARealAccount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create an account and read shadow";
  const std::string user = "ferryt" + std::to_string(::getpid() % 100000);
  const std::string password = "pw-" + user;
  ASSERT_EQ(std::system(("useradd -M -d /nonexistent " + user + " 2>/dev/null").c_str()), 0);
  struct Remove {
    std::string user;
    ~Remove() { (void)std::system(("userdel " + user + " 2>/dev/null").c_str()); }
  } remove{user};
  ASSERT_EQ(std::system(("echo '" + user + ":" + password + "' | chpasswd").c_str()), 0);
  for (auto how : {daemon::SystemAuth::shadow, daemon::SystemAuth::pam}) {
    if (how == daemon::SystemAuth::pam && !daemon::pam_available()) continue;
    auto ok = daemon::check_system_account(user, password, how);
    ASSERT_TRUE(ok) << (how == daemon::SystemAuth::pam ? "pam" : "shadow");
    EXPECT_EQ(ok->name, user);
    EXPECT_NE(ok->uid, 0u);
    EXPECT_FALSE(daemon::check_system_account(user, password + "x", how));
  }
}

TEST(RcFile, RealDaemonSettings) {
  const auto rc = daemon::parse_rc(
      "setackto 20\nsetrecvcontrolto 30\n# comment\nsetdatato 40\nsetoption nofixeddataport\n"
      "setackto -5\nbogus line\n");
  EXPECT_EQ(rc.ack_timeout, 20);
  EXPECT_EQ(rc.recv_control_timeout, 30);
  EXPECT_EQ(rc.data_timeout, 40);
  EXPECT_EQ(rc.fixed_data_port, false);
  ASSERT_EQ(rc.warnings.size(), 2u);
  EXPECT_EQ(rc.warnings[1], "line 7: unknown setting 'bogus line'");
}

}  // namespace
}  // namespace ferry::test
