#include "io/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <numeric>
#include <random>

namespace ferry::io {
namespace {

Unexpected<Error> fail(int e, std::string what) {
  return Unexpected(Error{e, std::move(what)});
}

int poll_ms(Timeout t) {
  return t.count() < 0 ? -1 : static_cast<int>(std::min<long long>(t.count(), 1 << 30));
}

Result<void> wait_for(int fd, short events, Timeout timeout, const char* what) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, poll_ms(timeout));
    if (r > 0) return {};
    if (r == 0) return fail(ETIMEDOUT, what);
    if (errno != EINTR) return fail(errno, what);
  }
}

}  // namespace

std::string Error::message() const {
  if (sys_errno == 0) return what + ": connection closed by peer";
  char buf[256];
  return what + ": " + ::strerror_r(sys_errno, buf, sizeof buf);
}

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
  len_ = std::min<socklen_t>(len, sizeof storage_);
  std::memcpy(&storage_, sa, len_);
}

Result<SocketAddress> SocketAddress::of_peer(int fd) {
  SocketAddress a;
  a.len_ = sizeof a.storage_;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage_), &a.len_) != 0) {
    return fail(errno, "getpeername");
  }
  return a;
}

Result<SocketAddress> SocketAddress::of_local(int fd) {
  SocketAddress a;
  a.len_ = sizeof a.storage_;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage_), &a.len_) != 0) {
    return fail(errno, "getsockname");
  }
  return a;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string SocketAddress::host() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                sizeof buf);
  } else if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                sizeof buf);
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  const std::string h = host();
  return (family() == AF_INET6 ? "[" + h + "]" : h) + ":" + std::to_string(port());
}

std::string SocketAddress::source() const {
  if (family() != AF_INET6) return host();
  in6_addr a = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
  char buf[INET6_ADDRSTRLEN] = "?";
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    ::inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof buf);
    return buf;
  }
  std::memset(&a.s6_addr[8], 0, 8);
  ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return std::string(buf) + "/64";
}

bool SocketAddress::same_host(const SocketAddress& o) const noexcept {
  if (family() != o.family()) return false;
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&o.storage_)->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&o.storage_)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return false;
}

SocketAddress SocketAddress::unmapped() const noexcept {
  if (family() != AF_INET6) return *this;
  const auto* six = reinterpret_cast<const sockaddr_in6*>(&storage_);
  if (!IN6_IS_ADDR_V4MAPPED(&six->sin6_addr)) return *this;
  sockaddr_in four{};
  four.sin_family = AF_INET;
  four.sin_port = six->sin6_port;
  std::memcpy(&four.sin_addr, &six->sin6_addr.s6_addr[12], 4);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&four), sizeof four);
}

Result<SocketAddress> local_address_towards(const SocketAddress& to) {
  UniqueFd s(::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Unexpected(Error{errno, "socket"});
  if (::connect(s.get(), to.get(), to.size()) != 0) {
    return Unexpected(Error{errno, "route to " + to.host()});
  }
  return SocketAddress::of_local(s.get());
}

std::uint32_t SocketAddress::ipv4() const noexcept {
  if (family() != AF_INET) return 0;
  return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr;
}

Result<std::vector<SocketAddress>> resolve(std::string_view host, std::uint16_t port,
                                           bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string h(host);
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(h.empty() ? nullptr : h.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return Unexpected(Error{rc == EAI_SYSTEM ? errno : ENOENT,
                            "cannot resolve '" + h + "' (" + ::gai_strerror(rc) + ")"});
  }
  std::vector<SocketAddress> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) out.emplace_back(a->ai_addr, a->ai_addrlen);
  ::freeaddrinfo(res);
  return out;
}

Result<UniqueFd> listen_tcp(const SocketAddress& where, int backlog) {
  UniqueFd fd(::socket(where.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(errno, "socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), where.get(), where.size()) != 0) {
    return fail(errno, "bind " + where.to_string());
  }
  if (::listen(fd.get(), backlog) != 0) return fail(errno, "listen " + where.to_string());
  return fd;
}

Result<UniqueFd> in_random_port_order(std::uint16_t first, std::uint16_t last,
                                      const std::function<Result<UniqueFd>(std::uint16_t)>& open) {
  if (first == 0 || last < first) return fail(EINVAL, "empty port range");
  // Every port of the range once, in an order nobody can guess: a random start and a random
  // stride that is coprime with the range's size.
  const std::uint32_t n = static_cast<std::uint32_t>(last) - first + 1;
  std::random_device rng;
  const std::uint32_t start = rng() % n;
  std::uint32_t stride = n > 1 ? 1 + rng() % (n - 1) : 1;
  while (std::gcd(stride, n) != 1) stride = stride % n + 1;
  int last_errno = EADDRINUSE;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto port =
        static_cast<std::uint16_t>(first + (start + static_cast<std::uint64_t>(i) * stride) % n);
    auto fd = open(port);
    if (fd) return fd;
    last_errno = fd.error().sys_errno;
    if (last_errno != EADDRINUSE && last_errno != EACCES) return fd;
  }
  return fail(last_errno, "no free port in " + std::to_string(first) + ":" + std::to_string(last));
}

Result<UniqueFd> listen_tcp_in_range(const SocketAddress& host, std::uint16_t first,
                                     std::uint16_t last, int backlog) {
  return in_random_port_order(first, last, [&](std::uint16_t port) {
    SocketAddress a = host;
    a.set_port(port);
    return listen_tcp(a, backlog);
  });
}

Result<UniqueFd> accept_tcp(int listener, Timeout timeout, SocketAddress* peer) {
  for (;;) {
    if (auto w = wait_for(listener, POLLIN, timeout, "accept"); !w) {
      return Unexpected(std::move(w).error());
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd >= 0) {
      if (peer != nullptr) *peer = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
      return UniqueFd(fd);
    }
    if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) return fail(errno, "accept");
  }
}

