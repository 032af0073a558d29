// Command-line conventions shared by the four programs (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "app/logging.hpp"

namespace ferry::app {

// "-v, --version": prints "<program> (ferry) <version>" and exits 0, like the real tools' -v.
void add_version_flag(CLI::App& app, std::string_view program);

// "-l/--log-level LEVEL" and "-L/--log-file FILE" (a path, or "syslog"), as the real bbftpd has.
void add_logging_options(CLI::App& app, LogOptions& options);

// "--config FILE": every long option may also be given as "name = value" in FILE (INI/TOML
// syntax, CLI11's config reader). Options on the command line win over the file.
void add_config_option(CLI::App& app, const std::string& default_path = {});

// "P0:P1" with 0 < P0 <= P1 <= 65535 (data port ranges). False for anything else.
bool parse_port_range(std::string_view text, std::uint16_t& first, std::uint16_t& last);

// Parses argv; on --help/--version or a usage error prints what CLI11 prints and returns the exit
// code to use (0 for help, 2 for usage errors). Returns -1 when the program should go on.
int parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace ferry::app
