#include "daemon/auth.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef FERRY_HAVE_PAM
#include <security/pam_appl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/bytes.hpp"
#include "core/unique_fd.hpp"
#include "storage/sandbox.hpp"

namespace ferry::daemon {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof buf);
}

}  // namespace

ferry::Result<PasswordFile, std::string> PasswordFile::parse(std::string_view text,
                                                             const std::string& name) {
  PasswordFile f;
  int number = 0;
  // Lines are views into `text`: no copy of the hashes is made but the entries' own (which
  // PasswordFile::wipe overwrites), none left behind in freed memory.
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const auto a = line.find(':');
    const auto b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) {
      return Unexpected(name + ":" + std::to_string(number) + ": expected user:hash:root");
    }
    PasswordEntry e{std::string(line.substr(0, a)), std::string(line.substr(a + 1, b - a - 1)),
                    std::string(line.substr(b + 1))};
    if (e.user.empty() || e.root.empty() || e.root.front() != '/') {
      return Unexpected(name + ":" + std::to_string(number) +
                        ": the user name must not be empty and the root must be absolute");
    }
    auto control = [](const std::string& field) {
      return std::any_of(field.begin(), field.end(),
                         [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
    };
    if (control(e.user) || control(e.hash) || control(e.root)) {
      return Unexpected(name + ":" + std::to_string(number) +
                        ": a control character (a stray carriage return?) in the entry");
    }
    if (f.find(e.user) != nullptr) {
      return Unexpected(name + ":" + std::to_string(number) + ": user '" + e.user +
                        "' appears twice");
    }
    f.entries_.push_back(std::move(e));
  }
  return f;
}

ferry::Result<PasswordFile, std::string> PasswordFile::load(const std::string& path) {
  // Read straight into one buffer of the file's size, overwritten once parsed: the hashes must
  // live only in the entries, which the processes that must not keep them wipe.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    return Unexpected("cannot read password file " + path + ": " + errno_text(errno));
  }
  constexpr off_t kMaxSize = 64 << 20;
  if (st.st_size > kMaxSize) return Unexpected("password file " + path + " is too large");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unexpected("cannot read password file " + path + ": " + errno_text(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  auto parsed = parse(text, path);
  std::fill(text.begin(), text.end(), '\0');
  return parsed;
}

const PasswordEntry* PasswordFile::find(std::string_view user) const {
  for (const auto& e : entries_) {
    if (e.user == user) return &e;
  }
  return nullptr;
}

bool password_matches(std::string_view password, const std::string& hash) {
  if (hash.empty() || hash[0] == '!' || hash[0] == '*') {
    spend_check_time(password);
    return false;
  }
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = ::crypt_r(pw.c_str(), hash.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return false;
  return constant_time_equal(out, hash);
}

void spend_check_time(std::string_view password) {
  // A real hash of a throw-away password: checking against it costs what a real check costs.
  static const std::string dummy = hash_password("ferry: no such user");
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  (void)::crypt_r(pw.c_str(), dummy.c_str(), data.get());
}

std::string hash_password(std::string_view password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (::crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt) == nullptr) return {};
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = ::crypt_r(pw.c_str(), salt, data.get());
  return out == nullptr || out[0] == '*' ? std::string() : std::string(out);
}

#ifdef FERRY_HAVE_PAM
namespace {

// PAM asks its questions through this: the password for hidden prompts, the user otherwise.
struct Answers {
  std::string user;
  std::string password;
};

int converse(int n, const pam_message** msgs, pam_response** out, void* data) {
  const auto* a = static_cast<const Answers*>(data);
  auto* replies =
      static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < n; ++i) {
    const int style = msgs[i]->msg_style;
    if (style == PAM_PROMPT_ECHO_OFF) replies[i].resp = ::strdup(a->password.c_str());
    if (style == PAM_PROMPT_ECHO_ON) replies[i].resp = ::strdup(a->user.c_str());
  }
  *out = replies;
  return PAM_SUCCESS;
}

// Failure delays are the daemon's to decide (the same for every backend): PAM modules that ask
// for one (pam_unix: about 2 s, randomised) are answered with none.
void no_fail_delay(int, unsigned, void*) {}

// Empty when accepted, else why not.
std::string pam_check(const std::string& user, std::string_view password) {
  Answers answers{user, std::string(password)};
  const pam_conv conv{converse, &answers};
  pam_handle_t* h = nullptr;
  if (::pam_start("bbftp", user.c_str(), &conv, &h) != PAM_SUCCESS) return "PAM unavailable";
  void (*delay)(int, unsigned, void*) = no_fail_delay;
  (void)::pam_set_item(h, PAM_FAIL_DELAY, reinterpret_cast<const void*>(delay));
  int rc = ::pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
  const bool authenticated = rc == PAM_SUCCESS;
  if (authenticated) rc = ::pam_acct_mgmt(h, PAM_SILENT);
  std::string why;
  if (rc != PAM_SUCCESS) {
    why = !authenticated && (rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN) ? "wrong password"
          : authenticated ? std::string("locked account (") + ::pam_strerror(h, rc) + ")"
                          : std::string("refused by PAM: ") + ::pam_strerror(h, rc);
  }
  ::pam_end(h, rc);
  std::fill(answers.password.begin(), answers.password.end(), '\0');
  return why;
}

}  // namespace

