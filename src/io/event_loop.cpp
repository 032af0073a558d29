#include "io/event_loop.hpp"

namespace ferry::io {

ReadWatch::ReadWatch(EventLoop& loop, int fd, std::function<void()> on_ready)
    : sd_(loop, fd), on_ready_(std::move(on_ready)) {
  arm();
}

ReadWatch::~ReadWatch() {
  *alive_ = false;
  cancel();
  (void)sd_.release();  // never close: the descriptor belongs to the caller
}

void ReadWatch::cancel() {
  cancelled_ = true;
  std::error_code ignored;
  sd_.cancel(ignored);
}

void ReadWatch::arm() {
  // `alive` outlives this watch: a handler already queued when the watch was destroyed (or that
  // destroys it itself) must not touch it.
  sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                 [this, alive = alive_](const std::error_code& ec) {
                   if (ec || !*alive || cancelled_) return;
                   on_ready_();
                   if (*alive && !cancelled_) arm();
                 });
}

}  // namespace ferry::io
