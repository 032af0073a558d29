// The real bbftpd's rc file (-R, /etc/bbftpd.conf): one setting per line,
//   setackto N | setrecvcontrolto N | setsendcontrolto N | setdatato N | setcheckstdinto N
//   setoption fixeddataport | setoption nofixeddataport
// Unknown lines are reported, not fatal, as the real daemon does.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ferry::daemon {

struct RcSettings {
  std::optional<int> ack_timeout;  // seconds
  std::optional<int> recv_control_timeout;
  std::optional<int> send_control_timeout;
  std::optional<int> data_timeout;
  std::optional<int> check_stdin_timeout;
  std::optional<bool> fixed_data_port;
  std::vector<std::string> warnings;  // "line N: ..." for lines we could not use
};

RcSettings parse_rc(const std::string& text);

}  // namespace ferry::daemon
