// The xftp commands (ls, get, put, rm, mkdir, mv) over an open XFTP client: local files through
// the storage layer, results on `out`, errors on `err` as "xftp: WHAT: why", and the exit code
// of each kind of failure (cli.hpp).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "client/display.hpp"
#include "session/xftp/client.hpp"

namespace ferry::client {

struct XftpCommandIo {
  std::ostream& out;
  std::ostream& err;
  TransferDisplay display;  // progress of get and put
};

// Runs `command` with `args` (already checked for their number). Returns the exit code.
int run_xftp_command(session::XftpClient& client, const std::string& command,
                     const std::vector<std::string>& args, XftpCommandIo& io);

}  // namespace ferry::client
