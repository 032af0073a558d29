// How bbftpd decides a login, whatever the backend: our password file (users confined to their
// roots) or system accounts (shadow + crypt(3), or PAM). Every failure -- unknown user, wrong
// password, locked account -- takes the same time, so the answer's timing tells nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/auth.hpp"

namespace ferry::daemon {

struct LoginAccount {
  std::string name;
  std::string root;                  // confined: the served root; system: the home directory
  bool confined = true;              // our password file's users are
  std::optional<SystemUser> system;  // system accounts: whom the session becomes
};

struct LoginCheck {
  std::optional<LoginAccount> account;  // accepted
  std::string cause;                    // refused: why, for the log only
};

class LoginPolicy {
 public:
  // Every failure is answered `failure_time` after the check began; a check that took longer
  // doubles it until it covers the check (the machine is slow now: all failures are).
  static LoginPolicy password_file(PasswordFile users,
                                   std::chrono::milliseconds failure_time = kDefaultFailureTime);
  static LoginPolicy system_accounts(SystemAuth how,
                                     std::chrono::milliseconds failure_time = kDefaultFailureTime);

  LoginCheck check(std::string_view user, std::string_view password) const;
  // Overwrites the password hashes it holds (in a process that must not keep them: the
  // pre-login process, a session). Every later check fails.
  void forget() noexcept;

  // Well above one yescrypt check at Debian's default cost (~20 ms here).
  static constexpr std::chrono::milliseconds kDefaultFailureTime{250};

 private:
  LoginPolicy() = default;
  LoginCheck check_password_file(std::string_view user, std::string_view password) const;
  std::optional<PasswordFile> users_;
  SystemAuth how_ = SystemAuth::automatic;
  std::chrono::milliseconds failure_time_ = kDefaultFailureTime;
  bool forgotten_ = false;
};

}  // namespace ferry::daemon
