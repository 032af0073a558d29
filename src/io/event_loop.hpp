// The daemons' event loop: Asio's io_context (timers, signals, readiness of raw descriptors).
// Sockets stay plain descriptors driven by the calls in socket.hpp and udp.hpp; the loop only
// says when one is ready, so the same non-blocking code runs under the loop and in tests.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>

namespace ferry::io {

using EventLoop = asio::io_context;
using Timer = asio::steady_timer;

// Calls `on_ready` each time `fd` is readable (or has an error or EOF to report) until it is
// cancelled or destroyed. Does not own `fd`: the caller closes it after this is gone.
class ReadWatch {
 public:
  ReadWatch(EventLoop& loop, int fd, std::function<void()> on_ready);
  ~ReadWatch();
  ReadWatch(const ReadWatch&) = delete;
  ReadWatch& operator=(const ReadWatch&) = delete;
  void cancel();

 private:
  void arm();
  asio::posix::stream_descriptor sd_;
  std::function<void()> on_ready_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool cancelled_ = false;
};

}  // namespace ferry::io
