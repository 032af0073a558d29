// The bbftp extension's messages on any bytes (MSG_EXT_RESUME from either side, planned over) (the
// announcement comes from whatever answers the client; MSG_EXT_LOGIN and the credentials from
// whoever connects to the daemon): what decodes (and MSG_EXT_LOGIN_OK from the daemon) re-encodes
// to the same bytes (the announcement: when it has version 1's length).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/transfer_plan.hpp"

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
  if (auto r = decode_ext_resume(in)) {  // an offer or answer from the other side
    const auto again = encode(*r);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
    FUZZ_CHECK(r->ranges.size() <= kMaxResumeRanges);
    FUZZ_CHECK(r->bytes() <= r->size);
    FUZZ_CHECK(answers(*r, *r));
    auto plan =
        ferry::bbftp::plan_transfer(std::min<std::uint64_t>(r->size, 1ULL << 30), 3, 256, 0);
    std::vector<ferry::bbftp::Segment> present;
    for (const auto& g : r->ranges) present.push_back({g.first, g.last - g.first});
    ferry::bbftp::plan_blocks(plan, integrity_block(plan.size), present);
    FUZZ_CHECK(plan.planned_bytes() <= plan.size);
  }
  if (auto c = decode_credentials(in)) {
    const auto again = encode(*c);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
    FUZZ_CHECK(!c->user.empty());
  }
  return 0;
}
