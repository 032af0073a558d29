// A command run with a socket for its standard input and output: the bbftp client's ssh mode
// runs "ssh ... host bbftpd -s" this way and speaks the control protocol over that socket.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "io/socket.hpp"

namespace ferry::io {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd channel) : pid_(pid), channel_(std::move(channel)) {}
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child still running is stopped as stop() does.
  ~ChildProcess();

  // Our end of the socket on the child's standard input and output.
  int channel() const noexcept { return channel_.get(); }
  UniqueFd take_channel() noexcept { return std::move(channel_); }
  bool running() const noexcept { return pid_ > 0; }
  // Closes our end, gives the child `grace` to end by itself (ssh does when the channel
  // closes), then kills it; reaps it either way. Returns its exit status as waitpid(2) gives it
  // (-1 when there was no child).
  int stop(Timeout grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  UniqueFd channel_;
};

// Runs argv[0] (looked up in PATH) with standard input and output on one end of a socket pair
// and standard error inherited; every other descriptor is closed in the child. A command that
// cannot be executed makes the child exit 127 after writing `exec_failure` (default "ARGV0:
// cannot run: ", its first "{pid}" replaced by the child's process ID in six digits or more),
// strerror(errno) and a newline on standard error.
Result<ChildProcess> spawn_connected(const std::vector<std::string>& argv,
                                     std::string exec_failure = {});

}  // namespace ferry::io
