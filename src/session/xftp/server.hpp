// xftpd: legacy mode (magic 0xCF), byte-compatible with the original client, without the
// original server's bugs (see the XFTP spec, section 3); and extended mode (magic 0xD0) for our
// client, on the same port (docs/protocol/xftp-extended.md).
//
// The control socket is watched by the daemon's event loop (io::EventLoop): its handler decodes,
// classifies, drops copies of requests still being worked on, answers repeated ones from memory,
// refuses what is malformed or over a limit, and queues the rest; it never touches the disk and
// never sleeps. A few workers carry requests out against the served root and send the replies.
// Each transfer then runs on its own data socket and thread, bounded in number.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/unique_fd.hpp"
#include "io/event_loop.hpp"
#include "io/socket.hpp"
#include "proto/xftp/legacy_server.hpp"
#include "session/xftp/extended_connections.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

struct XftpServerOptions {
  io::Timeout idle{std::chrono::seconds(30)};  // a transfer with no datagram for this long ends
  int max_transfers = 64;                      // more at once get INTERNAL_ERROR
  int workers = 4;                             // threads carrying out requests
  int max_queued = 256;                        // requests waiting for a worker, in all
  int max_queued_per_client = 16;              // ... from one source address
  // What a repeated request is answered from, and its bounds in bytes (see DuplicateFilter).
  xftp::DuplicateFilter::Limits duplicates{};
  // Transfers poll for the next datagram this long before sleeping (see StopAndWaitOptions), as
  // long as no more of them run than half the CPUs, so that polling never starves the others.
  std::chrono::microseconds busy_poll{50};
  std::uint16_t data_port_first = 0;  // data sockets in [first, last] (firewalls); 0: ephemeral
  std::uint16_t data_port_last = 0;
  double refusal_logs_per_second = 10;  // refused requests are logged at most this often
  // Extended mode (docs/protocol/xftp-extended.md): with a shared key every extended datagram is
  // sealed, and legacy requests (which cannot be) are not served at all.
  std::optional<std::vector<std::uint8_t>> key;
  ExtendedLimits extended{};
  // Partial data of uploads kept for resume goes once unused this long (checked at start and
  // hourly).
  std::chrono::seconds partial_expiry{std::chrono::hours(24 * 7)};
};

class XftpServer {
 public:
  // `root` should hide temporaries (PathPolicy::hide_temporaries).
  XftpServer(io::EventLoop& loop, UniqueFd control, storage::Sandbox root,
             XftpServerOptions options);
  ~XftpServer();  // stop()s
  XftpServer(const XftpServer&) = delete;
  XftpServer& operator=(const XftpServer&) = delete;

  // Removes the temporaries of uploads a previous run left behind (and expired partial data),
  // starts the workers and watches the control socket from the loop.
  void start();
  // Stops taking requests; running transfers are abandoned within a quarter of a second
  // (legacy uploads leave nothing behind; extended ones keep their partial data for a resume);
  // returns when every thread has ended.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::session
