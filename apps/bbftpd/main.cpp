// bbftpd: the bbftp daemon. Options follow the real bbftpd; long options add what it lacks.
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/signals.hpp"
#include "core/version.hpp"
#include "daemon/auth.hpp"
#include "daemon/host_key_process.hpp"
#include "daemon/listener.hpp"
#include "daemon/login_policy.hpp"
#include "daemon/monitor.hpp"
#include "daemon/rcfile.hpp"
#include "proto/bbftp/replies.hpp"
#include "session/bbftp/server.hpp"

namespace {

using ferry::session::BbftpServerOptions;

struct Settings {
  ferry::app::LogOptions log{.level = "info", .target = {}, .ident = "bbftpd"};
  bool background = false;
  bool foreground = false;
  std::uint16_t port = 5021;
  std::string listen = "0.0.0.0";
  std::string data_ports;
  int max_streams = 25;
  bool clear_text = false;
  bool status = false;
  std::string rc_file;
  std::string password_file;
  std::string add_user;
  std::string add_root;
  ferry::daemon::AdmissionLimits limits;
  int login_deadline_s = 20;
  int login_failure_ms = 250;
  std::string data_peer_check = "strict";
  int data_socket_buffer_kb = 0;
  std::string pid_file;
  bool no_fixed_data_port = false;
  std::string system_auth = "auto";
  std::string prelogin_user = "bbftpd-prelogin";
  std::string service_user = "bbftpd";
  std::string landlock;
  std::string seccomp;
  bool ssh = false;
  int check_stdin_timeout_s = 300;
  std::string state_dir = "/var/lib/ferry";
  std::string extension = "on";
  long partial_expiry_s = 7 * 24 * 3600;
};

// The extension's host key, made at the first start: the state directory (0700) holds it,
// readable by root (the monitors) only. Its fingerprint goes to the log, for users to compare.
std::optional<std::string> prepare_host_key(const Settings& s) {
  if (::mkdir(s.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::cerr << "bbftpd: state directory " << s.state_dir << ": " << std::strerror(errno)
              << " (give another with --state-dir, or --extension off)\n";
    return std::nullopt;
  }
  const std::string path = s.state_dir + "/host_ed25519";
  // Made or read in a child process: this one forks every connection's processes.
  auto fingerprint = ferry::daemon::prepare_host_key(path);
  if (!fingerprint) {
    std::cerr << "bbftpd: host key: " << fingerprint.error() << '\n';
    return std::nullopt;
  }
  spdlog::info("host key {} ({})", *fingerprint, path);
  return path;
}

std::string read_password_from_stdin() {
  termios old{};
  const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    std::cerr << "Password: " << std::flush;
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string pw;
  std::getline(std::cin, pw);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << '\n';
  }
  return pw;
}

int add_user(const Settings& s) {
  if (s.password_file.empty() || s.add_root.empty()) {
    std::cerr << "bbftpd: --add-user needs --password-file FILE and --root DIR\n";
    return 2;
  }
  const std::string pw = read_password_from_stdin();
  if (pw.empty()) {
    std::cerr << "bbftpd: empty password refused\n";
    return 2;
  }
  const std::string hash = ferry::daemon::hash_password(pw);
  if (hash.empty()) {
    std::cerr << "bbftpd: crypt(3) could not hash the password\n";
    return 1;
  }
  auto ok = ferry::daemon::set_password_entry(s.password_file, {s.add_user, hash, s.add_root});
  if (!ok) {
    std::cerr << "bbftpd: " << ok.error() << '\n';
    return 1;
  }
  std::cout << "user " << s.add_user << " (root " << s.add_root << ") written to "
            << s.password_file << '\n';
  return 0;
}

std::string status_text(const Settings& s) {
  std::ostringstream out;
  out << "bbftpd (" << ferry::kProjectName << ") " << ferry::kVersion << "\n"
      << "compression: zlib\nencryption: OpenSSL RSA-OAEP\nmax streams: " << s.max_streams
      << "\ndata ports: " << (s.data_ports.empty() ? "ephemeral" : s.data_ports)
      << "\nclear-text login: " << (s.clear_text ? "allowed" : "refused") << "\n";
  return out.str();
}

// bbftpd -s, as the real daemon: run by sshd as the user who logged in with ssh, so there is no
// login, no privilege to give up and no account to change to; the files are the user's, from the
// directory ssh started us in. The client proves its address with a check connection first.
int serve_ssh_mode(const Settings& s, const BbftpServerOptions& options) {
  const passwd* pw = ::getpwuid(::getuid());
  const std::string user = pw != nullptr ? pw->pw_name : "UID " + std::to_string(::getuid());
  auto here = ferry::storage::Sandbox::unconfined(".");
  if (!here) {
    spdlog::error("ssh mode: the current directory: {}", here.error().message());
    return 1;
  }
  auto peer = ferry::session::bbftp_ssh_check(STDOUT_FILENO, options,
                                              std::chrono::seconds(s.check_stdin_timeout_s));
  if (!peer) {
    spdlog::error("ssh mode: {}; user {} disconnected", peer.error(), user);
    return 1;
  }
  ferry::session::serve_bbftp_ssh_session(STDIN_FILENO, STDOUT_FILENO, options, std::move(*here),
                                          user, *peer);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bbftpd: bbftp daemon (protocols 1, 2 and 3), compatible with bbftp 3.x clients",
               "bbftpd"};
  Settings s;
  ferry::app::add_version_flag(app, "bbftpd");
  ferry::app::add_config_option(app);
  ferry::app::add_logging_options(app, s.log);
  app.add_flag("-b,--background", s.background, "Run as a daemon in the background");
  app.add_flag("-s,--ssh", s.ssh,
               "ssh mode: started by ssh as the user (bbftp -s); the control connection is "
               "standard input and output");
  app.add_flag("--foreground", s.foreground,
               "Listen in the foreground, logging to standard error (for tests and systemd)");
  app.add_option("-w,--port", s.port, "Control port")->capture_default_str();
  app.add_option("--listen", s.listen, "Address to listen on (IPv4 or IPv6)")
      ->capture_default_str();
  app.add_option("-e,--data-ports", s.data_ports, "Passive data port range P0:P1");
  app.add_option("-m,--max-streams", s.max_streams, "Most data streams per transfer")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_flag("-u,--allow-clear-text", s.clear_text,
               "Accept clear-text logins (passwords then cross the network unencrypted)");
  app.add_flag("--allow-status", s.status, "Answer MSG_SERVER_STATUS before login");
  app.add_option("-R,--rc-file", s.rc_file, "Real bbftpd rc file (setdatato, setackto, ...)");
  app.add_option("--password-file", s.password_file,
                 "Users of our own (user:crypt-hash:root lines), confined to their roots; "
                 "without it, system accounts (needs root)");
  app.add_option("--add-user", s.add_user,
                 "Add or update USER in --password-file (password read from standard input) "
                 "with --root DIR, then exit");
  app.add_option("--root", s.add_root, "Served root of the user given to --add-user");
  app.add_option("--system-auth", s.system_auth,
                 "System accounts: pam (service 'bbftp'), shadow (crypt(3)), or auto (PAM when "
                 "built with it)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "pam", "shadow"}));
  app.add_option("--max-connections", s.limits.max_sessions, "Most logged-in sessions at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-prelogin", s.limits.max_prelogin,
                 "Most connections not logged in yet, in all (apart from the sessions)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-prelogin-per-source", s.limits.max_prelogin_per_source,
                 "Most connections not logged in yet from one address")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--login-deadline", s.login_deadline_s,
                 "Seconds a connection has to log in, in all (not per read)")
      ->capture_default_str()
      ->check(CLI::Range(1, 150));
  app.add_option("--login-failure-time", s.login_failure_ms,
                 "Milliseconds every failed login takes, whatever the cause")
      ->capture_default_str()
      ->check(CLI::Range(10, 10000));
  int failure_delay_ms = static_cast<int>(s.limits.first_delay.count());
  app.add_option("--failure-delay", failure_delay_ms,
                 "Milliseconds a source waits after its first failed login, doubled after each "
                 "further failure (up to 8 s)")
      ->capture_default_str()
      ->check(CLI::Range(0, 8000));
  app.add_option("--ban-after", s.limits.ban_after,
                 "Failed logins after which a source is refused for --ban-time seconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  int ban_time_s = static_cast<int>(s.limits.ban_for.count());
  app.add_option("--ban-time", ban_time_s, "Seconds a banned source stays refused")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--data-peer-check", s.data_peer_check,
                 "Passive data ports accept only the client's address (strict), or anyone (off: "
                 "clients behind TCP proxies or NAT with several addresses)")
      ->capture_default_str()
      ->check(CLI::IsMember({"strict", "off"}));
  app.add_option("--data-socket-buffer", s.data_socket_buffer_kb,
                 "SO_SNDBUF and SO_RCVBUF of data sockets, in KB (0: the kernel autotunes)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--prelogin-user", s.prelogin_user,
                 "As root: the account each connection's pre-login process runs as")
      ->capture_default_str();
  app.add_option("--service-user", s.service_user,
                 "As root with --password-file: the account the users' sessions run as (it owns "
                 "their files)")
      ->capture_default_str();
  const auto confinement = ferry::daemon::default_confinement();
  s.landlock = confinement.landlock ? "on" : "off";
  s.seccomp = confinement.seccomp ? "on" : "off";
  app.add_option("--landlock", s.landlock,
                 "Confine pre-login processes to no file system and password-file sessions to "
                 "their root (Landlock)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--seccomp", s.seccomp,
                 "System-call allow-lists for pre-login and session processes (a forbidden call "
                 "kills the process)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--pid-file", s.pid_file, "Write the listener's pid to FILE");
  app.add_option("--state-dir", s.state_dir,
                 "Directory of the daemon's own state (the extension's host key)")
      ->capture_default_str();
  app.add_option("--extension", s.extension,
                 "Announce the bbftp extension to our clients (identity, sealed login and "
                 "control channel, proven data streams); real bbftp clients never see it")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--partial-expiry", s.partial_expiry_s,
                 "Seconds after which partial data kept for the extension's resume (an "
                 "interrupted put) is removed, at a login of its user")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("-f,--no-fixed-data-port", s.no_fixed_data_port,
               "Protocol 2: connect from ephemeral ports (always the case here)");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  s.limits.first_delay = std::chrono::milliseconds(failure_delay_ms);
  s.limits.ban_for = std::chrono::seconds(ban_time_s);

  if (!s.add_user.empty()) return add_user(s);
  // ssh mode: the user's own process, its standard error the user's terminal: only problems.
  if (s.ssh && app.count("--log-level") == 0) s.log.level = "warning";
  const bool inetd = !s.background && !s.foreground;
  if (s.background && s.log.target.empty()) s.log.target = "syslog";
  if (inetd && s.log.target.empty()) s.log.target = "syslog";
  try {
    ferry::app::setup_logging(s.log);
  } catch (const std::exception& e) {
    std::cerr << "bbftpd: " << e.what() << '\n';
    return 2;
  }
  ferry::app::ignore_sigpipe();
  // The time zone is read now: confined processes can open no file to read it later.
  ::tzset();

  BbftpServerOptions options;
  options.protocol.version = std::string(ferry::kVersion) + "-ferry";
  options.protocol.min_protocol = 1;  // like the real daemon: PROT_ANS says 1..3
  options.protocol.max_streams = s.max_streams;
  options.protocol.allow_clear_text = s.clear_text;
  options.protocol.allow_status = s.status;
  options.data_peer_check = s.data_peer_check == "strict";
  options.socket_buffer_bytes = s.data_socket_buffer_kb * 1024;
  options.login_deadline = std::chrono::seconds(s.login_deadline_s);
  options.partial_expiry = std::chrono::seconds(s.partial_expiry_s);
  if (s.clear_text)
    spdlog::warn(
        "clear-text logins are allowed (-u): passwords may cross the "
        "network unencrypted");
  if (!s.data_ports.empty() && !ferry::app::parse_port_range(s.data_ports, options.data_port_first,
                                                             options.data_port_last)) {
    std::cerr << "bbftpd: -e wants a port range P0:P1, got '" << s.data_ports << "'\n";
    return 2;
  }
  if (!s.rc_file.empty()) {
    std::ifstream in(s.rc_file);
    if (!in) {
      std::cerr << "bbftpd: cannot read rc file " << s.rc_file << '\n';
      return 2;
    }
    std::ostringstream text;
    text << in.rdbuf();
    const auto rc = ferry::daemon::parse_rc(text.str());
    for (const auto& w : rc.warnings) spdlog::warn("{}: {}", s.rc_file, w);
    using std::chrono::seconds;
    if (rc.ack_timeout) options.ack = seconds(*rc.ack_timeout);
    if (rc.recv_control_timeout) options.control = seconds(*rc.recv_control_timeout);
    if (rc.data_timeout) options.data = seconds(*rc.data_timeout);
    if (rc.check_stdin_timeout) s.check_stdin_timeout_s = *rc.check_stdin_timeout;
  }
  if (s.ssh) return serve_ssh_mode(s, options);

  std::optional<ferry::daemon::LoginPolicy> policy;
  const std::chrono::milliseconds failure_time(s.login_failure_ms);
  if (!s.password_file.empty()) {
    auto users = ferry::daemon::PasswordFile::load(s.password_file);
    if (!users) {
      std::cerr << "bbftpd: " << users.error() << '\n';
      return 2;
    }
    policy = ferry::daemon::LoginPolicy::password_file(std::move(*users), failure_time);
  } else {
    if (::geteuid() != 0) {
      std::cerr << "bbftpd: system accounts need root; run as root or give --password-file\n";
      return 2;
    }
    const auto how = s.system_auth == "pam"      ? ferry::daemon::SystemAuth::pam
                     : s.system_auth == "shadow" ? ferry::daemon::SystemAuth::shadow
                                                 : ferry::daemon::SystemAuth::automatic;
    if (how == ferry::daemon::SystemAuth::pam && !ferry::daemon::pam_available()) {
      std::cerr << "bbftpd: this build has no PAM support\n";
      return 2;
    }
    policy = ferry::daemon::LoginPolicy::system_accounts(how, failure_time);
  }
  options.status_text = [s] { return status_text(s); };

  ferry::daemon::MonitorOptions monitor;
  monitor.policy = &*policy;
  monitor.confinement = {s.landlock == "on", s.seccomp == "on"};
  if (::geteuid() == 0) {
    // Root parses nothing from clients itself: the accounts must exist before it listens.
    auto pre = ferry::daemon::find_account(s.prelogin_user);
    if (!pre) {
      std::cerr << "bbftpd: pre-login account: " << pre.error() << '\n';
      return 2;
    }
    monitor.prelogin = std::move(*pre);
    if (!s.password_file.empty()) {
      if (s.service_user == s.prelogin_user) {
        std::cerr << "bbftpd: --service-user and --prelogin-user must be different accounts\n";
        return 2;
      }
      auto svc = ferry::daemon::find_account(s.service_user);
      if (!svc) {
        std::cerr << "bbftpd: service account: " << svc.error() << '\n';
        return 2;
      }
      monitor.service = std::move(*svc);
    }
  }
  if (s.extension == "on") {
    auto path = prepare_host_key(s);
    if (!path) return 2;
    monitor.host_key_path = *path;
    options.protocol.extension = true;
  }
  monitor.server = options;
  auto serve = [&](ferry::UniqueFd conn, ferry::daemon::ListenerLink link,
                   ferry::daemon::Millis failure_delay) {
    ferry::daemon::serve_monitored(std::move(conn), std::move(link), failure_delay, monitor);
  };
  if (inetd) {
    // Started by inetd/systemd socket activation: the connection is on standard input.
    serve(ferry::UniqueFd(::dup(STDIN_FILENO)), ferry::daemon::ListenerLink(),
          ferry::daemon::Millis(0));
    return 0;
  }
  ferry::daemon::ListenerOptions lo;
  lo.listen = s.listen;
  lo.port = s.port;
  lo.limits = s.limits;
  lo.login_deadline = std::chrono::seconds(s.login_deadline_s);
  lo.login_failure_time = std::chrono::milliseconds(s.login_failure_ms);
  lo.background = s.background;
  lo.pid_file = s.pid_file;
  lo.program = std::string("bbftpd ") + ferry::kVersion;
  auto refusal = ferry::session::bbftp_refusal_bytes();
  lo.refusals = {std::move(refusal.greeting), refusal.login_bytes, std::move(refusal.busy),
                 std::move(refusal.banned)};
  return ferry::daemon::run_listener(lo, serve);
}
