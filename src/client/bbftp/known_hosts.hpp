// The client's pins of bbftp servers' host keys (docs/protocol/bbftp-extended.md, section 4):
// ~/.config/ferry/known_hosts, one line per host and port, "host port type fingerprint". A
// server is pinned the first time it is seen; later, a changed key or a pinned server that no
// longer announces the extension (a downgrade) is refused. Parsing and checking are pure; only
// load() and save() touch the file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ferry::client {

struct KnownHost {
  std::string host;
  std::uint16_t port = 0;
  std::string type;         // "ed25519"
  std::string fingerprint;  // "SHA256:..."
  bool operator==(const KnownHost&) const = default;
};

enum class PinCheck {
  first_use,  // not pinned: pin it (and say so)
  matches,
  changed,    // pinned with another key: refuse
  downgrade,  // pinned, but the server announced no key: refuse
};

class KnownHosts {
 public:
  // Lines that are not pins (comments, blanks, anything malformed) are kept as they are, so
  // that saving never loses what a user wrote; they pin nothing.
  static KnownHosts parse(std::string_view text);
  std::string serialize() const;

  const KnownHost* find(std::string_view host, std::uint16_t port) const;
  // What the server announced (its key type and fingerprint; nothing: no announcement).
  PinCheck check(std::string_view host, std::uint16_t port,
                 const std::optional<KnownHost>& announced) const;
  void pin(KnownHost entry);  // replaces the host and port's pin
  bool forget(std::string_view host, std::uint16_t port);

  // The file: missing is empty. save() writes a new copy (mode 0600, its directory 0700)
  // and renames it over the old one.
  static Result<KnownHosts, std::string> load(const std::string& path);
  Result<void, std::string> save(const std::string& path) const;

 private:
  struct Line {
    std::string text;  // as read (or as a pin writes it)
    std::optional<KnownHost> pin;
  };
  std::vector<Line> lines_;
};

// ~/.config/ferry/known_hosts of the account running the client ($XDG_CONFIG_HOME first).
std::string default_known_hosts_path();

// What check_pin tells the user: the pin it made, or (`warning`) why it could not save it.
using PinNotice = std::function<void(const std::string& text, bool warning)>;
// The client's decision about a daemon at `host` and `port` that announced `fingerprint`
// ("SHA256:...", verified by the caller) or nothing: pins it at first use (saving the file and
// saying so through `notice`; a file that cannot be written is a warning, the connection goes
// on), or refuses with the text to show (a changed key, a downgrade, an unreadable file),
// naming the command that clears the pin.
std::optional<std::string> check_pin(const std::string& path, const std::string& host,
                                     std::uint16_t port,
                                     const std::optional<std::string>& fingerprint,
                                     const PinNotice& notice);

}  // namespace ferry::client
