// The bbftprc file as the real client reads it, before it connects: ~/.bbftprc of the account
// (else /etc/bbftp.conf), or -R FILE ("none": no file). Lines are set commands (setnbstream 4,
// setdatato 30, setlocalumask 022, ...) and "setoption [no]NAME" (NAME may be abbreviated);
// '#' starts a comment line; any other line is skipped (a warning with -W). A set command with a
// bad value fails the whole run (exit 1), as in the real client.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/bbftp/control.hpp"

namespace ferry::client {

struct RcWarning {
  int code = 0;      // BBFTP-WARNING-000NN
  std::string text;  // the real client's text
};

struct RcOutcome {
  std::vector<RcWarning> warnings;  // printed with -W only
  bool failed = false;              // a set command with a bad value
};

// Applies `text` to `config` (over what the command line set: the file comes after it, as in
// the real client). Pure: no file, no environment.
RcOutcome apply_bbftprc(std::string_view text, RunnerConfig& config);

// The file the real client reads when -R is not given: ~/.bbftprc of the running account when it
// exists, else /etc/bbftp.conf when it exists, else none.
std::optional<std::string> default_bbftprc_path();

}  // namespace ferry::client
