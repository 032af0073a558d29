#include "daemon/listener.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/signal_set.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "core/printable.hpp"
#include "io/event_loop.hpp"
#include "io/socket.hpp"

namespace ferry::daemon {
namespace {

constexpr char kClaim = 'L', kFailed = 'F', kChecking = 'C', kYes = 'Y', kNo = 'N';
constexpr io::Timeout kClaimTimeout{5000};
// Connections taken from the listening socket per wake-up.
constexpr int kAcceptsPerWakeup = 32;
// What a child may take beyond its login deadline (its failure delay, the last reply) before
// the listener kills it.
constexpr auto kKillGrace = std::chrono::seconds(5);
// A refused client that sent part of a login and then nothing for this long gets its answer.
constexpr auto kQuietBeforeAnswer = std::chrono::seconds(1);

std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof buf);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

bool ListenerLink::claim_session() {
  if (!fd_) return true;
  const char ask = kClaim;
  if (!io::write_all(fd_.get(), {reinterpret_cast<const std::byte*>(&ask), 1}, kClaimTimeout)) {
    return false;
  }
  std::byte answer{};
  if (!io::read_exact(fd_.get(), {&answer, 1}, kClaimTimeout)) return false;
  return static_cast<char>(answer) == kYes;
}

void ListenerLink::checking() {
  if (!fd_) return;
  const char tell = kChecking;
  (void)io::write_all(fd_.get(), {reinterpret_cast<const std::byte*>(&tell), 1}, kClaimTimeout);
}

void ListenerLink::login_failed() {
  if (!fd_) return;
  const char tell = kFailed;
  (void)io::write_all(fd_.get(), {reinterpret_cast<const std::byte*>(&tell), 1}, kClaimTimeout);
}

namespace {

class Listener {
 public:
  Listener(const ListenerOptions& options, const ServeConnection& serve, UniqueFd listening)
      : options_(options),
        serve_(serve),
        listening_(std::move(listening)),
        admission_(options.limits),
        refusal_log_(options.refusal_logs_per_second, options.refusal_logs_per_second * 4),
        children_(loop_, SIGCHLD),
        stop_(loop_, SIGINT, SIGTERM),
        resume_(loop_) {}

  void run() {
    set_nonblocking(listening_.get());
    accepting_.emplace(loop_, listening_.get(), [this] { accept_some(); });
    reap();
    stop_.async_wait([this](const std::error_code& ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: stopping (running sessions finish on their own)", sig);
      loop_.stop();
    });
    loop_.run();
  }

 private:
  struct Child {
    std::string source;
    Clock::time_point since;
    bool session = false;
    bool evicted = false;  // killed to make room for another source's connection
    // Between "checking" and its outcome: a child that ends then (evicted, killed at its
    // deadline, gone) counts as a failed login, so that ending a connection during the equal
    // failure time tells an attacker nothing for free.
    bool checking = false;
    UniqueFd link;
    std::unique_ptr<io::ReadWatch> watch;
    std::unique_ptr<io::Timer> deadline;
  };
  struct Refusal {
    std::string source;
    UniqueFd fd;
    Verdict verdict = Verdict::busy;
    std::size_t discarded = 0;
    std::unique_ptr<io::ReadWatch> watch;
    std::unique_ptr<io::Timer> deadline;
    std::unique_ptr<io::Timer> quiet;
  };

  void accept_some() {
    for (int i = 0; i < kAcceptsPerWakeup; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(listening_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        if (errno == ECONNABORTED) continue;
        // EMFILE and the like: the connection stays queued and the socket readable, so stop
        // watching it for a moment rather than spin.
        if (refusal_log_.allow(Clock::now())) spdlog::warn("accept: {}", errno_text(errno));
        pause_accepting();
        return;
      }
      admit(UniqueFd(fd), io::SocketAddress(reinterpret_cast<sockaddr*>(&ss), len));
    }
  }

  void pause_accepting() {
    accepting_.reset();
    resume_.expires_after(std::chrono::milliseconds(100));
    resume_.async_wait([this](const std::error_code& ec) {
      if (!ec) accepting_.emplace(loop_, listening_.get(), [this] { accept_some(); });
    });
  }

  // Closes the oldest pre-login connection of `source` to make room for an admission. False
  // when it has none left to close.
  bool evict_from(const std::string& source) {
    pid_t oldest = -1;
    Clock::time_point when = Clock::time_point::max();
    for (const auto& [pid, c] : children_by_pid_) {
      if (c.source == source && !c.session && !c.evicted && c.since < when) {
        oldest = pid;
        when = c.since;
      }
    }
    if (oldest < 0) return false;
    children_by_pid_[oldest].evicted = true;
    ::kill(oldest, SIGKILL);
    if (refusal_log_.allow(Clock::now())) {
      spdlog::warn(
          "connection from {} closed before its login: every pre-login slot is taken "
          "and that address holds the most",
          source);
    }
    return true;
  }

