// The daemons' configuration files (--config FILE): "name = value" lines read by CLI11 into an
// application with options of every kind the daemons use. Any text must end in options set or
// a clear error, never a crash.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "app/cli.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  CLI::App app{"fuzz"};
  std::string root, listen, ports;
  int workers = 4;
  std::uint16_t port = 2333;
  bool flag = false;
  std::vector<std::string> many;
  app.add_option("--root", root);
  app.add_option("--listen", listen);
  app.add_option("--port", port);
  app.add_option("--workers", workers)->check(CLI::Range(1, 64));
  app.add_option("--data-ports", ports);
  app.add_option("--many", many);
  app.add_flag("--flag", flag);
  app.allow_config_extras(false);
  try {
    std::istringstream in(text);
    app.parse_from_stream(in);
  } catch (const CLI::Error&) {
    return 0;  // a clear error, as the daemons report it
  }
  FUZZ_CHECK(workers >= 1 && workers <= 64);
  std::uint16_t first = 0, last = 0;
  if (ferry::app::parse_port_range(ports, first, last)) FUZZ_CHECK(first > 0 && first <= last);
  return 0;
}
