// One bbftpd control connection, served to the end: RSA login, protocol negotiation, commands
// through the user's storage sandbox, parallel data streams. Blocking; the daemon runs each
// connection in its own process (so a system-account session can drop to the user's uid).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/server_session.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

// What the daemon decided about a login.
struct LoginAnswer {
  std::optional<storage::Sandbox> sandbox;  // accepted (after any privilege drop)
  // Refused: `reply` replaces the usual "Incorrect password" when set (busy: MSG_BAD, so the
  // client tries again later); `cause` is for the log only.
  std::optional<bbftp::Message> reply;
  std::string cause;
  // Refused although the credentials were right (the sessions are full, the user's root is
  // missing): logged apart from failed logins, which log matchers count against the address.
  bool authenticated = false;
};

struct BbftpServerOptions {
  bbftp::ServerConfig protocol;
  // Decides a login. Must take the same time for every kind of failure (see LoginPolicy).
  std::function<LoginAnswer(std::string_view user, std::string_view pass)> login;
  std::function<std::string()> status_text;  // MSG_SERVER_STATUS, when enabled
  std::uint16_t data_port_first = 0;         // passive data ports (-e); 0: ephemeral
  std::uint16_t data_port_last = 0;
  int socket_buffer_bytes = 0;  // SO_SNDBUF/SO_RCVBUF on data sockets; 0: autotune
  // A passive data port accepts only the control connection's host (strict), or anyone (off:
  // clients behind TCP proxies or NAT that does not keep one address per client).
  bool data_peer_check = true;
  // The whole login, from the connection to the answer, not per read: a client that dribbles
  // is closed when it passes.
  io::Timeout login_deadline{std::chrono::seconds(20)};
  io::Timeout idle{std::chrono::seconds(900)};
  io::Timeout step{std::chrono::seconds(10)};      // between STORE_V2, FILENAME and TRANS_START
  io::Timeout control{std::chrono::seconds(180)};  // rest of a message once it started
  io::Timeout data{std::chrono::seconds(300)};
  io::Timeout ack{std::chrono::seconds(100)};
};

// Serves until the client closes, a protocol error, or a timeout. Never throws.
void serve_bbftp_connection(UniqueFd control, const BbftpServerOptions& options);

// What the listener sends a connection it refuses without serving it: the greeting a client
// expects first (MSG_CRYPT with a key made once, at start), how much of the client's login to
// read and discard, and the refusals (encoded replies::server_busy and source_banned).
struct BbftpRefusalBytes {
  std::vector<std::byte> greeting;
  std::size_t login_bytes = 0;
  std::vector<std::byte> busy;
  std::vector<std::byte> banned;
};
BbftpRefusalBytes bbftp_refusal_bytes();

// ctime(3) without its newline, as bbftp's stat reply prints times.
std::string ctime_text(std::int64_t t);

}  // namespace ferry::session
