// xftpd in legacy mode (magic 0xCF): byte-compatible with the original client, without the
// original server's bugs (see the XFTP spec, section 3). One control socket; each transfer gets
// its own data socket and thread, so the control socket never waits on a transfer.
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
  std::chrono::seconds duplicate_window{35};   // a repeated request gets the first reply again
};

class XftpServer {
 public:
  XftpServer(UniqueFd control, storage::Sandbox root, XftpServerOptions options);
  ~XftpServer();
  XftpServer(const XftpServer&) = delete;
  XftpServer& operator=(const XftpServer&) = delete;

  // Serves until `stop` becomes true (checked at least every 200 ms); waits for running transfers.
  void run(const std::atomic<bool>& stop);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ferry::session
