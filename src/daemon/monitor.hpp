// The monitor: the one process per connection that keeps privilege, and the interface between
// the listener and the bbftp session. In the manner of OpenSSH's privilege separation:
//
//   listener (root)          accepts, admits, forks one monitor per connection; parses nothing
//    `- monitor (root)       parses only the pre-login process's requests (proto/monitor):
//        |                   checks the password (PAM, shadow, our password file), takes a
//        |                   session slot, then becomes the session
//        `- pre-login        the pre-login account (bbftpd-prelogin), no groups, no capabilities,
//                            no file system, seccomp: makes the RSA key, reads and decrypts the
//                            login, asks the monitor, hands the connection back and exits
//   session (the monitor     after the hand-over: drops to the user (system accounts) or to the
//    after the login)        service account (bbftpd, password-file users), Landlock to a
//                            confined user's root, seccomp; serves the commands and data.
//
// Not root (a daemon for password-file users only): the same processes under the daemon's own
// uid, each as confined as the kernel allows.
#pragma once

#include <optional>

#include "core/unique_fd.hpp"
#include "daemon/confine.hpp"
#include "daemon/listener.hpp"
#include "daemon/login_policy.hpp"
#include "session/bbftp/server.hpp"

namespace ferry::daemon {

struct MonitorOptions {
  LoginPolicy* policy = nullptr;  // forgotten in the pre-login process and the session
  // Root only. The pre-login process runs as `prelogin`; password-file users' sessions run as
  // `service` (it owns their files).
  std::optional<ProcessAccount> prelogin;
  std::optional<ProcessAccount> service;
  Confinement confinement;
  // The bbftp extension's host key (docs/protocol/bbftp-extended.md): the monitor reads it for
  // each connection's one signature and forgets it; no other process ever holds it. Empty: the
  // extension is not announced.
  std::string host_key_path;
  session::BbftpServerOptions server;
};

// Serves one admitted connection in this process (forked by the listener for it, or started by
// inetd). `failure_delay`: how long a failed login from this source waits before its answer.
void serve_monitored(UniqueFd connection, ListenerLink link, Millis failure_delay,
                     const MonitorOptions& options);

}  // namespace ferry::daemon
