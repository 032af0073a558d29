#include "daemon/monitor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/printable.hpp"
#include "crypto/host_key.hpp"
#include "crypto/xftp_keys.hpp"
#include "daemon/host_key_process.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/monitor/messages.hpp"
#include "storage/resolve.hpp"

namespace ferry::daemon {
namespace {

using session::LoginOutcome;

// The pre-login process asks once and hands over once; each frame is small.
constexpr io::Timeout kFrameTimeout{std::chrono::seconds(5)};
// How long the pre-login process waits for a verdict: the failure time and delay included.
constexpr io::Timeout kVerdictTimeout{std::chrono::seconds(60)};
constexpr auto kExitGrace = std::chrono::seconds(2);

// Reads one frame with `decode` (a decode_request or decode_verdict) within `timeout`.
template <class Decode>
auto read_frame(int fd, std::vector<std::byte>& buf, io::Timeout timeout, Decode decode)
    -> decltype(decode(Bytes{})) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::byte chunk[4096];
  for (;;) {
    auto d = decode(Bytes(buf));
    if (d || d.error() != monitor::Errc::need_more) {
      if (d) buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(d->consumed));
      return d;
    }
    const auto left =
        std::chrono::duration_cast<io::Timeout>(until - std::chrono::steady_clock::now());
    if (left <= io::Timeout(0)) return d;
    auto n = io::read_some(fd, chunk, left);
    if (!n) return d;  // closed or late: still need_more
    buf.insert(buf.end(), chunk, chunk + *n);
  }
}

void wipe(std::string& s) {
  std::fill(s.begin(), s.end(), '\0');
}

// --- the pre-login process ---------------------------------------------------------------

// The pre-login process's log: each line goes to the monitor as a log_line frame (it holds no
// log of its own, so a compromised one cannot write lines in anyone else's name).
class MonitorSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit MonitorSink(int fd) : fd_(fd) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::uint8_t level = msg.level <= spdlog::level::debug  ? 0
                               : msg.level == spdlog::level::info ? 1
                               : msg.level == spdlog::level::warn ? 2
                                                                  : 3;
    std::string text(msg.payload.data(), std::min(msg.payload.size(), monitor::kMaxLogText));
    const auto frame = monitor::encode(monitor::LogLine{level, std::move(text)});
    (void)io::write_all(fd_, frame, kFrameTimeout);
  }
  void flush_() override {}

 private:
  int fd_;
};

// Everything the pre-login process needs: the connection, its monitor, /dev/null as 0-2.
// close_range(2) where the kernel has it (5.9+), else each descriptor the process holds.
void keep_only(std::initializer_list<int> keep) {
  std::vector<int> fds(keep);
  std::sort(fds.begin(), fds.end());
  auto close_from_to = [](unsigned first, unsigned last) {
    if (::syscall(SYS_close_range, first, last, 0) == 0) return;
    struct rlimit lim {};
    const unsigned top = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 1048576
                             ? static_cast<unsigned>(lim.rlim_cur)
                             : 1048576U;
    for (unsigned fd = first; fd <= last && fd < top; ++fd) ::close(static_cast<int>(fd));
  };
  unsigned next = 0;
  for (int fd : fds) {
    if (static_cast<unsigned>(fd) > next) close_from_to(next, static_cast<unsigned>(fd) - 1);
    next = static_cast<unsigned>(fd) + 1;
  }
  close_from_to(next, ~0U);
}

