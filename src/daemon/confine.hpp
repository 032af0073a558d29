// What a bbftpd process gives up before it touches a client's bytes (docs/security.md):
//
//   pre-login  its own account (no supplementary groups, no capabilities), no new privileges,
//              no file system at all (Landlock), no process creation and a short system-call
//              allow-list (seccomp);
//   session    the user's (or the service account's) uid, no new privileges, a confined user's
//              root and nothing else (Landlock), the system calls a transfer makes (seccomp).
//
// A forbidden system call kills the process (SIGSYS). Landlock needs a kernel with it enabled
// (5.13+, "lsm=landlock"); without it the process goes on with the rest and says so once.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/result.hpp"
#include "daemon/auth.hpp"

namespace ferry::daemon {

struct Confinement {
  bool landlock = true;
  bool seccomp = true;
};
// On in Release; off when built with sanitizers (their runtimes make system calls no allow-list
// foresees, and read files of their own).
Confinement default_confinement() noexcept;
// True when this build runs under AddressSanitizer, UndefinedBehaviorSanitizer ...
bool built_with_sanitizers() noexcept;

// An account a daemon process runs as: looked up by name, no supplementary groups.
struct ProcessAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};
// Errors: "no account NAME" (with how to create it), or the lookup's failure.
ferry::Result<ProcessAccount, std::string> find_account(const std::string& name);
// The same account as a session's user (for the service account: home "/").
SystemUser as_system_user(const ProcessAccount& account);

// Root only: setgroups(0), setresgid, setresuid to `account`, then checks that neither uid 0
// nor any capability can be regained. Irreversible.
ferry::Result<void, std::string> drop_to(const ProcessAccount& account);

// The pre-login process's confinement (after drop_to, before the first byte from the client).
ferry::Result<void, std::string> confine_prelogin(const Confinement& c);
// A session's, after become(): Landlock to the directory `root_fd` (an O_PATH descriptor opened
// before the drop, so that its parents need not be searchable; -1: not confined), seccomp.
ferry::Result<void, std::string> confine_session(const Confinement& c, int root_fd);

}  // namespace ferry::daemon
