// The bbftp client's control language (-e, -i control files) and its bbftprc reader on any
// text: neither may crash; every command accepted has a verb and echoes the text it came from;
// the rc reader leaves every umask within 0777 and fails only with a warning saying why.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/bbftp/bbftprc.hpp"
#include "client/bbftp/control.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& piece : ferry::client::split_commands(text)) {
    FUZZ_CHECK(piece.size() <= text.size());
    const auto c = ferry::client::parse_command(piece);
    FUZZ_CHECK(c.raw == piece);
    FUZZ_CHECK((c.kind == ferry::client::Command::Kind::blank) == c.verb.empty());
  }
  ferry::client::RunnerConfig config;
  const auto rc = ferry::client::apply_bbftprc(text, config);
  FUZZ_CHECK(!rc.failed || !rc.warnings.empty());
  for (const auto* umask : {&config.local_umask, &config.remote_umask}) {
    FUZZ_CHECK(!*umask || **umask <= 0777);
  }
  return 0;
}
