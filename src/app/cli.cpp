#include "app/cli.hpp"

#include <iostream>
#include <sstream>

#include "core/version.hpp"

namespace ferry::app {

namespace {
struct VersionRequested {};
}  // namespace

void add_version_flag(CLI::App& app, std::string_view program) {
  const std::string text = std::string(program) + " (" + kProjectName + ") " + kVersion;
  app.add_flag_callback(
      "-v,--version",
      [text] {
        std::cout << text << '\n';
        throw CLI::Success();
      },
      "Print the version and exit");
}

void add_logging_options(CLI::App& app, LogOptions& options) {
  app.add_option("-l,--log-level", options.level,
                 "Log level: trace, debug, info, warning, error, critical, off (or the bbftpd "
                 "names EMERGENCY ... DEBUG)")
      ->capture_default_str()
      ->check([](const std::string& v) {
        return parse_level(v) ? std::string() : "unknown log level '" + v + "'";
      });
  app.add_option("-L,--log-file", options.target,
                 "Log to FILE, or to the system log with 'syslog' (default: standard error)");
}

void add_config_option(CLI::App& app, const std::string& default_path) {
  app.set_config("--config", default_path, "Read options from FILE (name = value lines)", false);
}

int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

bool parse_port_range(std::string_view text, std::uint16_t& first, std::uint16_t& last) {
  unsigned a = 0, b = 0;
  char colon = 0, rest = 0;
  std::istringstream in{std::string(text)};
  if (!(in >> a >> colon >> b) || colon != ':' || (in >> rest) || a == 0 || b < a || b > 65535) {
    return false;
  }
  first = static_cast<std::uint16_t>(a);
  last = static_cast<std::uint16_t>(b);
  return true;
}

}  // namespace ferry::app