int run_prelogin(int conn, UniqueFd to_monitor, pid_t monitor_pid, const MonitorOptions& o) {
  const int fd = to_monitor.get();
  // Its log goes through the monitor; the daemon's log files, syslog socket, terminal and
  // every other descriptor the monitor holds are closed here.
  auto logger = std::make_shared<spdlog::logger>("bbftpd", std::make_shared<MonitorSink>(fd));
  logger->set_level(spdlog::default_logger()->level());
  spdlog::set_default_logger(std::move(logger));
  ::closelog();
  if (const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
    for (int std_fd : {0, 1, 2}) {
      if (std_fd != conn && std_fd != fd) ::dup2(null, std_fd);
    }
    if (null > 2) ::close(null);
  }
  keep_only({0, 1, 2, conn, fd});
  // The users' password hashes (a copy of the monitor's memory) are not the pre-login's.
  if (o.policy != nullptr) o.policy->forget();
  if (o.prelogin) {
    if (auto ok = drop_to(*o.prelogin); !ok) {
      spdlog::error("pre-login process: cannot become {}: {}", o.prelogin->name, ok.error());
      return 1;
    }
  }
  // Dies with its monitor (the listener kills a monitor that overstays its login deadline).
  // Set after the drop: changing uid clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != monitor_pid) return 1;
  std::vector<std::byte> buf;
  session::AskLogin ask = [&](std::string_view user, std::string_view pass, bool undecryptable) {
    auto frame =
        monitor::encode(monitor::CheckLogin{std::string(user), std::string(pass), undecryptable});
    const bool sent = !frame.empty() && io::write_all(fd, frame, kFrameTimeout).has_value();
    std::fill(frame.begin(), frame.end(), std::byte{0});
    if (!sent) return LoginOutcome::refused;
    auto v = read_frame(fd, buf, kVerdictTimeout, monitor::decode_verdict);
    if (!v) return LoginOutcome::refused;
    switch (v->message.outcome) {
      case monitor::Outcome::accepted:
        return LoginOutcome::accepted;
      case monitor::Outcome::busy:
        return LoginOutcome::busy;
      case monitor::Outcome::not_served:
        return LoginOutcome::not_served;
      case monitor::Outcome::refused:
        break;
    }
    return LoginOutcome::refused;
  };
  session::SignAnnouncement sign =
      [&](std::uint32_t features, const std::array<std::uint8_t, 32>& share,
          const bbftp::CryptKey& key) -> std::optional<session::SignedAnnouncement> {
    const auto frame =
        monitor::encode(monitor::Sign{features, share, key.modulus_mpi, key.exponent_mpi});
    if (frame.empty() || !io::write_all(fd, frame, kFrameTimeout)) return std::nullopt;
    auto s = read_frame(fd, buf, kFrameTimeout, monitor::decode_signed);
    if (!s || s->message.host_key == monitor::Key32{}) return std::nullopt;
    return session::SignedAnnouncement{s->message.nonce, s->message.host_key, s->message.signature};
  };
  auto confine = [&] {
    auto ok = confine_prelogin(o.confinement);
    if (!ok) spdlog::error("pre-login process: {}", ok.error());
    return ok.has_value();
  };
  auto handed = session::serve_bbftp_prelogin(conn, o.server, ask, confine, sign);
  if (!handed) return 0;
  std::optional<monitor::Channel> channel;
  if (const auto& c = handed->channel) {
    channel = monitor::Channel{c->features(),      c->opener().key(), c->opener().iv(),
                               c->opener().next(), c->sealer().key(), c->sealer().iv(),
                               c->sealer().next(), c->data_key()};
  }
  const auto frame =
      monitor::encode(monitor::HandOver{handed->clear_text, handed->pending, channel});
  if (frame.empty()) {
    spdlog::warn("more than {} bytes sent past the login before its answer: closed",
                 monitor::kMaxPending);
    return 1;
  }
  return io::write_all(fd, frame, kFrameTimeout) ? 0 : 1;
}

// --- the monitor --------------------------------------------------------------------------

struct Accepted {
  LoginAccount account;
  std::optional<storage::Sandbox> sandbox;  // confined users: opened here, before the drop
};

class Monitor {
 public:
  Monitor(int conn, ListenerLink& link, Millis failure_delay, const MonitorOptions& o)
      : link_(link), failure_delay_(failure_delay), o_(o) {
    if (auto a = io::SocketAddress::of_peer(conn)) {
      host_ = a->host();
      port_ = a->port();
    }
  }

