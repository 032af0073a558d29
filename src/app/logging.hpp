// Logging setup shared by the four programs. Levels, never one line per packet at the default
// level; credentials are never passed to a logger.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <string_view>

namespace ferry::app {

struct LogOptions {
  std::string level = "info";
  // Empty: standard error. "syslog": the system log (the real bbftpd's default). Else a file path.
  std::string target;
  std::string ident = "ferry";  // syslog identity / logger name
};

// Accepts spdlog's names (trace, debug, info, warn/warning, error, critical, off) in any case and
// the real bbftpd's -l names (EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATION,
// DEBUG).
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

// Installs the default logger. Throws std::runtime_error for a bad level or an unwritable file:
// a startup configuration error, reported by main.
void setup_logging(const LogOptions& options);

}  // namespace ferry::app
