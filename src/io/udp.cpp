#include "io/udp.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace ferry::io {

Result<UniqueFd> bind_udp(const SocketAddress& where) {
  UniqueFd fd(::socket(where.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return Unexpected(Error{errno, "socket"});
  if (::bind(fd.get(), where.get(), where.size()) != 0) {
    return Unexpected(Error{errno, "bind " + where.to_string()});
  }
  return fd;
}

Result<std::size_t> receive_from(int fd, MutableBytes out, SocketAddress& from, Timeout timeout) {
  for (;;) {
    if (timeout != kNoTimeout) {
      if (auto w = wait_readable(fd, timeout); !w) return Unexpected(std::move(w).error());
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n = ::recvfrom(fd, out.data(), out.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&ss), &len);
    if (n >= 0) {
      from = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
      return static_cast<std::size_t>(n);
    }
    if (errno == EAGAIN || errno == EINTR) continue;
    return Unexpected(Error{errno, "recvfrom"});
  }
}

Result<UniqueFd> bind_udp_in_range(const SocketAddress& host, std::uint16_t first,
                                   std::uint16_t last) {
  return in_random_port_order(first, last, [&](std::uint16_t port) {
    SocketAddress a = host;
    a.set_port(port);
    return bind_udp(a);
  });
}

Result<void> send_to(int fd, Bytes data, const SocketAddress& to, FullQueue full_queue) {
  // ENOBUFS (and EAGAIN) mean the interface queue is full for a moment: wait a little and try
  // again, a bounded number of times (about 1.3 s in all), rather than fail a transfer.
  const int retries = full_queue == FullQueue::wait ? 50 : 0;
  for (int full = 0;;) {
    if (::sendto(fd, data.data(), data.size(), 0, to.get(), to.size()) >= 0) return {};
    if (errno == EINTR) continue;
    if ((errno == ENOBUFS || errno == EAGAIN) && full < retries) {
      ++full;
      std::this_thread::sleep_for(std::chrono::microseconds(100) * full);
      continue;
    }
    return Unexpected(Error{errno, "sendto " + to.to_string()});
  }
}

Result<void> set_receive_timeout(int fd, Timeout timeout) {
  const auto ms = timeout == kNoTimeout ? 0 : std::max<long long>(timeout.count(), 1);
  timeval tv{.tv_sec = static_cast<time_t>(ms / 1000),
             .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return Unexpected(Error{errno, "setsockopt SO_RCVTIMEO"});
  }
  return {};
}

namespace {
Result<std::size_t> receive_with(int fd, MutableBytes out, SocketAddress& from, int flags) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n =
        ::recvfrom(fd, out.data(), out.size(), flags, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n >= 0) {
      from = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
      return static_cast<std::size_t>(n);
    }
    if (errno != EINTR) return Unexpected(Error{errno, "recvfrom"});
  }
}
}  // namespace

Result<std::size_t> receive_datagram(int fd, MutableBytes out, SocketAddress& from) {
  auto n = receive_with(fd, out, from, 0);
  if (!n && n.error().sys_errno == EAGAIN) return Unexpected(Error{ETIMEDOUT, "recvfrom"});
  return n;
}

Result<std::size_t> try_receive_datagram(int fd, MutableBytes out, SocketAddress& from) {
  return receive_with(fd, out, from, MSG_DONTWAIT);
}

void report_icmp_errors(int fd) noexcept {
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
}

bool same_endpoint(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.same_host(b) && a.port() == b.port();
}

}  // namespace ferry::io