Result<UniqueFd> accept_from(int listener, const SocketAddress* expected, Timeout timeout,
                             const std::function<void(const SocketAddress&)>& on_stranger) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Timeout left = kNoTimeout;
    if (timeout != kNoTimeout) {
      left = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(ETIMEDOUT, "accept");
    }
    SocketAddress peer;
    auto fd = accept_tcp(listener, left, &peer);
    if (!fd || expected == nullptr || peer.same_host(*expected)) return fd;
    // Somebody else raced the peer we expect: closed before a byte is read or written.
    fd->reset();
    if (on_stranger) on_stranger(peer);
  }
}

Result<UniqueFd> connect_tcp(const SocketAddress& to, Timeout timeout, const SocketAddress* from) {
  UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail(errno, "socket");
  if (from != nullptr) {
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), from->get(), from->size()) != 0) {
      return fail(errno, "bind " + from->to_string());
    }
  }
  const std::string what = "connect " + to.to_string();
  if (::connect(fd.get(), to.get(), to.size()) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return fail(errno, what);
    if (auto w = wait_for(fd.get(), POLLOUT, timeout, what.c_str()); !w) {
      return Unexpected(std::move(w).error());
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(err, what);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<UniqueFd> connect_tcp(std::string_view host, std::uint16_t port, Timeout timeout) {
  auto addrs = resolve(host, port);
  if (!addrs) return Unexpected(std::move(addrs).error());
  Error last{ENOENT, "connect " + std::string(host)};
  for (const auto& a : *addrs) {
    auto fd = connect_tcp(a, timeout);
    if (fd) return fd;
    last = std::move(fd).error();
  }
  return Unexpected(std::move(last));
}

Result<void> wait_readable(int fd, Timeout timeout) {
  return wait_for(fd, POLLIN, timeout, "read");
}
Result<void> wait_writable(int fd, Timeout timeout) {
  return wait_for(fd, POLLOUT, timeout, "write");
}

Result<std::size_t> read_some(int fd, MutableBytes out, Timeout timeout) {
  for (;;) {
    if (timeout != kNoTimeout) {
      if (auto w = wait_readable(fd, timeout); !w) return Unexpected(std::move(w).error());
    }
    ssize_t n = ::recv(fd, out.data(), out.size(), 0);
    // A pipe (bbftpd -s: ssh's standard input): readable, so read(2) does not block either.
    if (n < 0 && errno == ENOTSOCK) n = ::read(fd, out.data(), out.size());
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return fail(0, "read");
    if (errno != EINTR && errno != EAGAIN) return fail(errno, "read");
  }
}

Result<void> read_exact(int fd, MutableBytes out, Timeout timeout) {
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = read_some(fd, out.subspan(done), timeout);
    if (!n) return Unexpected(std::move(n).error());
    done += *n;
  }
  return {};
}

Result<void> write_all(int fd, Bytes data, Timeout timeout) {
  std::size_t done = 0;
  while (done < data.size()) {
    // MSG_DONTWAIT: a full send buffer must end in the timed wait below, never block forever.
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {
      // A pipe (bbftpd -s: ssh's standard output), maybe blocking: once it is writable, a write
      // of PIPE_BUF bytes or fewer fits without blocking.
      if (auto w = wait_writable(fd, timeout); !w) return Unexpected(std::move(w).error());
      n = ::write(fd, data.data() + done, std::min<std::size_t>(data.size() - done, PIPE_BUF));
    }
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EAGAIN) {
      if (auto w = wait_writable(fd, timeout); !w) return Unexpected(std::move(w).error());
      continue;
    }
    if (errno != EINTR) return fail(errno, "write");
  }
  return {};
}

void set_nodelay(int fd) noexcept {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_buffer_sizes(int fd, int send_bytes, int recv_bytes) noexcept {
  if (send_bytes > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes);
  if (recv_bytes > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &recv_bytes, sizeof recv_bytes);
}

void set_tos(int fd, int tos) noexcept {
  ::setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
}

void set_send_timeout(int fd, Timeout timeout) noexcept {
  timeval tv{};
  if (timeout > Timeout::zero()) {
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  }
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace ferry::io
