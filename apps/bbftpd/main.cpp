// bbftpd: the bbftp daemon.
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging.hpp"

int main(int argc, char** argv) {
  CLI::App app{"bbftpd: bbftp daemon (protocols 1, 2 and 3)", "bbftpd"};
  ferry::app::add_version_flag(app, "bbftpd");
  ferry::app::add_config_option(app);
  ferry::app::LogOptions log{.level = "info", .target = {}, .ident = "bbftpd"};
  add_logging_options(app, log);
  int port = 5021;
  bool foreground = false;
  app.add_option("-w,--port", port, "Control port to listen on")->capture_default_str();
  app.add_flag("--foreground", foreground, "Stay in the foreground and log to standard error");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "bbftpd: " << e.what() << '\n';
    return 2;
  }
  spdlog::error("the bbftp protocol is not implemented in this build yet");
  return 1;
}