  // Answers the pre-login process; returns what to serve when it handed a login over.
  std::optional<std::pair<Accepted, session::HandedOver>> answer(int fd) {
    std::vector<std::byte> buf;
    std::optional<Accepted> accepted;
    bool asked = false;
    // The client's whole login happens within the deadline, the check (its failure time and
    // delay included) after it; log lines do not extend it.
    const auto until =
        std::chrono::steady_clock::now() + o_.server.login_deadline + std::chrono::seconds(30);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<io::Timeout>(until - std::chrono::steady_clock::now());
      if (left <= io::Timeout(0)) return violation("nothing conclusive within its deadline");
      auto d = read_frame(fd, buf, std::min(left, asked ? kFrameTimeout : left),
                          monitor::decode_request);
      if (!d) {
        if (d.error() != monitor::Errc::need_more || !buf.empty()) {
          spdlog::error("connection from {} port {}: the pre-login process sent a {}: ended", host_,
                        port_, monitor::to_string(d.error()));
        }
        return std::nullopt;  // it ended (closed, refused, late), or it broke the protocol
      }
      if (auto* line = std::get_if<monitor::LogLine>(&d->message)) {
        relay(*line);
        continue;
      }
      if (auto* sign = std::get_if<monitor::Sign>(&d->message)) {
        if (signed_ || asked) return violation("a second or late announcement to sign");
        signed_ = true;
        // No signature (the key unreadable): an all-zero answer, and the connection is served
        // without the extension.
        const auto answer = sign_announcement(*sign).value_or(monitor::Signed{});
        if (!io::write_all(fd, monitor::encode(answer), kFrameTimeout)) return std::nullopt;
        continue;
      }
      if (auto* c = std::get_if<monitor::CheckLogin>(&d->message)) {
        if (asked) return violation("a second login check");
        asked = true;
        accepted = decide(*c);
        wipe(c->password);
        const auto outcome = accepted ? monitor::Outcome::accepted : refused_as_;
        if (!io::write_all(fd, monitor::encode(monitor::Verdict{outcome}), kFrameTimeout)) {
          return std::nullopt;
        }
        continue;
      }
      auto& h = std::get<monitor::HandOver>(d->message);
      if (!accepted) return violation("a hand-over without an accepted login");
      if (h.channel && !signed_) return violation("a sealed channel without an announcement");
      session::HandedOver state{h.clear_text, std::move(h.pending), std::nullopt};
      if (const auto& c = h.channel) {
        state.channel.emplace(crypto::RecordSealer(c->s2c_key, c->s2c_iv, c->s2c_next),
                              crypto::RecordSealer(c->c2s_key, c->c2s_iv, c->c2s_next), c->data_key,
                              c->features);
      }
      return std::make_pair(std::move(*accepted), std::move(state));
    }
  }

 private:
  // A pre-login line, in the monitor's words: the address it sees itself first, the text
  // escaped, at most a few per second, never above warning.
  void relay(const monitor::LogLine& line) {
    if (!log_limit_.allow(std::chrono::steady_clock::now())) return;
    const auto skipped = log_limit_.take_suppressed();
    const auto level = line.level == 0   ? spdlog::level::debug
                       : line.level == 1 ? spdlog::level::info
                                         : spdlog::level::warn;
    spdlog::log(level, "connection from {} port {}: pre-login: {}{}", host_, port_,
                printable(line.text, 400),
                skipped > 0 ? fmt::format(" ({} more lines not logged)", skipped) : "");
  }

  // The announcement, completed here: our own nonce, the layout and the context string are the
  // monitor's, so a compromised pre-login process gets one signature for this connection's
  // share and RSA key, nothing else (docs/protocol/bbftp-extended.md, section 4).
  std::optional<monitor::Signed> sign_announcement(const monitor::Sign& r) {
    if (o_.host_key_path.empty()) {
      violation("an announcement to sign, and the extension is off");
      return std::nullopt;
    }
    bbftp::ext::Announcement a;
    a.features = r.features;
    crypto::random_bytes(a.nonce);
    a.share = r.share;
    // The signature is made in a child of ours, which alone reads the key (host_key_process).
    auto signature = sign_with_host_key(o_.host_key_path, [&](const crypto::PublicKey& key) {
      a.host_key = key;
      bbftp::CryptKey ck{{bbftp::kCryptRsaOaep, static_cast<std::int32_t>(r.modulus_mpi.size()),
                          static_cast<std::int32_t>(r.exponent_mpi.size())},
                         r.modulus_mpi,
                         r.exponent_mpi,
                         bbftp::ext::encode(a)};
      return bbftp::ext::signed_bytes(ck);
    });
    if (!signature) {
      spdlog::error("connection from {} port {}: the host key: {}", host_, port_,
                    signature.error());
      return std::nullopt;
    }
    monitor::Signed out;
    out.nonce = a.nonce;
    out.host_key = signature->public_key;
    out.signature = signature->signature;
    return out;
  }

  std::nullopt_t violation(const char* what) {
    spdlog::error("connection from {} port {}: the pre-login process sent {}: ended", host_, port_,
                  what);
    return std::nullopt;
  }

  void refused(std::string_view user, std::string cause) {
    link_.login_failed();
    // The source's earlier failures make it wait longer (decided by the listener).
    std::this_thread::sleep_for(failure_delay_);
    if (failure_delay_.count() > 0) {
      cause += " (answered " + std::to_string(failure_delay_.count()) +
               " ms later for earlier failures from this address)";
    }
    // The address comes before anything the client chose, so a user name cannot forge it for a
    // log matcher (fail2ban: "login refused from <HOST> port").
    spdlog::warn("login refused from {} port {} for user \"{}\": {}", host_, port_,
                 printable(user, 64), cause);
    refused_as_ = monitor::Outcome::refused;
  }
  void not_served(std::string_view user, const std::string& cause, monitor::Outcome how) {
    spdlog::warn("login of user \"{}\" from {} port {} not served: {}", printable(user, 64), host_,
                 port_, cause);
    refused_as_ = how;
  }

  std::optional<Accepted> decide(const monitor::CheckLogin& c) {
    link_.checking();
    if (c.undecryptable) {
      (void)o_.policy->check("", "");  // the same time as any failure
      refused("", "the login message does not decrypt");
      return std::nullopt;
    }
    auto checked = o_.policy->check(c.user, c.password);
    if (!checked.account) {
      refused(c.user, checked.cause.empty() ? "refused" : checked.cause);
      return std::nullopt;
    }
    if (!link_.claim_session()) {
      not_served(c.user, "the sessions are full", monitor::Outcome::busy);
      return std::nullopt;
    }
    Accepted a{std::move(*checked.account), std::nullopt};
    if (a.account.confined) {
      storage::SandboxOptions so;
      so.policy.hide_temporaries = true;
      auto sb = storage::Sandbox::confined(a.account.root, so);
      if (!sb) {
        not_served(c.user, "root " + sb.error().message(), monitor::Outcome::not_served);
        return std::nullopt;
      }
      a.sandbox = std::move(*sb);
    }
    return a;
  }

  ListenerLink& link_;
  Millis failure_delay_;
  const MonitorOptions& o_;
  std::string host_;
  std::uint16_t port_ = 0;
  monitor::Outcome refused_as_ = monitor::Outcome::refused;
  bool signed_ = false;
  RateLimit log_limit_{5, 20};
};

