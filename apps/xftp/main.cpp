// xftp: the XFTP client. xftp [options] HOST[:PORT] COMMAND ARGS...
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/progress.hpp"
#include "client/xftp_cli.hpp"
#include "session/xftp_client.hpp"
#include "storage/sandbox.hpp"

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

XftpClientError local_error(std::string message) {
  return {XftpClientError::Kind::local_file, {}, 0, std::move(message)};
}

int usage(const std::string& message) {
  std::cerr << "xftp: " << message << " (see xftp --help)\n";
  return exit_code::usage;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int list(XftpClient& client, const std::string& path) {
  auto listing = client.list(path);
  if (!listing) return fail("ls " + path, listing.error());
  std::sort(listing->dirs.begin(), listing->dirs.end());
  std::sort(listing->files.begin(), listing->files.end());
  for (const auto& d : listing->dirs) std::cout << d << "/\n";
  for (const auto& f : listing->files) std::cout << f << '\n';
  return exit_code::ok;
}

int get(XftpClient& client, const std::string& remote, const std::string& local_arg,
        bool progress) {
  const auto local = ferry::client::local_name_for_get(remote, local_arg, is_directory(local_arg));
  if (local.empty()) return usage("get " + remote + ": not a file name");
  auto here = ferry::storage::Sandbox::unconfined(".");
  if (!here) return fail("get", local_error(here.error().message()));
  auto writer = here->create(local, {.collision = ferry::storage::Collision::replace});
  if (!writer) return fail("get " + remote, local_error(writer.error().message()));
  // Legacy mode never tells the size of a download: bytes and rate, no percentage.
  ferry::app::ProgressBar bar(local, std::nullopt, progress);
  auto got = client.download(remote, *writer, [&](std::uint64_t n) { bar.update(n); });
  if (!got) {
    bar.abandon();
    return fail("get " + remote, got.error());  // the writer removes its temporary file
  }
  if (auto c = writer->commit(); !c) {
    bar.abandon();
    return fail("get " + remote, local_error(c.error().message()));
  }
  bar.finish(*got);
  return exit_code::ok;
}

int put(XftpClient& client, const std::string& local, const std::string& remote_arg,
        bool progress) {
  auto here = ferry::storage::Sandbox::unconfined(".");
  if (!here) return fail("put", local_error(here.error().message()));
  auto st = here->stat(local);
  if (!st) return fail("put", local_error(st.error().message()));
  if (st->type != ferry::storage::FileType::regular) {
    return fail("put " + local, local_error("not a regular file"));
  }
  auto file = here->open_read(local);
  if (!file) return fail("put", local_error(file.error().message()));
  const auto remote = ferry::client::remote_name_for_put(local, remote_arg);
  ferry::app::ProgressBar bar(local, st->size, progress);
  auto sent = client.upload(*file, remote, [&](std::uint64_t n) { bar.update(n); });
  if (!sent) {
    bar.abandon();
    return fail("put " + local + " " + remote, sent.error());
  }
  bar.finish(*sent);
  return exit_code::ok;
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
  app.add_flag("--legacy", legacy,
               "Speak the original XFTP protocol (magic 0xCF) only; the only mode of this version");
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
  const ferry::session::XftpClientOptions options{
      .timeout = std::chrono::seconds(timeout_s),
      .stop = &g_stop,
      .busy_poll = std::chrono::microseconds(busy_poll_us)};
  auto client = XftpClient::open(where->host, where->port.value_or(port), options);
  if (!client) return fail(target, client.error());
  const bool progress = !quiet && !no_progress && ferry::app::ProgressBar::terminal();
  const auto arg = [&](std::size_t i) { return i < args.size() ? args[i] : std::string(); };

  if (command == "ls") return list(*client, args.empty() ? "/" : args[0]);
  if (command == "get") return get(*client, arg(0), arg(1), progress);
  if (command == "put") return put(*client, arg(0), arg(1), progress);
  ferry::session::XftpResult<void> done;
  if (command == "rm") done = client->remove(arg(0));
  if (command == "mkdir") done = client->mkdir(arg(0));
  if (command == "mv") done = client->move(arg(0), arg(1));
  if (!done) return fail(command + " " + arg(0), done.error());
  return exit_code::ok;
}
