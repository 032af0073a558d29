// The bbftp extension's host key, used only in short-lived child processes: the daemon's
// long-lived processes (the listener, each monitor, and the pre-login and session processes
// forked from them) never hold its private bytes, not even as freed memory a later bug could
// read (docs/security.md). Each call forks, the child loads the key, does its one job, writes the
// result on a pipe and exits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace ferry::daemon {

// At start: the key file, made if missing (mode 0600); its fingerprint ("SHA256:...").
Result<std::string, std::string> prepare_host_key(const std::string& path);

struct HostKeySignature {
  std::array<std::uint8_t, 32> public_key{};
  std::array<std::uint8_t, 64> signature{};
};
// The key file's signature over what `message` makes of its public key (the signed bytes name
// the key). The key is loaded, never made, here: a key that vanished is an error, not a new
// identity.
using MessageFor = std::function<std::vector<std::uint8_t>(const std::array<std::uint8_t, 32>&)>;
Result<HostKeySignature, std::string> sign_with_host_key(const std::string& path,
                                                         const MessageFor& message);

}  // namespace ferry::daemon
