// xftp: the XFTP client. xftp [options] HOST[:PORT] COMMAND ARGS...
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/progress.hpp"
#include "client/xftp/cli.hpp"
#include "client/xftp/commands.hpp"
#include "crypto/xftp_keys.hpp"
#include "session/xftp/client.hpp"

namespace {

namespace exit_code = ferry::client::xftp_exit;
using ferry::session::XftpClient;
using ferry::session::XftpClientError;

std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) {
  g_stop.store(true);
}

constexpr const char* kFooter = R"(Commands:
  ls [PATH]              list a remote directory (directories end with '/')
  get REMOTE [LOCAL]     download; LOCAL defaults to REMOTE's name in the current directory
  put LOCAL [REMOTE]     upload; REMOTE defaults to /NAME, a REMOTE ending with '/' gets NAME
  rm PATH                delete a remote file or empty directory
  mkdir PATH             create a remote directory
  mv SRC DST             rename a remote file or directory

Exit status: 0 success, 2 usage, 3 not found, 4 already exists, 5 refused as invalid,
6 server error, 7 no reply or transfer interrupted, 8 local file error, 130 interrupted,
1 anything else.)";

int fail(const std::string& what, const XftpClientError& e) {
  std::cerr << "xftp: " << what << ": " << e.message << '\n';
  return ferry::client::exit_code_for(e);
}

int usage(const std::string& message) {
  std::cerr << "xftp: " << message << " (see xftp --help)\n";
  return exit_code::usage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xftp: XFTP file transfer client (UDP)", "xftp"};
  app.footer(kFooter);
  ferry::app::add_version_flag(app, "xftp");
  ferry::app::add_config_option(app);
  ferry::app::LogOptions log{.level = "warning", .target = {}, .ident = "xftp"};
  add_logging_options(app, log);
  std::uint16_t port = 2333;
  int timeout_s = 30;
  bool quiet = false;
  bool no_progress = false;
  bool legacy = false;
  std::string target;
  std::string command;
  std::vector<std::string> args;
  app.add_option("-P,--port", port, "Server port when HOST has none")->capture_default_str();
  app.add_option("-t,--timeout", timeout_s, "Seconds to wait for a reply or for transfer data")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  int busy_poll_us = 50;
  app.add_option("--busy-poll", busy_poll_us,
                 "Microseconds to poll for each datagram before sleeping (0: never poll)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_flag("-q,--quiet", quiet, "Print nothing but errors and listings");
  app.add_flag("--no-progress", no_progress, "No progress line (it is shown only on a terminal)");
  bool no_resume = false;
  app.add_flag("--no-resume", no_resume,
               "Extended mode: send the whole file again instead of continuing from what an "
               "interrupted put or get delivered");
  app.add_flag("--legacy", legacy,
               "Speak the original XFTP protocol (magic 0xCF) only (by default extended mode is "
               "tried first, and legacy used when the server does not answer it)");
  std::string key_file;
  app.add_option("--key-file", key_file,
                 "Shared key (32 bytes or more, the server's --key-file): every datagram sealed; "
                 "no fallback to legacy. Default: $XFTP_KEY_FILE");
  app.add_option("target", target, "Server as HOST[:PORT] (names, IPv4, [IPv6])")->required();
  app.add_option("command", command, "ls, get, put, rm, mkdir or mv")
      ->required()
      ->check(CLI::IsMember({"ls", "get", "put", "rm", "mkdir", "mv"}));
  app.add_option("args", args, "The command's arguments");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "xftp: " << e.what() << '\n';
    return exit_code::usage;
  }

  auto where = ferry::client::parse_xftp_target(target);
  if (!where) return usage("'" + target + "' is not HOST[:PORT]");
  const std::size_t min_args = command == "ls" ? 0 : command == "mv" ? 2 : 1;
  const std::size_t max_args = command == "ls" || command == "rm" || command == "mkdir" ? 1 : 2;
  if (args.size() < min_args || args.size() > max_args) {
    return usage(command + " takes " +
                 (min_args == max_args
                      ? std::to_string(min_args)
                      : std::to_string(min_args) + " or " + std::to_string(max_args)) +
                 " argument(s)");
  }

  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  ferry::session::XftpClientOptions options;
  options.timeout = std::chrono::seconds(timeout_s);
  options.stop = &g_stop;
  options.busy_poll = std::chrono::microseconds(busy_poll_us);
  options.legacy = legacy;
  options.resume = !no_resume;
  if (key_file.empty()) {
    if (const char* env = std::getenv("XFTP_KEY_FILE"); env != nullptr) key_file = env;
  }
  if (!key_file.empty()) {
    if (legacy) return usage("--legacy cannot be keyed: drop --key-file (or XFTP_KEY_FILE)");
    auto key = ferry::crypto::read_xftp_key_file(key_file);
    if (!key) {
      std::cerr << "xftp: " << key.error() << '\n';
      return exit_code::usage;
    }
    options.key = std::move(*key);
  }
  auto client = XftpClient::open(where->host, where->port.value_or(port), options);
  if (!client) return fail(target, client.error());
  // On a terminal, a progress line per transfer on stderr, left as its record when it ends.
  std::optional<ferry::app::ProgressBar> bar;
  ferry::client::XftpCommandIo io{std::cout, std::cerr, {}};
  if (!quiet && !no_progress && ferry::app::ProgressBar::terminal()) {
    io.display.begin = [&bar](const std::string& file, std::optional<std::uint64_t> size) {
      bar.emplace(file, size, true);
    };
    io.display.progress = [&bar](std::uint64_t moved, std::optional<std::uint64_t>) {
      if (bar) bar->update(moved);
    };
    io.display.end = [&bar](bool ok, std::uint64_t moved) {
      if (bar && ok) bar->finish(moved);
      if (bar && !ok) bar->abandon();
      bar.reset();
    };
  }
  return ferry::client::run_xftp_command(*client, command, args, io);
}
