// One bbftpd control connection, served to the end: RSA login, protocol negotiation, commands
// through the user's storage sandbox, parallel data streams. Blocking; the daemon runs each
// connection in its own process (so a system-account session can drop to the user's uid).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/server_session.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

struct BbftpServerOptions {
  bbftp::ServerConfig protocol;
  // Checks a login; on success returns the user's sandbox (after any privilege drop). Must take
  // the same time for unknown users as for wrong passwords.
  std::function<std::optional<storage::Sandbox>(std::string_view user, std::string_view pass)>
      login;
  std::function<std::string()> status_text;  // MSG_SERVER_STATUS, when enabled
  std::uint16_t data_port_first = 0;         // passive data ports (-e); 0: ephemeral
  std::uint16_t data_port_last = 0;
  int socket_buffer_bytes = 0;  // SO_SNDBUF/SO_RCVBUF on data sockets; 0: autotune
  io::Timeout idle{std::chrono::seconds(900)};
  io::Timeout step{std::chrono::seconds(10)};      // between STORE_V2, FILENAME and TRANS_START
  io::Timeout control{std::chrono::seconds(180)};  // rest of a message once it started
  io::Timeout data{std::chrono::seconds(300)};
  io::Timeout ack{std::chrono::seconds(100)};
};

// Serves until the client closes, a protocol error, or a timeout. Never throws.
void serve_bbftp_connection(UniqueFd control, const BbftpServerOptions& options);

// ctime(3) without its newline, as bbftp's stat reply prints times.
std::string ctime_text(std::int64_t t);

}  // namespace ferry::session
