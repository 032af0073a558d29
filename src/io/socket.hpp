// TCP sockets with deadlines: the blocking building blocks bbftp's control connection and data
// streams use. IPv4 and IPv6. Every call retries EINTR; every wait is bounded by a timeout.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace ferry::io {

struct Error {
  int sys_errno = 0;  // ETIMEDOUT for deadlines, ECONNRESET/EPIPE for a vanished peer, 0 for EOF
  std::string what;   // "connect 127.0.0.1:5021", ...
  std::string message() const;  // "<what>: <strerror>" or "<what>: connection closed by peer"
  bool eof() const noexcept { return sys_errno == 0; }
};

template <class T>
using Result = ferry::Result<T, Error>;

using Timeout = std::chrono::milliseconds;
inline constexpr Timeout kNoTimeout{-1};

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);
  static Result<SocketAddress> of_peer(int fd);
  static Result<SocketAddress> of_local(int fd);

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }
  int family() const noexcept { return storage_.ss_family; }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  std::string host() const;       // "127.0.0.1", "::1"
  std::string to_string() const;  // "127.0.0.1:5021", "[::1]:5021"
  bool same_host(const SocketAddress& other) const noexcept;
  // What a per-source limit counts against: an IPv4 address (IPv4-mapped IPv6 included) as such,
  // an IPv6 address by its /64 ("2001:db8:1:2::/64"), which one host usually holds whole.
  std::string source() const;
  // An IPv4-mapped IPv6 address (what a dual-stack socket sees of an IPv4 peer) as the IPv4
  // address it is; any other address as it is.
  SocketAddress unmapped() const noexcept;
  // IPv4 address in network order (for protocols that carry one), 0 for IPv6.
  std::uint32_t ipv4() const noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// The local address the kernel would use to reach `to` (a UDP socket connected there: nothing
// is sent).
Result<SocketAddress> local_address_towards(const SocketAddress& to);

// Resolves a host name or numeric address ("localhost", "127.0.0.1", "::1").
Result<std::vector<SocketAddress>> resolve(std::string_view host, std::uint16_t port,
                                           bool passive = false);

// A listening TCP socket (SO_REUSEADDR). Port 0 picks an ephemeral port.
Result<UniqueFd> listen_tcp(const SocketAddress& where, int backlog = 64);
// A port of [first, last] that binds on `host`, drawn at random (for data port ranges: the next
// port must not be guessable).
Result<UniqueFd> listen_tcp_in_range(const SocketAddress& host, std::uint16_t first,
                                     std::uint16_t last, int backlog = 8);
// Calls `open` for the ports of [first, last] in a random order, each at most once, until one
// succeeds or fails for another reason than the port being taken (EADDRINUSE, EACCES).
Result<UniqueFd> in_random_port_order(std::uint16_t first, std::uint16_t last,
                                      const std::function<Result<UniqueFd>(std::uint16_t)>& open);
Result<UniqueFd> accept_tcp(int listener, Timeout timeout, SocketAddress* peer = nullptr);
// Accepts the first connection from `expected`'s host (any host when null) within `timeout` in
// all; connections from other hosts are closed at once and passed to `on_stranger` (to be
// logged). A data port must belong to the session that opened it.
Result<UniqueFd> accept_from(int listener, const SocketAddress* expected, Timeout timeout,
                             const std::function<void(const SocketAddress&)>& on_stranger = {});
Result<UniqueFd> connect_tcp(const SocketAddress& to, Timeout timeout,
                             const SocketAddress* from = nullptr);
// Tries every address of `host` in turn.
Result<UniqueFd> connect_tcp(std::string_view host, std::uint16_t port, Timeout timeout);

// Waits until `fd` is readable (POLLIN) or writable; ETIMEDOUT when the timeout passes.
Result<void> wait_readable(int fd, Timeout timeout);
Result<void> wait_writable(int fd, Timeout timeout);

// Reads what is there (at least one byte); an orderly close by the peer is Error{0}.
Result<std::size_t> read_some(int fd, MutableBytes out, Timeout timeout);
Result<void> read_exact(int fd, MutableBytes out, Timeout timeout);
// Writes everything; the timeout applies to each wait for buffer space.
Result<void> write_all(int fd, Bytes data, Timeout timeout);

void set_nodelay(int fd) noexcept;
// Socket buffer sizes in bytes (0 leaves the kernel's autotuning alone).
void set_buffer_sizes(int fd, int send_bytes, int recv_bytes) noexcept;
void set_tos(int fd, int tos) noexcept;
// The kernel's bound on a send that blocks (SO_SNDTIMEO; kNoTimeout: none): what ends a
// sendfile(2) to a blocking socket whose peer stopped reading, since sendfile takes no
// MSG_DONTWAIT. It then returns what it sent, or fails with EAGAIN.
void set_send_timeout(int fd, Timeout timeout) noexcept;

}  // namespace ferry::io
