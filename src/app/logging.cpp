#include "app/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ferry::app {

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  using L = spdlog::level::level_enum;
  if (n == "trace") return L::trace;
  if (n == "debug") return L::debug;
  if (n == "info" || n == "information" || n == "notice") return L::info;
  if (n == "warn" || n == "warning") return L::warn;
  if (n == "error" || n == "err") return L::err;
  if (n == "critical" || n == "alert" || n == "emergency") return L::critical;
  if (n == "off") return L::off;
  return std::nullopt;
}

void setup_logging(const LogOptions& options) {
  const auto level = parse_level(options.level);
  if (!level) throw std::runtime_error("unknown log level '" + options.level + "'");
  std::shared_ptr<spdlog::logger> logger;
  if (options.target.empty()) {
    logger = spdlog::stderr_color_mt(options.ident);
  } else if (options.target == "syslog") {
    // Connected now (LOG_NDELAY), so that confined processes forked later need not connect.
    logger =
        spdlog::syslog_logger_mt(options.ident, options.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  } else {
    try {
      logger = spdlog::basic_logger_mt(options.ident, options.target);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("cannot open log file '" + options.target + "': " + e.what());
    }
  }
  logger->set_level(*level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace ferry::app
