// One bbftpd control connection in two halves, each run by its own process (docs/security.md):
// the pre-login half (RSA key, greeting, login decryption) without privilege, and the session
// (protocol negotiation, commands through the user's storage sandbox, parallel data streams) as
// the user. Blocking.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"
#include "crypto/bbftp_channel.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/server_session.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

// What the daemon's monitor decided about a login (the pre-login process only relays it).
enum class LoginOutcome {
  accepted,    // the connection is handed over to a session process
  refused,     // "Incorrect password", whatever failed
  busy,        // the sessions are full: MSG_BAD, the client retries later
  not_served,  // right credentials, but no session can start: refused like a failure
};
// Asks the monitor about a login. `undecryptable`: the client's login did not decrypt (a
// failure like any other, counted against the address; user and password are then empty).
using AskLogin = std::function<LoginOutcome(std::string_view user, std::string_view password,
                                            bool undecryptable)>;

// The bbftp extension's announcement, completed and signed by the monitor (it holds the host
// key; docs/protocol/bbftp-extended.md, section 4).
struct SignedAnnouncement {
  std::array<std::uint8_t, 32> nonce{};
  std::array<std::uint8_t, 32> host_key{};
  std::array<std::uint8_t, 64> signature{};
};
// Asks the monitor to sign the announcement of `features` and the X25519 `share` for the
// connection's RSA `key`; nothing when it cannot (the connection then ends: a client that
// pinned the daemon would take a missing announcement for a downgrade).
using SignAnnouncement = std::function<std::optional<SignedAnnouncement>(
    std::uint32_t features, const std::array<std::uint8_t, 32>& share, const bbftp::CryptKey& key)>;

// The state of an accepted connection, from the pre-login process to the session's.
struct HandedOver {
  bool clear_text = false;
  // Read past the login, not served yet (with a channel: records not yet opened).
  std::vector<std::byte> pending;
  std::optional<crypto::BbftpChannel> channel;  // the extension's sealed control channel
};

struct BbftpServerOptions {
  bbftp::ServerConfig protocol;
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
  // The extension's partial data (an interrupted put, kept for resume) unchanged this long is
  // removed at its user's next login.
  std::chrono::seconds partial_expiry{std::chrono::hours(24 * 7)};
};

// Serves a connection up to its login: the RSA key (made here, it never leaves this process),
// the greeting, the login's decryption, and the verdict of `check`. `confine` runs once the key
// exists, before the first byte from the client is read (false: give up). Returns the state to
// hand over when the login is accepted (nothing is sent for it: the session sends MSG_OK), or
// nothing when the connection ended here (refused, closed, late, malformed). Never throws.
// With `options.protocol.extension`, `sign` completes the announcement MSG_CRYPT carries.
std::optional<HandedOver> serve_bbftp_prelogin(int control, const BbftpServerOptions& options,
                                               const AskLogin& check,
                                               const std::function<bool()>& confine,
                                               const SignAnnouncement& sign = {});
// Serves an accepted connection to its end: MSG_OK for the login, then what was handed over,
// then everything else, within `sandbox`. Never throws.
void serve_bbftp_session(UniqueFd control, const BbftpServerOptions& options,
                         storage::Sandbox sandbox, std::string_view user, HandedOver state);

// ssh mode (bbftpd -s, run by ssh as the user): the addresses of the check connection the
// client made (MSG_IPADDR), which stand for the control connection's: data connections must come
// from `client`'s host, and passive data ports listen on `local`'s.
struct SshPeer {
  io::SocketAddress local;
  io::SocketAddress client;
};
// Waits (`timeout`) on a port of `options`' data range (any port when there is none) for the
// client's check connection, after announcing the port on `out` in MSG_LOGGED_STDIN, as the real
// daemon does. It listens on every address (`host` empty), as the real daemon, or on `host`'s.
// On failure, says why in MSG_BAD on `out` and returns the reason.
ferry::Result<SshPeer, std::string> bbftp_ssh_check(int out, const BbftpServerOptions& options,
                                                    io::Timeout timeout,
                                                    const std::string& host = {});
// Serves the control connection carried by `in` and `out` (ssh's standard input and output) to
// its end, as `user`, within `sandbox`. Never throws.
void serve_bbftp_ssh_session(int in, int out, const BbftpServerOptions& options,
                             storage::Sandbox sandbox, std::string_view user, const SshPeer& peer);

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
