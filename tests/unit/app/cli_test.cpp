#include "app/cli.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "app/logging.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

TEST(LogLevels, AcceptsSpdlogAndBbftpdNames) {
  using L = spdlog::level::level_enum;
  EXPECT_EQ(app::parse_level("debug"), L::debug);
  EXPECT_EQ(app::parse_level("WARNING"), L::warn);
  EXPECT_EQ(app::parse_level("INFORMATION"), L::info);
  EXPECT_EQ(app::parse_level("EMERGENCY"), L::critical);
  EXPECT_FALSE(app::parse_level("loud"));
}

TEST(ConfigFile, LongOptionsComeFromTheFileAndTheCommandLineWins) {
  TempDir dir;
  write_file(dir / "d.conf", "# comment\nport = 6000\nroot = \"/srv/data\"\nlog-level = debug\n");
  auto run = [&](std::vector<std::string> args, int& port, std::string& root,
                 app::LogOptions& log) {
    CLI::App a{"test"};
    app::add_config_option(a);
    app::add_logging_options(a, log);
    a.add_option("--port", port);
    a.add_option("--root", root);
    std::vector<char*> argv;
    std::string prog = "prog";
    argv.push_back(prog.data());
    for (auto& s : args) argv.push_back(s.data());
    return app::parse_command_line(a, static_cast<int>(argv.size()), argv.data());
  };
  int port = 0;
  std::string root;
  app::LogOptions log;
  EXPECT_EQ(run({"--config", dir / "d.conf"}, port, root, log), -1);
  EXPECT_EQ(port, 6000);
  EXPECT_EQ(root, "/srv/data");
  EXPECT_EQ(log.level, "debug");
  EXPECT_EQ(run({"--config", dir / "d.conf", "--port", "7000"}, port, root, log), -1);
  EXPECT_EQ(port, 7000);
  EXPECT_EQ(run({"--port", "notanumber"}, port, root, log), 2);
  EXPECT_EQ(run({"--log-level", "loud"}, port, root, log), 2);
}

}  // namespace
}  // namespace ferry::test