bool pam_available() noexcept {
  return true;
}
#else
bool pam_available() noexcept {
  return false;
}
#endif

ferry::Result<SystemUser, std::string> check_system_account(std::string_view user,
                                                            std::string_view password,
                                                            SystemAuth how) {
  const std::string name(user);
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    spend_check_time(password);
    return Unexpected(std::string("unknown user"));
  }
  const SystemUser account{name, pw.pw_uid, pw.pw_gid, pw.pw_dir != nullptr ? pw.pw_dir : "/"};
  if (how == SystemAuth::pam || (how == SystemAuth::automatic && pam_available())) {
#ifdef FERRY_HAVE_PAM
    if (auto why = pam_check(name, password); !why.empty()) return Unexpected(std::move(why));
    return account;
#else
    return Unexpected(std::string("PAM asked for, not built in"));
#endif
  }
  std::string hash = pw.pw_passwd != nullptr ? pw.pw_passwd : "";
  if (hash == "x" || hash == "X") {
    spwd sp{};
    spwd* sfound = nullptr;
    std::vector<char> sbuf(16384);
    if (::getspnam_r(name.c_str(), &sp, sbuf.data(), sbuf.size(), &sfound) != 0 ||
        sfound == nullptr) {
      spend_check_time(password);
      return Unexpected(std::string("no shadow entry"));
    }
    hash = sp.sp_pwdp != nullptr ? sp.sp_pwdp : "";
  }
  const bool locked = hash.empty() || hash[0] == '!' || hash[0] == '*';
  if (!password_matches(password, hash)) {
    return Unexpected(std::string(locked ? "locked account" : "wrong password"));
  }
  return account;
}

void PasswordFile::wipe() noexcept {
  for (auto& e : entries_) {
    std::fill(e.hash.begin(), e.hash.end(), '\0');
    std::fill(e.user.begin(), e.user.end(), '\0');
  }
  entries_.clear();
}

ferry::Result<void, std::string> become(const SystemUser& user) {
  if (::getuid() == user.uid && ::geteuid() == user.uid) return {};
  if (::setgid(user.gid) != 0) return Unexpected("setgid: " + errno_text(errno));
  if (::initgroups(user.name.c_str(), user.gid) != 0) {
    return Unexpected("initgroups: " + errno_text(errno));
  }
  if (::setuid(user.uid) != 0) return Unexpected("setuid: " + errno_text(errno));
  if (::setuid(0) == 0 && user.uid != 0) return Unexpected("privileges could not be dropped");
  return {};
}

ferry::Result<void, std::string> set_password_entry(const std::string& path,
                                                    const PasswordEntry& entry) {
  std::string text;
  if (std::ifstream in(path); in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto current = PasswordFile::parse(text, path);
  if (!current) return Unexpected(current.error());
  std::ostringstream out;
  std::istringstream lines(text);
  std::string line;
  bool replaced = false;
  while (std::getline(lines, line)) {
    if (line.rfind(entry.user + ":", 0) == 0) {
      out << entry.user << ':' << entry.hash << ':' << entry.root << '\n';
      replaced = true;
    } else {
      out << line << '\n';
    }
  }
  if (!replaced) out << entry.user << ':' << entry.hash << ':' << entry.root << '\n';
  // Through AtomicWriter: the file is replaced whole (a reader sees the old or the new one, never
  // a part), synced, and private from the first byte.
  auto here = storage::Sandbox::unconfined(".", {.umask = 077});
  if (!here) return Unexpected("cannot write " + path + ": " + here.error().message());
  auto w = here->create(path, {.mode = 0600, .exact_mode = true, .sync = true});
  if (!w) return Unexpected("cannot write " + path + ": " + w.error().message());
  const std::string data = out.str();
  if (auto ok = w->pwrite_all(as_bytes(std::string_view(data)), 0); !ok) {
    return Unexpected("cannot write " + path + ": " + ok.error().message());
  }
  if (auto ok = w->commit(); !ok) {
    return Unexpected("cannot write " + path + ": " + ok.error().message());
  }
  return {};
}

}  // namespace ferry::daemon
