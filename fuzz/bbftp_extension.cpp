// The bbftp extension's messages on any bytes (the announcement comes from whatever answers the
// client; MSG_EXT_LOGIN and the credentials from whoever connects to the daemon): what decodes
// (and MSG_EXT_LOGIN_OK from the daemon) re-encodes to the same bytes (the announcement: when it
// has version 1's length).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "proto/bbftp/extension.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::bbftp::ext;
  const std::span<const std::uint8_t> in(data, size);
  if (auto a = decode_announcement(in); a && size == kAnnouncementSize) {
    const auto again = encode(*a);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
  }
  if (auto l = decode_ext_login(in)) {
    const auto again = encode(*l);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
    FUZZ_CHECK(l->sealed.size() <= kMaxSealedCredentials);
  }
  if (auto ok = decode_ext_login_ok(in)) {
    const auto again = encode(*ok);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
    FUZZ_CHECK(ok->protocol_max >= 1);
  }
  if (auto sum = decode_ext_sum(in)) {
    const auto again = encode(*sum);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
  }
  if (auto c = decode_credentials(in)) {
    const auto again = encode(*c);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
    FUZZ_CHECK(!c->user.empty());
  }
  return 0;
}
