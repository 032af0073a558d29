// bbftpd: the bbftp daemon. Options follow the real bbftpd; long options add what it lacks.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/signals.hpp"
#include "core/version.hpp"
#include "daemon/auth.hpp"
#include "daemon/rcfile.hpp"
#include "io/socket.hpp"
#include "session/bbftp_server.hpp"

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
  int max_connections = 64;
  std::string pid_file;
  bool no_fixed_data_port = false;
  std::string system_auth = "auto";
};

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

bool parse_range(const std::string& text, std::uint16_t& first, std::uint16_t& last) {
  unsigned a = 0, b = 0;
  char colon = 0;
  std::istringstream in(text);
  if (!(in >> a >> colon >> b) || colon != ':' || a == 0 || b < a || b > 65535) return false;
  first = static_cast<std::uint16_t>(a);
  last = static_cast<std::uint16_t>(b);
  return true;
}

std::string status_text(const Settings& s) {
  std::ostringstream out;
  out << "bbftpd (" << ferry::kProjectName << ") " << ferry::kVersion << "\n"
      << "compression: zlib\nencryption: OpenSSL RSA-OAEP\nmax streams: " << s.max_streams
      << "\ndata ports: " << (s.data_ports.empty() ? "ephemeral" : s.data_ports)
      << "\nclear-text login: " << (s.clear_text ? "allowed" : "refused") << "\n";
  return out.str();
}

// Per-connection process: never returns.
[[noreturn]] void serve_child(ferry::UniqueFd conn, const BbftpServerOptions& options) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
  ferry::session::serve_bbftp_connection(std::move(conn), options);
  spdlog::default_logger()->flush();
  ::_exit(0);
}

int run_listener(const Settings& s, const BbftpServerOptions& options) {
  auto where = ferry::io::resolve(s.listen, s.port, true);
  if (!where) {
    spdlog::critical("{}", where.error().message());
    return 1;
  }
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io);
  const auto& addr = where->front();
  auto listener = ferry::io::listen_tcp(addr);
  if (!listener) {
    spdlog::critical("{}", listener.error().message());
    return 1;
  }
  acceptor.assign(addr.family() == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(),
                  listener->release());
  const auto bound = ferry::io::SocketAddress::of_local(acceptor.native_handle());
  spdlog::info("bbftpd {} listening on {}", ferry::kVersion,
               bound ? bound->to_string() : addr.to_string());
  if (s.background) {
    if (::daemon(0, 0) != 0) {
      spdlog::critical("cannot go to the background: {}", std::strerror(errno));
      return 1;
    }
  }
  if (!s.pid_file.empty()) std::ofstream(s.pid_file) << ::getpid() << '\n';

  int children = 0;
  asio::signal_set reaper(io, SIGCHLD);
  std::function<void()> reap = [&] {
    reaper.async_wait([&](const std::error_code& ec, int) {
      if (ec) return;
      while (::waitpid(-1, nullptr, WNOHANG) > 0) --children;
      reap();
    });
  };
  reap();
  ferry::app::SignalWatcher signals(io, [&](int sig) {
    spdlog::info("signal {}: stopping (running sessions finish on their own)", sig);
    acceptor.close();
    io.stop();
  });

  std::function<void()> accept = [&] {
    acceptor.async_accept([&](const std::error_code& ec, asio::ip::tcp::socket sock) {
      if (ec) {
        if (ec != asio::error::operation_aborted) {
          spdlog::warn("accept: {}", ec.message());
          accept();
        }
        return;
      }
      ferry::UniqueFd conn(sock.release());
      if (children >= s.max_connections) {
        spdlog::warn("connection refused: {} sessions already running", children);
      } else {
        // After fork() parent and child share the epoll set: the child must get its own before
        // it closes anything Asio registered, or it would unregister the parent's listener.
        io.notify_fork(asio::io_context::fork_prepare);
        const pid_t pid = ::fork();
        if (pid == 0) {
          io.notify_fork(asio::io_context::fork_child);
          acceptor.close();
          serve_child(std::move(conn), options);
        }
        io.notify_fork(asio::io_context::fork_parent);
        if (pid < 0) spdlog::error("fork: {}", std::strerror(errno));
        if (pid > 0) ++children;
      }
      accept();
    });
  };
  accept();
  io.run();
  if (!s.pid_file.empty()) ::unlink(s.pid_file.c_str());
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
  app.add_option("--max-connections", s.max_connections, "Most sessions at once")
      ->capture_default_str();
  app.add_option("--pid-file", s.pid_file, "Write the listener's pid to FILE");
  app.add_flag("-f,--no-fixed-data-port", s.no_fixed_data_port,
               "Protocol 2: connect from ephemeral ports (always the case here)");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;

  if (!s.add_user.empty()) return add_user(s);
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

  BbftpServerOptions options;
  options.protocol.version = std::string(ferry::kVersion) + "-ferry";
  options.protocol.min_protocol = 1;  // like the real daemon: PROT_ANS says 1..3
  options.protocol.max_streams = s.max_streams;
  options.protocol.allow_clear_text = s.clear_text;
  options.protocol.allow_status = s.status;
  if (s.clear_text)
    spdlog::warn(
        "clear-text logins are allowed (-u): passwords may cross the "
        "network unencrypted");
  if (!s.data_ports.empty() &&
      !parse_range(s.data_ports, options.data_port_first, options.data_port_last)) {
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
  }

  if (!s.password_file.empty()) {
    auto users = ferry::daemon::PasswordFile::load(s.password_file);
    if (!users) {
      std::cerr << "bbftpd: " << users.error() << '\n';
      return 2;
    }
    options.login = [users = std::move(*users)](
                        std::string_view user,
                        std::string_view pass) -> std::optional<ferry::storage::Sandbox> {
      const auto* e = users.find(user);
      if (e == nullptr) {
        ferry::daemon::spend_check_time(pass);
        return std::nullopt;
      }
      if (!ferry::daemon::password_matches(pass, e->hash)) return std::nullopt;
      auto sb = ferry::storage::Sandbox::confined(e->root);
      if (!sb) {
        spdlog::error("user {}: root {}", e->user, sb.error().message());
        return std::nullopt;
      }
      return std::move(*sb);
    };
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
    options.login = [how](std::string_view user,
                          std::string_view pass) -> std::optional<ferry::storage::Sandbox> {
      auto account = ferry::daemon::check_system_account(user, pass, how);
      if (!account) return std::nullopt;
      if (auto ok = ferry::daemon::become(*account); !ok) {
        spdlog::error("user {}: {}", account->name, ok.error());
        return std::nullopt;
      }
      auto sb = ferry::storage::Sandbox::unconfined(account->home);
      if (!sb) sb = ferry::storage::Sandbox::unconfined("/");
      if (!sb) return std::nullopt;
      return std::move(*sb);
    };
  }
  options.status_text = [s] { return status_text(s); };

  if (inetd) {
    // Started by inetd/systemd socket activation: the connection is on standard input.
    ferry::session::serve_bbftp_connection(ferry::UniqueFd(::dup(STDIN_FILENO)), options);
    return 0;
  }
  return run_listener(s, options);
}
