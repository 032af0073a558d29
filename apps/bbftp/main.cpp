// bbftp: the bbftp client.
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging.hpp"

int main(int argc, char** argv) {
  CLI::App app{"bbftp: bulk file transfer client for bbftp daemons (protocols 1, 2 and 3)",
               "bbftp"};
  ferry::app::add_version_flag(app, "bbftp");
  ferry::app::LogOptions log{.level = "warning", .target = {}, .ident = "bbftp"};
  add_logging_options(app, log);
  std::string host;
  app.add_option("host", host, "Server to connect to");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "bbftp: " << e.what() << '\n';
    return 2;
  }
  spdlog::error("the bbftp protocol is not implemented in this build yet");
  return 1;
}
