#include "daemon/rcfile.hpp"

#include <sstream>

namespace ferry::daemon {

RcSettings parse_rc(const std::string& text) {
  RcSettings s;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key.empty() || key[0] == '#') continue;
    auto seconds = [&](std::optional<int>& slot) {
      try {
        const int v = std::stoi(value);
        if (v > 0) {
          slot = v;
          return;
        }
      } catch (const std::exception&) {
      }
      s.warnings.push_back("line " + std::to_string(number) + ": '" + key +
                           "' needs a positive number of seconds");
    };
    if (key == "setackto") {
      seconds(s.ack_timeout);
    } else if (key == "setrecvcontrolto") {
      seconds(s.recv_control_timeout);
    } else if (key == "setsendcontrolto") {
      seconds(s.send_control_timeout);
    } else if (key == "setdatato") {
      seconds(s.data_timeout);
    } else if (key == "setcheckstdinto") {
      seconds(s.check_stdin_timeout);
    } else if (key == "setoption" && (value == "fixeddataport" || value == "nofixeddataport")) {
      s.fixed_data_port = value == "fixeddataport";
    } else {
      s.warnings.push_back("line " + std::to_string(number) + ": unknown setting '" + line + "'");
    }
  }
  return s;
}

}  // namespace ferry::daemon
