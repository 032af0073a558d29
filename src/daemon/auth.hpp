// Who may log in, and as what.
//
//  - Our password file (for daemons without root): one user per line,
//      user:crypt-hash:served-root
//    with the hash as mkpasswd(1) / crypt(3) makes it ("$y$...", "$6$..."). '#' starts a comment.
//    A user is confined to its root.
//  - System accounts (daemon running as root): getpwnam + shadow + crypt(3); the session then
//    drops to the user's uid/gid and starts in its home directory, unconfined.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ferry::daemon {

struct PasswordEntry {
  std::string user;
  std::string hash;
  std::string root;
};

class PasswordFile {
 public:
  // Errors: the file cannot be read, or "FILE:LINE: reason" for a malformed line.
  static ferry::Result<PasswordFile, std::string> load(const std::string& path);
  static ferry::Result<PasswordFile, std::string> parse(std::string_view text,
                                                        const std::string& name = "passwords");
  const PasswordEntry* find(std::string_view user) const;
  const std::vector<PasswordEntry>& entries() const noexcept { return entries_; }
  // Overwrites every hash, then forgets every entry.
  void wipe() noexcept;

 private:
  std::vector<PasswordEntry> entries_;
};

// crypt(3) check, comparing in constant time. An empty or locked hash ("!", "*") never matches.
bool password_matches(std::string_view password, const std::string& hash);
// A fresh yescrypt hash of `password` (what `mkpasswd` makes by default on Debian 12).
std::string hash_password(std::string_view password);
// Burns the time a real check takes, so unknown users answer as slowly as known ones. The first
// call makes the throw-away hash it checks against: call it once before forking connections, so
// that no child pays for it (which would tell unknown users apart).
void spend_check_time(std::string_view password);

struct SystemUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};
enum class SystemAuth {
  automatic,  // PAM (service "bbftp") when built with it, else shadow + crypt(3)
  pam,
  shadow,
};
// True when this build can authenticate through PAM.
bool pam_available() noexcept;
// Looks the user up and checks the password through PAM or against shadow (or passwd). Needs
// root for shadow and for most PAM stacks. Errors: why, for the log ("unknown user", "wrong
// password", "locked account", "refused by PAM: ...").
ferry::Result<SystemUser, std::string> check_system_account(std::string_view user,
                                                            std::string_view password,
                                                            SystemAuth how = SystemAuth::automatic);
// setgid, initgroups, setuid: irreversible. Errors: the errno text.
ferry::Result<void, std::string> become(const SystemUser& user);

// Appends or replaces `user` in the password file at `path` (created with mode 0600).
ferry::Result<void, std::string> set_password_entry(const std::string& path,
                                                    const PasswordEntry& entry);

}  // namespace ferry::daemon