// Waits for the pre-login process to end (it exits right after its last frame), killing it
// when it lingers. Says when it was killed for a forbidden system call.
void end_prelogin(pid_t pid) {
  const auto until = std::chrono::steady_clock::now() + kExitGrace;
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (r == 0) {
    ::kill(pid, SIGKILL);
    r = ::waitpid(pid, &status, 0);
  }
  if (r == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
    spdlog::error("pre-login process {} killed: a forbidden system call (seccomp)", pid);
  }
}

// Becomes the session: the user's or the service account's uid, confined, then serves.
void serve_session(UniqueFd conn, Accepted a, session::HandedOver state, const MonitorOptions& o) {
  const auto& acc = a.account;
  std::optional<SystemUser> become_who;
  if (!acc.confined) {
    become_who = acc.system;
  } else if (o.service) {
    become_who = as_system_user(*o.service);
  }
  (void)storage::openat2_available();  // probed before Landlock hides the working directory
  UniqueFd root_fd;
  if (acc.confined) {
    root_fd.reset(::open(acc.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) {
      spdlog::error("login of user \"{}\": cannot open root {}: {}", printable(acc.name, 64),
                    printable(acc.root), std::strerror(errno));
      return;
    }
  }
  if (become_who) {
    if (auto ok = become(*become_who); !ok) {
      spdlog::error("login of user \"{}\": cannot become {}: {}", printable(acc.name, 64),
                    become_who->name, ok.error());
      return;
    }
  }
  if (!a.sandbox) {
    storage::SandboxOptions so;
    so.policy.hide_temporaries = true;
    auto sb = storage::Sandbox::unconfined(acc.root, so);
    if (!sb) sb = storage::Sandbox::unconfined("/", so);
    if (!sb) {
      spdlog::error("login of user \"{}\": no working directory", printable(acc.name, 64));
      return;
    }
    a.sandbox = std::move(*sb);
  }
  if (auto ok = confine_session(o.confinement, root_fd.get()); !ok) {
    spdlog::error("login of user \"{}\": cannot confine the session: {}", printable(acc.name, 64),
                  ok.error());
    return;
  }
  session::serve_bbftp_session(std::move(conn), o.server, std::move(*a.sandbox), acc.name,
                               std::move(state));
}

}  // namespace

void serve_monitored(UniqueFd connection, ListenerLink link, Millis failure_delay,
                     const MonitorOptions& options) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    spdlog::error("socketpair: {}", std::strerror(errno));
    return;
  }
  UniqueFd mine(pair[0]), theirs(pair[1]);
  const pid_t monitor_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    mine.reset();
    link.close();  // only the monitor speaks to the listener
    const int rc = run_prelogin(connection.get(), std::move(theirs), monitor_pid, options);
    spdlog::default_logger()->flush();  // _exit runs no destructor
    ::_exit(rc);
  }
  theirs.reset();
  if (pid < 0) {
    spdlog::error("fork: {}", std::strerror(errno));
    return;
  }
  auto handed = Monitor(connection.get(), link, failure_delay, options).answer(mine.get());
  mine.reset();
  // Whatever comes next (a session, or nothing), this process no longer needs the hashes.
  if (options.policy != nullptr) options.policy->forget();
  end_prelogin(pid);
  if (!handed) return;
  link.close();
  serve_session(std::move(connection), std::move(handed->first), std::move(handed->second),
                options);
}

}  // namespace ferry::daemon
