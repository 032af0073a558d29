#include "app/signals.hpp"

#include <csignal>
#include <cstdlib>

namespace ferry::app {

void ignore_sigpipe() {
  std::signal(SIGPIPE, SIG_IGN);
}

SignalWatcher::SignalWatcher(asio::io_context& io, Handler on_stop, Handler on_reload)
    : signals_(io, SIGINT, SIGTERM),
      on_stop_(std::move(on_stop)),
      on_reload_(std::move(on_reload)) {
  if (on_reload_) signals_.add(SIGHUP);
  arm();
}

void SignalWatcher::arm() {
  signals_.async_wait([this](const std::error_code& ec, int sig) {
    if (ec) return;  // the io_context is going away
    if (sig == SIGHUP) {
      on_reload_(sig);
    } else if (stopping_) {
      std::_Exit(128 + sig);
    } else {
      stopping_ = true;
      on_stop_(sig);
    }
    arm();
  });
}

}  // namespace ferry::app
