// The client's known_hosts file on any bytes (it is the user's, and may hold anything): parsing
// never fails, keeps every line, and a pin it finds is one it would write itself.
#include "client/bbftp/known_hosts.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ferry::client::KnownHosts;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto k = KnownHosts::parse(text);
  const auto out = k.serialize();
  FUZZ_CHECK(KnownHosts::parse(out).serialize() == out);  // stable once written
  if (const auto* pin = k.find("h", 21)) {
    FUZZ_CHECK(pin->port == 21 && pin->fingerprint.starts_with("SHA256:"));
    k.pin(*pin);
    FUZZ_CHECK(k.find("h", 21) != nullptr);
  }
  return 0;
}
