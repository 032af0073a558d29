// Signal handling for the event-loop programs: SIGINT/SIGTERM ask for a clean shutdown, SIGHUP
// for a reload; SIGPIPE is ignored so a vanished peer is an EPIPE error, not a dead process.
#pragma once

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <functional>

namespace ferry::app {

void ignore_sigpipe();

class SignalWatcher {
 public:
  using Handler = std::function<void(int signal)>;
  // on_stop runs in the io_context for the first SIGINT or SIGTERM; a second one exits at once
  // (status 128 + signal), the way users expect Ctrl-C twice to work. on_reload runs for SIGHUP.
  SignalWatcher(asio::io_context& io, Handler on_stop, Handler on_reload = {});

 private:
  void arm();
  asio::signal_set signals_;
  Handler on_stop_;
  Handler on_reload_;
  bool stopping_ = false;
};

}  // namespace ferry::app
