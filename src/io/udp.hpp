// UDP sockets with deadlines (XFTP). Datagrams are read whole; the sender's address comes along.
#pragma once

#include "io/socket.hpp"

namespace ferry::io {

Result<UniqueFd> bind_udp(const SocketAddress& where);
// Waits up to `timeout` for one datagram; ETIMEDOUT when none came. `out` should hold 64 KiB.
Result<std::size_t> receive_from(int fd, MutableBytes out, SocketAddress& from, Timeout timeout);
Result<void> send_to(int fd, Bytes data, const SocketAddress& to);
// Same host and port.
bool same_endpoint(const SocketAddress& a, const SocketAddress& b) noexcept;

}  // namespace ferry::io
