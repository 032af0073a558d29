#include "client/bbftp/known_hosts.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace ferry::client {
namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<KnownHost> pin_of(std::string_view line) {
  if (line.empty() || line.front() == '#') return std::nullopt;
  const auto f = fields(line);
  if (f.size() != 4) return std::nullopt;
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(f[1].data(), f[1].data() + f[1].size(), port);
  if (ec != std::errc{} || end != f[1].data() + f[1].size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  if (!f[3].starts_with("SHA256:")) return std::nullopt;
  return KnownHost{std::string(f[0]), static_cast<std::uint16_t>(port), std::string(f[2]),
                   std::string(f[3])};
}

std::string line_of(const KnownHost& k) {
  return k.host + " " + std::to_string(k.port) + " " + k.type + " " + k.fingerprint;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string(slash == 0 ? "/" : ".")
                                                  : path.substr(0, slash);
}

}  // namespace

KnownHosts KnownHosts::parse(std::string_view text) {
  KnownHosts k;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto nl = text.find('\n', i);
    const auto line = text.substr(i, nl == std::string_view::npos ? text.size() - i : nl - i);
    k.lines_.push_back({std::string(line), pin_of(line)});
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
  return k;
}

std::string KnownHosts::serialize() const {
  std::string out;
  for (const auto& l : lines_) out += l.text + "\n";
  return out;
}

const KnownHost* KnownHosts::find(std::string_view host, std::uint16_t port) const {
  for (const auto& l : lines_) {
    if (l.pin && l.pin->host == host && l.pin->port == port) return &*l.pin;
  }
  return nullptr;
}

PinCheck KnownHosts::check(std::string_view host, std::uint16_t port,
                           const std::optional<KnownHost>& announced) const {
  const KnownHost* pinned = find(host, port);
  if (pinned == nullptr) return PinCheck::first_use;
  if (!announced) return PinCheck::downgrade;
  return pinned->type == announced->type && pinned->fingerprint == announced->fingerprint
             ? PinCheck::matches
             : PinCheck::changed;
}

void KnownHosts::pin(KnownHost entry) {
  forget(entry.host, entry.port);
  lines_.push_back({line_of(entry), std::move(entry)});
}

bool KnownHosts::forget(std::string_view host, std::uint16_t port) {
  const auto before = lines_.size();
  std::erase_if(lines_,
                [&](const Line& l) { return l.pin && l.pin->host == host && l.pin->port == port; });
  return lines_.size() != before;
}

Result<KnownHosts, std::string> KnownHosts::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return KnownHosts{};
    return Unexpected(path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > (4 << 20)) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return parse(text);
}

Result<void, std::string> KnownHosts::save(const std::string& path) const {
  const std::string dir = parent_of(path);
  // ~/.config/ferry, made as ssh makes ~/.ssh: only its owner may look inside.
  for (std::size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      const std::string part = dir.substr(0, i);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
        return Unexpected(part + ": " + std::strerror(errno));
      }
    }
  }
  const std::string fresh = path + ".new";
  const int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Unexpected(fresh + ": " + std::strerror(errno));
  const std::string text = serialize();
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(fresh.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(fresh.c_str());
    return Unexpected(path + ": " + std::strerror(e));
  }
  return {};
}

std::string default_known_hosts_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/ferry/known_hosts";
  }
  std::string home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    home = pw->pw_dir;
  } else if (const char* h = std::getenv("HOME"); h != nullptr) {
    home = h;
  }
  return home + "/.config/ferry/known_hosts";
}

std::optional<std::string> check_pin(const std::string& path, const std::string& host,
                                     std::uint16_t port,
                                     const std::optional<std::string>& fingerprint,
                                     const PinNotice& notice) {
  auto pins = KnownHosts::load(path);
  if (!pins) return "known hosts: " + pins.error();
  std::optional<KnownHost> seen;
  if (fingerprint) seen = KnownHost{host, port, "ed25519", *fingerprint};
  const std::string where = host + " port " + std::to_string(port);
  const std::string forget = "bbftp --forget-host " + host + ":" + std::to_string(port);
  const KnownHost* pinned = pins->find(host, port);
  switch (pins->check(host, port, seen)) {
    case PinCheck::matches:
      return std::nullopt;
    case PinCheck::changed:
      return "The host key of " + where + " has changed: pinned " + pinned->type + " " +
             pinned->fingerprint + ", offered " + seen->type + " " + seen->fingerprint +
             ". Someone may be impersonating the server; no credential was sent. If the key was "
             "changed on purpose, clear the pin with: " +
             forget;
    case PinCheck::downgrade:
      return "The server " + where + " no longer announces the bbftp extension, though its " +
             pinned->type + " key " + pinned->fingerprint +
             " is pinned (a downgrade, or a daemon that refuses connections); no credential was "
             "sent. If the daemon was replaced on purpose, clear the pin with: " +
             forget;
    case PinCheck::first_use:
      break;
  }
  if (!seen) return std::nullopt;  // a real bbftpd: nothing to pin
  pins->pin(*seen);
  if (auto saved = pins->save(path); !saved) {
    // As ssh does: the connection goes on, unpinned, and the user is told.
    if (notice) {
      notice("Warning: the host key of " + where + " (" + seen->type + " " + seen->fingerprint +
                 ") could not be pinned: " + saved.error(),
             true);
    }
    return std::nullopt;
  }
  if (notice) {
    notice("Pinned the host key of " + where + ": " + seen->type + " " + seen->fingerprint + " (" +
               path + ")",
           false);
  }
  return std::nullopt;
}

}  // namespace ferry::client