  void log_refusal(const io::SocketAddress& peer, std::string_view what, std::string_view why) {
    if (!refusal_log_.allow(Clock::now())) return;
    const auto skipped = refusal_log_.take_suppressed();
    spdlog::warn("connection from {} port {} {}: {} ({} not logged in, {} sessions){}", peer.host(),
                 peer.port(), what, why, admission_.prelogin(), admission_.sessions(),
                 skipped > 0 ? fmt::format(" ({} more refusals not logged)", skipped) : "");
  }

  void admit(UniqueFd conn, const io::SocketAddress& peer) {
    const std::string source = peer.source();
    const Admitted a = admission_.on_connect(source, Clock::now());
    switch (a.verdict) {
      case Verdict::drop:
        log_refusal(peer, "closed at once (too many refusals under way)", a.why);
        return;  // `conn` closes here
      case Verdict::busy:
      case Verdict::banned:
        log_refusal(peer, a.verdict == Verdict::busy ? "refused (busy)" : "refused (banned)",
                    a.why);
        refuse(std::move(conn), source, a.verdict);
        return;
      case Verdict::admit:
        if (!a.evict.empty() && !evict_from(a.evict)) {
          admission_.eviction_failed(a.evict, source);
          log_refusal(peer, "closed", "no pre-login slot could be freed");
          return;
        }
        fork_child(std::move(conn), source, a.failure_delay);
        return;
    }
  }

  void fork_child(UniqueFd conn, const std::string& source, Millis failure_delay) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      spdlog::error("socketpair: {}", errno_text(errno));
      admission_.closed(source, false);
      return;
    }
    UniqueFd mine(pair[0]), theirs(pair[1]);
    // After fork() parent and child share the epoll set: the child gets its own before it
    // closes anything, so that it never unregisters the parent's descriptors.
    loop_.notify_fork(asio::io_context::fork_prepare);
    const pid_t pid = ::fork();
    if (pid == 0) {
      loop_.notify_fork(asio::io_context::fork_child);
      become_child();
      mine.reset();
      const int flags = ::fcntl(conn.get(), F_GETFL);
      if (flags >= 0) ::fcntl(conn.get(), F_SETFL, flags & ~O_NONBLOCK);
      serve_(std::move(conn), ListenerLink(std::move(theirs)), failure_delay);
      spdlog::default_logger()->flush();
      ::_exit(0);
    }
    loop_.notify_fork(asio::io_context::fork_parent);
    if (pid < 0) {
      spdlog::error("fork: {}", errno_text(errno));
      admission_.closed(source, false);
      return;
    }
    theirs.reset();
    set_nonblocking(mine.get());
    auto& c = children_by_pid_[pid];
    c.source = source;
    c.since = Clock::now();
    c.link = std::move(mine);
    c.watch = std::make_unique<io::ReadWatch>(loop_, c.link.get(), [this, pid] { heard(pid); });
    c.deadline = std::make_unique<io::Timer>(loop_);
    c.deadline->expires_after(options_.login_deadline + options_.limits.max_delay +
                              options_.login_failure_time * 2 + kKillGrace);
    c.deadline->async_wait([this, pid](const std::error_code& ec) {
      if (ec) return;
      auto it = children_by_pid_.find(pid);
      if (it == children_by_pid_.end() || it->second.session) return;
      spdlog::warn("connection from {}: no login within {} s, killed", it->second.source,
                   options_.login_deadline.count());
      ::kill(pid, SIGKILL);
    });
  }

  // In the child: nothing of the listener's stays open there but the logger.
  void become_child() {
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    listening_.reset();
    for (auto& [pid, c] : children_by_pid_) {
      (void)c.watch.release();  // never run their destructors here: the loop is not ours
      (void)c.deadline.release();
      c.link.reset();
    }
    for (auto& [id, r] : refusals_) {
      (void)r.watch.release();
      (void)r.deadline.release();
      r.fd.reset();
    }
  }

