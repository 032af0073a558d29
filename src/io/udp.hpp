// UDP sockets with deadlines (XFTP). Datagrams are read whole; the sender's address comes along.
#pragma once

#include "io/socket.hpp"

namespace ferry::io {

Result<UniqueFd> bind_udp(const SocketAddress& where);
// A port of [first, last] on `host`, drawn at random (xftpd's data ports behind a firewall).
Result<UniqueFd> bind_udp_in_range(const SocketAddress& host, std::uint16_t first,
                                   std::uint16_t last);
// Waits up to `timeout` for one datagram; ETIMEDOUT when none came. `out` should hold 64 KiB.
Result<std::size_t> receive_from(int fd, MutableBytes out, SocketAddress& from, Timeout timeout);
// wait: a full interface queue (ENOBUFS) is waited out, briefly and a bounded number of times;
// fail: reported at once (an event loop must not sleep).
enum class FullQueue { wait, fail };
Result<void> send_to(int fd, Bytes data, const SocketAddress& to,
                     FullQueue full_queue = FullQueue::wait);

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
