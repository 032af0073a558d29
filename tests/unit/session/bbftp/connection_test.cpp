// The daemon's connection driven over a socket pair, in the manner of OpenSSH's `sftp -D`: our
// client's session on one end, the daemon's pre-login half and session on the other, in this
// process. The password login (with the monitor's verdict as a function), the commands, and
// (through ssh mode, where the pair stands for ssh's channel) transfers with real data streams
// on 127.0.0.1, in each protocol.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "session/bbftp/client.hpp"
#include "session/bbftp/server.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using session::BbftpClient;
using session::LoginOutcome;

struct Pair {
  UniqueFd client, daemon;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client = UniqueFd(fds[0]);
    daemon = UniqueFd(fds[1]);
  }
};

session::BbftpServerOptions daemon_options(int max_protocol = 3) {
  session::BbftpServerOptions o;
  o.protocol.min_protocol = 1;
  o.protocol.max_protocol = max_protocol;
  o.login_deadline = std::chrono::seconds(10);
  o.idle = o.step = o.control = o.data = o.ack = std::chrono::seconds(10);
  return o;
}

session::ClientConfig client_config(int control, int max_protocol = 3) {
  session::ClientConfig c;
  c.host = "127.0.0.1";
  c.user = "alice";
  c.password = "right";
  c.control_channel = control;
  c.max_protocol = max_protocol;
  c.min_protocol = max_protocol == 1 ? 1 : 2;
  c.connect_timeout = c.control_timeout = c.data_timeout = c.ack_timeout = std::chrono::seconds(10);
  return c;
}

// The daemon's two halves on `fd`, as bbftpd runs them (without the processes): the pre-login
// half asks `verdict`, and an accepted login goes on as a session in `root`.
struct PasswordDaemon {
  std::vector<std::string> asked;  // user:password, as the monitor was asked
  std::thread thread;
  PasswordDaemon(UniqueFd fd, const std::string& root, LoginOutcome verdict_for_right) {
    thread = std::thread([this, fd = std::move(fd), root, verdict_for_right]() mutable {
      const auto options = daemon_options();
      session::AskLogin ask = [&](std::string_view user, std::string_view password, bool) {
        asked.push_back(std::string(user) + ":" + std::string(password));
        return password == "right" ? verdict_for_right : LoginOutcome::refused;
      };
      auto handed = session::serve_bbftp_prelogin(fd.get(), options, ask, [] { return true; });
      if (!handed) return;
      auto box = storage::Sandbox::confined(root);
      ASSERT_TRUE(box);
      session::serve_bbftp_session(std::move(fd), options, std::move(*box), "alice",
                                   std::move(*handed));
    });
  }
  ~PasswordDaemon() {
    if (thread.joinable()) thread.join();
  }
};

TEST(BbftpConnection, PasswordLoginThenCommandsInTheSandbox) {
  TempDir root;
  write_file(root / "a.txt", "twelve bytes");
  Pair pair;
  PasswordDaemon daemon(std::move(pair.daemon), root.path(), LoginOutcome::accepted);
  const UniqueFd ours = std::move(pair.client);  // closed before the daemon is joined
  BbftpClient client(client_config(ours.get()));
  auto hello = client.connect();
  ASSERT_TRUE(hello) << hello.text;
  EXPECT_NE(hello.text.find("bbftpd version"), std::string::npos) << hello.text;
  EXPECT_TRUE(client.features().passive) << "protocol 3 negotiated";
  EXPECT_TRUE(client.mkdir("d", 0));
  auto cd = client.cd("d");
  ASSERT_TRUE(cd) << cd.text;
  EXPECT_EQ(cd.text, "/d");
  auto up = client.cd("..");
  ASSERT_TRUE(up) << up.text;
  auto st = client.stat("a.txt", 0);
  ASSERT_TRUE(st) << st.text;
  EXPECT_NE(st.text.find("12"), std::string::npos) << st.text;
  auto listing = client.list("*", 0);
  ASSERT_TRUE(listing) << listing.text;
  std::vector<std::string> names;
  for (const auto& e : listing.listing) names.push_back(e.path);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "a.txt", "d"}));
  // Outside the root: refused with the server's words, and the session goes on.
  auto escape = client.stat("/etc/passwd", 0);
  EXPECT_FALSE(escape);
  EXPECT_EQ(escape.kind, session::Outcome::refused);
  EXPECT_TRUE(client.stat("a.txt", 0));
  EXPECT_TRUE(client.rm("a.txt", 0));
  client.close();
  daemon.thread.join();
  EXPECT_EQ(daemon.asked, (std::vector<std::string>{"alice:right"}));
  EXPECT_TRUE(exists(root / "d"));
  EXPECT_FALSE(exists(root / "a.txt"));
}

