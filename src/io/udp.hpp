// UDP sockets with deadlines (XFTP). Datagrams are read whole; the sender's address comes along.
#pragma once

#include "io/socket.hpp"

namespace ferry::io {

Result<UniqueFd> bind_udp(const SocketAddress& where);
// Waits up to `timeout` for one datagram; ETIMEDOUT when none came. `out` should hold 64 KiB.
Result<std::size_t> receive_from(int fd, MutableBytes out, SocketAddress& from, Timeout timeout);
Result<void> send_to(int fd, Bytes data, const SocketAddress& to);

// The fast path of stop-and-wait transfers: one blocking recvfrom per datagram (no poll), its
// wait bounded by SO_RCVTIMEO. ETIMEDOUT when `set_receive_timeout`'s time passed with nothing.
Result<void> set_receive_timeout(int fd, Timeout timeout);
Result<std::size_t> receive_datagram(int fd, MutableBytes out, SocketAddress& from);
// Does not wait: EAGAIN when nothing is there.
Result<std::size_t> try_receive_datagram(int fd, MutableBytes out, SocketAddress& from);
// Reports ICMP errors (port unreachable: ECONNREFUSED) on the next receive even though the
// socket is not connected, so a client learns at once that nothing listens at an address.
void report_icmp_errors(int fd) noexcept;
// Same host and port.
bool same_endpoint(const SocketAddress& a, const SocketAddress& b) noexcept;

}  // namespace ferry::io
