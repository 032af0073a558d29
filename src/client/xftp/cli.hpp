// What the xftp command line means: HOST[:PORT] targets, the names get and put give files when
// the user leaves them out, and the exit code of each kind of failure (documented in xftp(1)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "session/xftp/client.hpp"

namespace ferry::client {

struct XftpTarget {
  std::string host;
  std::optional<std::uint16_t> port;
};
// "host", "host:2333", "127.0.0.1:2333", "[::1]:2333", "::1" (a bare IPv6 address has no port).
std::optional<XftpTarget> parse_xftp_target(std::string_view text);

// `get REMOTE [LOCAL]`: LOCAL defaults to REMOTE's last name; a LOCAL that is a directory (or
// ends with '/') receives that name inside. Empty when REMOTE names no file ("/", "a/").
std::string local_name_for_get(std::string_view remote, std::string_view local,
                               bool local_is_directory);
// `put LOCAL [REMOTE]`: REMOTE defaults to "/" + LOCAL's last name; a REMOTE ending with '/'
// receives that name inside.
std::string remote_name_for_put(std::string_view local, std::string_view remote);

namespace xftp_exit {
inline constexpr int ok = 0;
inline constexpr int failure = 1;  // anything not listed below
inline constexpr int usage = 2;
inline constexpr int not_found = 3;
inline constexpr int exists = 4;
inline constexpr int invalid = 5;
inline constexpr int server_error = 6;
inline constexpr int network = 7;  // no reply, nothing listening, transfer interrupted
inline constexpr int local_file = 8;
inline constexpr int interrupted = 130;  // SIGINT / SIGTERM, as shells report it
}  // namespace xftp_exit

int exit_code_for(const session::XftpClientError& e);

}  // namespace ferry::client
