// xftpd in legacy mode (magic 0xCF): byte-compatible with the original client, without the
// original server's bugs (see the XFTP spec, section 3).
//
// One thread owns the control socket: it decodes, drops copies of requests still being worked
// on, answers repeated ones from memory, and queues the rest; it never touches the disk. A few
// workers carry requests out against the served root and send the replies. Each transfer then
// runs on its own data socket and thread, bounded in number.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "core/unique_fd.hpp"
#include "io/socket.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

struct XftpServerOptions {
  io::Timeout idle{std::chrono::seconds(30)};  // a transfer with no datagram for this long ends
  int max_transfers = 64;                      // more at once get INTERNAL_ERROR
  int workers = 4;                             // threads carrying out requests
  int max_queued = 256;                        // requests waiting for a worker, in all
  int max_queued_per_client = 16;              // ... from one source address
  std::chrono::seconds duplicate_window{35};   // a repeated request gets the first reply again
  // Transfers poll for the next datagram this long before sleeping (see StopAndWaitOptions), as
  // long as no more of them run than half the CPUs, so that polling never starves the others.
  std::chrono::microseconds busy_poll{50};
};

class XftpServer {
 public:
  XftpServer(UniqueFd control, storage::Sandbox root, XftpServerOptions options);
  ~XftpServer();
  XftpServer(const XftpServer&) = delete;
  XftpServer& operator=(const XftpServer&) = delete;

  // Serves until `stop` becomes true (checked at least every 200 ms); running transfers are
  // abandoned within a quarter of a second (uploads leave nothing behind), then it returns.
  void run(const std::atomic<bool>& stop);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::session
