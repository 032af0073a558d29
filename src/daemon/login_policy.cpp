#include "daemon/login_policy.hpp"

#include <thread>

namespace ferry::daemon {

LoginPolicy LoginPolicy::password_file(PasswordFile users, std::chrono::milliseconds failure_time) {
  LoginPolicy p;
  p.users_ = std::move(users);
  p.failure_time_ = failure_time;
  spend_check_time("");  // the throw-away hash is made here, once, not in each connection
  return p;
}

LoginPolicy LoginPolicy::system_accounts(SystemAuth how, std::chrono::milliseconds failure_time) {
  LoginPolicy p;
  p.how_ = how;
  p.failure_time_ = failure_time;
  spend_check_time("");
  return p;
}

void LoginPolicy::forget() noexcept {
  if (users_) users_->wipe();
  forgotten_ = true;
}

LoginCheck LoginPolicy::check_password_file(std::string_view user,
                                            std::string_view password) const {
  const auto* e = users_->find(user);
  if (e == nullptr) {
    spend_check_time(password);
    return {std::nullopt, "unknown user"};
  }
  const bool locked = e->hash.empty() || e->hash[0] == '!' || e->hash[0] == '*';
  if (!password_matches(password, e->hash)) {
    return {std::nullopt, locked ? "locked account" : "wrong password"};
  }
  return {LoginAccount{e->user, e->root, true, std::nullopt}, {}};
}

LoginCheck LoginPolicy::check(std::string_view user, std::string_view password) const {
  const auto started = std::chrono::steady_clock::now();
  LoginCheck result;
  if (forgotten_) return {std::nullopt, "no password database in this process"};
  if (users_) {
    result = check_password_file(user, password);
  } else {
    auto account = check_system_account(user, password, how_);
    if (account) {
      result.account = LoginAccount{account->name, account->home, false, *account};
    } else {
      result.cause = account.error();
    }
  }
  if (result.account) return result;
  const auto took = std::chrono::steady_clock::now() - started;
  auto answer_at = failure_time_;
  while (took > answer_at) answer_at *= 2;
  std::this_thread::sleep_until(started + answer_at);
  return result;
}

}  // namespace ferry::daemon