TEST(BbftpConnection, AWrongPasswordIsRefusedAndNoSessionStarts) {
  TempDir root;
  Pair pair;
  PasswordDaemon daemon(std::move(pair.daemon), root.path(), LoginOutcome::accepted);
  auto config = client_config(pair.client.get());
  config.password = "wrong";
  BbftpClient client(config);
  auto hello = client.connect();
  EXPECT_FALSE(hello);
  EXPECT_EQ(hello.error, session::client_error::kServer);
  EXPECT_EQ(hello.kind, session::Outcome::refused);
  EXPECT_EQ(hello.text, "Incorrect password");
  pair.client.reset();
  daemon.thread.join();
  EXPECT_EQ(daemon.asked, (std::vector<std::string>{"alice:wrong"}));
}

TEST(BbftpConnection, BusyIsARefusalToTryAgain) {
  TempDir root;
  Pair pair;
  PasswordDaemon daemon(std::move(pair.daemon), root.path(), LoginOutcome::busy);
  BbftpClient client(client_config(pair.client.get()));
  auto hello = client.connect();
  EXPECT_FALSE(hello);
  EXPECT_EQ(hello.kind, session::Outcome::retry) << hello.text;
  pair.client.reset();
}

// ssh mode over the pair: the daemon proves the client's address through the check connection
// (on 127.0.0.1), then serves; data streams are real TCP connections on 127.0.0.1.
struct SshDaemon {
  std::thread thread;
  std::string failure;
  SshDaemon(UniqueFd fd, const std::string& root, int max_protocol) {
    thread = std::thread([this, fd = std::move(fd), root, max_protocol]() mutable {
      const auto options = daemon_options(max_protocol);
      auto peer =
          session::bbftp_ssh_check(fd.get(), options, std::chrono::seconds(10), "127.0.0.1");
      if (!peer) {
        failure = peer.error();
        return;
      }
      auto box = storage::Sandbox::confined(root);
      if (!box) {
        failure = box.error().message();
        return;
      }
      session::serve_bbftp_ssh_session(fd.get(), fd.get(), options, std::move(*box), "alice",
                                       *peer);
    });
  }
  ~SshDaemon() {
    if (thread.joinable()) thread.join();
  }
};

std::string content_of_size(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 2654435761u) >> 13));
  return s;
}

void put_and_get_back(int protocol, int streams, std::uint32_t options) {
  TempDir root, local;
  const std::string content = content_of_size((3 << 20) + 777);
  write_file(local / "up.bin", content);
  Pair pair;
  SshDaemon daemon(std::move(pair.daemon), root.path(), protocol);
  UniqueFd ours = std::move(pair.client);  // closed before the daemon is joined
  auto config = client_config(ours.get(), protocol);
  config.ssh_channel = true;
  BbftpClient client(config);
  auto hello = client.connect();
  ASSERT_TRUE(hello) << hello.text << " / " << daemon.failure;
  auto box = storage::Sandbox::unconfined(local.path());
  ASSERT_TRUE(box);
  session::TransferSettings s;
  s.streams = streams;
  s.buffer_kb = 64;
  s.options = bbftp::tropt::kClientDefault | options;
  auto put = client.put(*box, "up.bin", "stored.bin", s);
  ASSERT_TRUE(put) << put.text;
  EXPECT_EQ(put.bytes, content.size());
  EXPECT_EQ(put.streams, protocol == 1 ? 1 : streams);
  EXPECT_EQ(read_file(root / "stored.bin"), content);
  auto get = client.get(*box, "stored.bin", "back.bin", s);
  ASSERT_TRUE(get) << get.text;
  EXPECT_EQ(read_file(local / "back.bin"), content);
  // A get of what is not there: refused, nothing appears, the session goes on.
  auto missing = client.get(*box, "nothere", "nothere", s);
  EXPECT_FALSE(missing);
  EXPECT_FALSE(exists(local / "nothere"));
  if (protocol > 1) {
    EXPECT_TRUE(client.stat("stored.bin", 0));  // protocol 1 has no stat
  }
  EXPECT_TRUE(client.list("*", 0));
  client.close();
  // Protocol 1 knows no MSG_CLOSE_CONN (the real daemon answers "Unkown message" and waits, as
  // ours does): the end of the connection ends the session.
  ours.reset();
  daemon.thread.join();
  EXPECT_EQ(daemon.failure, "");
}

TEST(BbftpConnection, SshModeProtocol3PassiveFourStreams) {
  put_and_get_back(3, 4, 0);
}
TEST(BbftpConnection, SshModeProtocol3Compressed) {
  put_and_get_back(3, 2, bbftp::tropt::kGzip);
}
TEST(BbftpConnection, SshModeProtocol2Active) {
  put_and_get_back(2, 3, 0);
}
TEST(BbftpConnection, SshModeProtocol1) {
  put_and_get_back(1, 1, 0);
}

}  // namespace
}  // namespace ferry::test
