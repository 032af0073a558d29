// xftpd: the XFTP daemon: legacy mode (compatible with the original XFTP client) and extended
// mode for our client, on one port.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/signals.hpp"
#include "crypto/xftp_keys.hpp"
#include "io/event_loop.hpp"
#include "io/udp.hpp"
#include "session/xftp/server.hpp"
#include "storage/sandbox.hpp"

int main(int argc, char** argv) {
  // One allocator arena for every thread: each transfer runs on a thread of its own, and with an
  // arena per thread a burst of transfers leaves each arena's last pages behind (malloc_trim
  // cannot return an arena's top); the transfers hardly allocate, so they do not contend.
  ::mallopt(M_ARENA_MAX, 1);
  CLI::App app{"xftpd: XFTP file transfer daemon (UDP)", "xftpd"};
  ferry::app::add_version_flag(app, "xftpd");
  ferry::app::add_config_option(app);
  ferry::app::LogOptions log{.level = "info", .target = {}, .ident = "xftpd"};
  add_logging_options(app, log);
  std::string root;
  std::string listen = "0.0.0.0";
  std::uint16_t port = 2333;
  int idle_s = 30;
  ferry::session::XftpServerOptions options;
  app.add_option("--root", root, "Directory to serve")->required();
  app.add_option("--listen", listen, "Address to listen on (IPv4 or IPv6)")->capture_default_str();
  app.add_option("--port", port, "UDP port (0 picks a free one, logged at start)")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_s, "Seconds a transfer may stay silent")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--max-transfers", options.max_transfers, "Transfers at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--workers", options.workers, "Threads carrying out requests")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--max-queued", options.max_queued,
                 "Requests waiting for a worker, in all (more get INTERNAL_ERROR)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-queued-per-client", options.max_queued_per_client,
                 "Requests waiting for a worker from one client address")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  int busy_poll_us = 50;
  app.add_option("--busy-poll", busy_poll_us,
                 "Microseconds a transfer polls for each datagram before sleeping (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  std::size_t duplicate_mib = options.duplicates.budget_bytes >> 20;
  app.add_option("--duplicate-memory", duplicate_mib,
                 "MiB for remembering answered requests (1 MiB per client host at most)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  std::string data_ports;
  app.add_option("--data-ports", data_ports,
                 "Data sockets on ports drawn from P0:P1 (for firewalls); default: ephemeral");
  std::string key_file;
  app.add_option("--key-file", key_file,
                 "Shared key (32 bytes or more, the clients' --key-file): extended mode only, "
                 "every datagram sealed; legacy requests are not served");
  std::int64_t partial_expiry_s = options.partial_expiry.count();
  app.add_option("--partial-expiry", partial_expiry_s,
                 "Seconds an interrupted extended-mode upload's partial data is kept for a "
                 "resume (default 7 days)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{60}, std::int64_t{10} * 365 * 86400));
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  options.partial_expiry = std::chrono::seconds(partial_expiry_s);
  if (!key_file.empty()) {
    auto key = ferry::crypto::read_xftp_key_file(key_file);
    if (!key) {
      std::cerr << "xftpd: " << key.error() << '\n';
      return 2;
    }
    options.key = std::move(*key);
  }
  if (!data_ports.empty() &&
      !ferry::app::parse_port_range(data_ports, options.data_port_first, options.data_port_last)) {
    std::cerr << "xftpd: --data-ports wants a port range P0:P1, got '" << data_ports << "'\n";
    return 2;
  }
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "xftpd: " << e.what() << '\n';
    return 2;
  }
  options.idle = std::chrono::seconds(idle_s);
  options.duplicates.budget_bytes = duplicate_mib << 20;
  options.busy_poll = std::chrono::microseconds(busy_poll_us);

  auto served = ferry::storage::Sandbox::confined(
      root, {.resolver = ferry::storage::Resolver::automatic,
             .policy = {.require_utf8 = true, .hide_temporaries = true},
             .umask = 022});
  if (!served) {
    spdlog::critical("cannot serve {}", served.error().message());
    return 1;
  }
  auto where = ferry::io::resolve(listen, port, true);
  if (!where) {
    spdlog::critical("{}", where.error().message());
    return 1;
  }
  auto sock = ferry::io::bind_udp(where->front());
  if (!sock) {
    spdlog::critical("{}", sock.error().message());
    return 1;
  }
  const auto bound = ferry::io::SocketAddress::of_local(sock->get());
  const std::string shown = bound ? bound->to_string() : where->front().to_string();
  ferry::io::EventLoop loop;
  ferry::session::XftpServer server(loop, std::move(*sock), std::move(*served), options);
  ferry::app::SignalWatcher signals(loop, [&](int sig) {
    spdlog::info("signal {}: stopping", sig);
    server.stop();
    loop.stop();
  });
  server.start();  // sweeps what a killed run left behind first
  // Said once the server is ready (scripts wait for this line): a datagram that came earlier
  // waits in the socket's queue.
  spdlog::info("xftpd listening on {} (udp), serving {}", shown, root);
  loop.run();
  server.stop();
  spdlog::info("xftpd stopped");
  return 0;
}
