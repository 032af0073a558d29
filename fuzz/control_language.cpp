// The bbftp client's control language (-e, -i control files, bbftprc files) on any text: it
// must never crash, and every command it accepts has a verb and echoes the text it came from.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/control.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& piece : ferry::client::split_commands(text)) {
    FUZZ_CHECK(piece.size() <= text.size());
    auto c = ferry::client::parse_command(piece);
    if (c && *c) {
      FUZZ_CHECK(!(*c)->verb.empty());
      FUZZ_CHECK((*c)->raw == piece);
    }
  }
  return 0;
}
