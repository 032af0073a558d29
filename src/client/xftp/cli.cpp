#include "client/xftp/cli.hpp"

#include <charconv>

namespace ferry::client {
namespace {

std::string_view last_name(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::optional<XftpTarget> parse_xftp_target(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    XftpTarget t{std::string(text.substr(1, close - 1)), std::nullopt};
    const auto rest = text.substr(close + 1);
    if (rest.empty()) return t;
    if (rest.front() != ':') return std::nullopt;
    t.port = parse_port(rest.substr(1));
    if (!t.port) return std::nullopt;
    return t;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return XftpTarget{std::string(text), std::nullopt};
  if (text.find(':', colon + 1) != std::string_view::npos) {
    return XftpTarget{std::string(text), std::nullopt};  // a bare IPv6 address
  }
  if (colon == 0) return std::nullopt;
  auto port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  return XftpTarget{std::string(text.substr(0, colon)), port};
}

std::string local_name_for_get(std::string_view remote, std::string_view local,
                               bool local_is_directory) {
  if (!remote.empty() && remote.back() == '/') return {};
  const auto name = last_name(remote);
  if (name.empty() || name == "." || name == "..") return {};
  if (local.empty()) return std::string(name);
  if (local_is_directory || local.back() == '/') {
    std::string out(local);
    if (out.back() != '/') out += '/';
    return out + std::string(name);
  }
  return std::string(local);
}

std::string remote_name_for_put(std::string_view local, std::string_view remote) {
  const auto name = last_name(local);
  if (remote.empty()) return "/" + std::string(name);
  if (remote.back() == '/') return std::string(remote) + std::string(name);
  return std::string(remote);
}

int exit_code_for(const session::XftpClientError& e) {
  using Kind = session::XftpClientError::Kind;
  switch (e.kind) {
    case Kind::refused:
      switch (e.status) {
        case xftp::Status::not_found:
          return xftp_exit::not_found;
        case xftp::Status::file_exists:
          return xftp_exit::exists;
        case xftp::Status::invalid:
          return xftp_exit::invalid;
        case xftp::Status::internal_error:
          return xftp_exit::server_error;
        default:
          return xftp_exit::failure;
      }
    case Kind::no_reply:
    case Kind::network:
      return xftp_exit::network;
    case Kind::local_file:
      return xftp_exit::local_file;
    case Kind::interrupted:
      return xftp_exit::interrupted;
    default:
      return xftp_exit::failure;
  }
}

}  // namespace ferry::client
