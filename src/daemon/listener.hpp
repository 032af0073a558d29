// The daemon's listener: accepts on the control port, admits or refuses each connection before
// reading a byte of it (see admission.hpp), and serves each admitted one in a child process of its
// own. It runs on the daemon's event loop and never parses what clients send.
//
//   admitted  -> fork(); the child serves the connection and tells the listener, over a
//                socketpair, when its login succeeds (to take a session slot) or fails (to slow
//                that source down). A child that has not logged in by the deadline is killed.
//   refused   -> bytes prepared in advance: a greeting (bbftp: MSG_CRYPT with a key made at
//                start), a fixed-size read discarded (the client's login), then the refusal
//                (MSG_BAD "busy", the client retries; MSG_BAD_NO_RETRY "banned"), all under a
//                short deadline. No key is generated and nothing is parsed for a stranger.
//   dropped   -> closed at once (refusals themselves are over their caps).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "daemon/admission.hpp"

namespace ferry::daemon {

// The child's end of its link to the listener.
class ListenerLink {
 public:
  ListenerLink() = default;  // not linked (inetd mode): every claim succeeds
  explicit ListenerLink(UniqueFd fd) : fd_(std::move(fd)) {}
  // Asks for a session slot after a successful login; false when the sessions are full (or the
  // listener does not answer within a few seconds).
  bool claim_session();
  // Says a login check begins: if the child ends before its outcome, the listener counts a
  // failed login.
  void checking();
  // Reports a failed login (the listener counts it against the source address).
  void login_failed();
  // Closes the link (a process that must not speak for the connection).
  void close() noexcept { fd_.reset(); }

 private:
  UniqueFd fd_;
};

struct Refusals {
  std::vector<std::byte> greeting;  // sent at once
  std::size_t discard_bytes = 0;    // then read (and thrown away) up to this many
  std::vector<std::byte> busy;      // then this ...
  std::vector<std::byte> banned;    // ... or this
};

struct ListenerOptions {
  std::string listen = "0.0.0.0";
  std::uint16_t port = 5021;
  AdmissionLimits limits{};
  std::chrono::seconds login_deadline{20};    // the child's; the listener kills at this + grace
  Millis login_failure_time{250};             // what a failed login takes (part of the grace)
  std::chrono::seconds refusal_deadline{10};  // a refusal is delivered (or given up) within it
  double refusal_logs_per_second = 5;         // refusals are logged at most this often
  bool background = false;
  std::string pid_file;
  Refusals refusals;
  std::string program = "daemon";  // for log lines
};

// Serves one admitted connection in the child process. `failure_delay` is how long a failed
// login from this source must wait before its answer (see Admission).
using ServeConnection =
    std::function<void(UniqueFd connection, ListenerLink link, Millis failure_delay)>;

// Listens and serves until SIGINT or SIGTERM (running sessions finish on their own). Returns the
// exit status: 0, or 1 when it cannot listen.
int run_listener(const ListenerOptions& options, const ServeConnection& serve);

}  // namespace ferry::daemon
