#include "io/process.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

namespace ferry::io {

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), channel_(std::move(o.channel_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    channel_ = std::move(o.channel_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  stop();
}

int ChildProcess::stop(Timeout grace) {
  channel_.reset();
  if (pid_ <= 0) return -1;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + grace;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return status;
}

Result<ChildProcess> spawn_connected(const std::vector<std::string>& argv,
                                     std::string exec_failure) {
  if (argv.empty()) return Unexpected(Error{EINVAL, "run a command: none given"});
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Unexpected(Error{errno, "socketpair for " + argv[0]});
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string failed =
      exec_failure.empty() ? argv[0] + ": cannot run: " : std::move(exec_failure);
  const std::size_t pid_at = failed.find("{pid}");
  const pid_t pid = ::fork();
  if (pid < 0) return Unexpected(Error{errno, "fork for " + argv[0]});
  if (pid == 0) {
    const int fd = theirs.get();
    if (::dup2(fd, STDIN_FILENO) < 0 || ::dup2(fd, STDOUT_FILENO) < 0) ::_exit(127);
    ::close_range(3, ~0U, 0);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    const char* why = ::strerrordesc_np(errno);  // no locale, no allocation: safe after fork
    if (pid_at == std::string::npos) {
      (void)!::write(STDERR_FILENO, failed.data(), failed.size());
    } else {
      char digits[16];  // getpid() zero-padded to six digits, formatted by hand (after fork)
      int n = 0;
      for (auto v = static_cast<unsigned long>(::getpid()); v != 0 || n < 6; v /= 10) {
        digits[n++] = static_cast<char>('0' + v % 10);
      }
      for (int i = 0; i < n / 2; ++i) std::swap(digits[i], digits[n - 1 - i]);
      (void)!::write(STDERR_FILENO, failed.data(), pid_at);
      (void)!::write(STDERR_FILENO, digits, static_cast<std::size_t>(n));
      (void)!::write(STDERR_FILENO, failed.data() + pid_at + 5, failed.size() - pid_at - 5);
    }
    (void)!::write(STDERR_FILENO, why, std::strlen(why));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  return ChildProcess(pid, std::move(ours));
}

}  // namespace ferry::io