  // The child said something on its link.
  void heard(pid_t pid) {
    auto it = children_by_pid_.find(pid);
    if (it == children_by_pid_.end()) return;
    Child& c = it->second;
    char buf[16];
    const ssize_t n = ::read(c.link.get(), buf, sizeof buf);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) c.watch->cancel();  // child ending
      return;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == kChecking) {
        c.checking = true;
      } else if (buf[i] == kFailed) {
        c.checking = false;
        admission_.login_failed(c.source, Clock::now());
      } else if (buf[i] == kClaim && !c.session && !c.evicted) {
        c.checking = false;
        const bool granted = admission_.claim_session(c.source);
        if (granted) {
          c.session = true;
          c.deadline->cancel();
        }
        const char answer = granted ? kYes : kNo;
        (void)::write(c.link.get(), &answer, 1);
      }
    }
  }

  void reap() {
    children_.async_wait([this](const std::error_code& ec, int) {
      if (ec) return;
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        auto it = children_by_pid_.find(pid);
        if (it == children_by_pid_.end()) continue;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
          spdlog::error(
              "connection from {}: its {} process {} killed: a forbidden system call "
              "(seccomp)",
              it->second.source, it->second.session ? "session" : "monitor", pid);
        }
        if (it->second.checking) admission_.login_failed(it->second.source, Clock::now());
        admission_.closed(it->second.source, it->second.session, it->second.evicted);
        children_by_pid_.erase(it);
      }
      reap();
    });
  }

  void refuse(UniqueFd conn, const std::string& source, Verdict verdict) {
    const auto& r = options_.refusals;
    // A fresh socket's buffer takes the few bytes of the greeting at once.
    if (::send(conn.get(), r.greeting.data(), r.greeting.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(r.greeting.size())) {
      admission_.refusal_done(source);
      return;
    }
    const std::uint64_t id = next_refusal_++;
    Refusal& refusal = refusals_[id];
    refusal.source = source;
    refusal.fd = std::move(conn);
    refusal.verdict = verdict;
    refusal.watch =
        std::make_unique<io::ReadWatch>(loop_, refusal.fd.get(), [this, id] { discard(id); });
    refusal.deadline = std::make_unique<io::Timer>(loop_);
    refusal.deadline->expires_after(options_.refusal_deadline);
    refusal.deadline->async_wait([this, id](const std::error_code& ec) {
      if (!ec) finish_refusal(id, false);
    });
    refusal.quiet = std::make_unique<io::Timer>(loop_);
  }

  void discard(std::uint64_t id) {
    auto it = refusals_.find(id);
    if (it == refusals_.end()) return;
    Refusal& r = it->second;
    std::byte buf[512];
    const std::size_t want = options_.refusals.discard_bytes - r.discarded;
    const ssize_t n = ::recv(r.fd.get(), buf, std::min(want, sizeof buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      finish_refusal(id, false);  // gone, or broken: nobody to tell
      return;
    }
    r.discarded += static_cast<std::size_t>(n);
    if (r.discarded >= options_.refusals.discard_bytes) {
      finish_refusal(id, true);
      return;
    }
    // Less than a whole login, then silence (a client that asked for something else first, a
    // clear-text login): it is waiting for an answer, give it the refusal.
    r.quiet->cancel();
    r.quiet->expires_after(kQuietBeforeAnswer);
    r.quiet->async_wait([this, id](const std::error_code& ec) {
      if (!ec) finish_refusal(id, true);
    });
  }

  void finish_refusal(std::uint64_t id, bool answer) {
    auto it = refusals_.find(id);
    if (it == refusals_.end()) return;
    Refusal& r = it->second;
    if (answer) {
      const auto& bytes =
          r.verdict == Verdict::banned ? options_.refusals.banned : options_.refusals.busy;
      (void)::send(r.fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ::shutdown(r.fd.get(), SHUT_WR);
    }
    admission_.refusal_done(r.source);
    refusals_.erase(it);  // maybe from its own handler: ReadWatch and the timer allow that
  }

  const ListenerOptions& options_;
  const ServeConnection& serve_;
  io::EventLoop loop_;
  UniqueFd listening_;
  Admission admission_;
  RateLimit refusal_log_;
  asio::signal_set children_;
  asio::signal_set stop_;
  io::Timer resume_;
  std::optional<io::ReadWatch> accepting_;
  std::map<pid_t, Child> children_by_pid_;
  std::map<std::uint64_t, Refusal> refusals_;
  std::uint64_t next_refusal_ = 0;
};

}  // namespace

int run_listener(const ListenerOptions& options, const ServeConnection& serve) {
  // Room for every descriptor the caps allow at once: the soft limit (often 1024) up to the
  // hard one.
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
  }
  auto where = io::resolve(options.listen, options.port, true);
  if (!where) {
    spdlog::critical("{}", where.error().message());
    return 1;
  }
  // A burst of clients must queue, not be dropped (the kernel caps it at somaxconn).
  auto listening = io::listen_tcp(where->front(), 1024);
  if (!listening) {
    spdlog::critical("{}", listening.error().message());
    return 1;
  }
  const auto bound = io::SocketAddress::of_local(listening->get());
  spdlog::info("{} listening on {}", options.program,
               bound ? bound->to_string() : where->front().to_string());
  if (options.background && ::daemon(0, 0) != 0) {
    spdlog::critical("cannot go to the background: {}", errno_text(errno));
    return 1;
  }
  if (!options.pid_file.empty()) std::ofstream(options.pid_file) << ::getpid() << '\n';
  {
    Listener l(options, serve, std::move(*listening));
    l.run();
  }
  if (!options.pid_file.empty()) ::unlink(options.pid_file.c_str());
  return 0;
}

}  // namespace ferry::daemon
