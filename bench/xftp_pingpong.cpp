// The ceiling of legacy XFTP (spec section 3): a minimal stop-and-wait ping-pong over loopback, one
// 4096-byte datagram answered by one 11-byte ACK, blocking calls and nothing else, between two
// processes. Prints MiB/s of payload for `bytes` (default 64 MiB), best of `runs`. With "poll",
// both sides spin on non-blocking receives instead of sleeping (what busy polling can reach).
// Usage: bench_xftp_pingpong [BYTES] [RUNS] [poll]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int udp_socket(sockaddr_in& bound) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("socket");
    std::exit(1);
  }
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return fd;
}

bool g_poll = false;

ssize_t receive(int fd, void* buf, std::size_t size, sockaddr_in* from, socklen_t* len) {
  for (;;) {
    const ssize_t n = ::recvfrom(fd, buf, size, g_poll ? MSG_DONTWAIT : 0,
                                 reinterpret_cast<sockaddr*>(from), len);
    if (n >= 0 || !g_poll || errno != EAGAIN) return n;
  }
}

double run_once(long long rounds) {
  sockaddr_in echo_addr{}, client_addr{};
  const int echo = udp_socket(echo_addr);
  const int client = udp_socket(client_addr);
  const pid_t child = ::fork();
  if (child == 0) {  // the acknowledging side
    char buf[65536];
    const char ack[11] = {'\xcf', '\x06', '\x01'};
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = receive(echo, buf, sizeof buf, &from, &len);
      if (n <= 0) ::_exit(0);  // the zero-length end
      ::sendto(echo, ack, sizeof ack, 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  char data[4096] = {};
  char in[64];
  const auto t0 = std::chrono::steady_clock::now();
  for (long long i = 0; i < rounds; ++i) {
    ::sendto(client, data, sizeof data, 0, reinterpret_cast<sockaddr*>(&echo_addr),
             sizeof echo_addr);
    sockaddr_in from{};
    socklen_t len = sizeof from;
    receive(client, in, sizeof in, &from, &len);
  }
  const auto t1 = std::chrono::steady_clock::now();
  ::sendto(client, data, 0, 0, reinterpret_cast<sockaddr*>(&echo_addr), sizeof echo_addr);
  ::waitpid(child, nullptr, 0);
  ::close(echo);
  ::close(client);
  return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long long bytes = argc > 1 ? std::atoll(argv[1]) : 64LL << 20;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  g_poll = argc > 3 && std::string(argv[3]) == "poll";
  const long long rounds = (bytes + 4095) / 4096;
  double best = 1e9;
  for (int r = 0; r < runs; ++r) best = std::min(best, run_once(rounds));
  std::printf("%.1f MiB/s (%.1f us per round trip)\n",
              static_cast<double>(rounds) * 4096 / best / (1 << 20),
              best / static_cast<double>(rounds) * 1e6);
  return 0;
}
