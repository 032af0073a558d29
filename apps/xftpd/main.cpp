// xftpd: the XFTP daemon.
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "storage/sandbox.hpp"

int main(int argc, char** argv) {
  CLI::App app{"xftpd: XFTP file transfer daemon", "xftpd"};
  ferry::app::add_version_flag(app, "xftpd");
  ferry::app::add_config_option(app);
  ferry::app::LogOptions log{.level = "info", .target = {}, .ident = "xftpd"};
  add_logging_options(app, log);
  std::string root;
  int port = 2333;
  app.add_option("--root", root, "Directory to serve")->required();
  app.add_option("--port", port, "UDP port to listen on")->capture_default_str();
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  try {
    ferry::app::setup_logging(log);
  } catch (const std::exception& e) {
    std::cerr << "xftpd: " << e.what() << '\n';
    return 2;
  }
  auto served = ferry::storage::Sandbox::confined(root);
  if (!served) {
    spdlog::error("cannot serve {}", served.error().message());
    return 1;
  }
  spdlog::error("the XFTP protocol is not implemented in this build yet");
  return 1;
}
