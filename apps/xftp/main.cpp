// xftp: the XFTP client.
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging.hpp"

int main(int argc, char** argv) {
  CLI::App app{"xftp: XFTP file transfer client", "xftp"};
  ferry::app::add_version_flag(app, "xftp");
  ferry::app::LogOptions log{.level = "warning", .target = {}, .ident = "xftp"};
  add_logging_options(app, log);
  std::string host;
  app.add_option("host", host, "Server as HOST[:PORT]");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "xftp: " << e.what() << '\n';
    return 2;
  }
  spdlog::error("the XFTP protocol is not implemented in this build yet");
  return 1;
}
