// What the monitor reads from a pre-login process, which a compromised one writes at will: the
// decoder must never crash, never read past its input, and what it accepts re-encodes to the
// very bytes it consumed (the format has one spelling per message).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "proto/monitor/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ferry::Bytes in(reinterpret_cast<const std::byte*>(data), size);
  // A stream of frames, as the monitor reads them.
  while (!in.empty()) {
    auto d = ferry::monitor::decode_request(in);
    if (!d) break;
    FUZZ_CHECK(d->consumed > 0 && d->consumed <= in.size());
    const auto again = ferry::monitor::encode(d->message);
    FUZZ_CHECK(again.size() == d->consumed);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin()));
    if (const auto* c = std::get_if<ferry::monitor::CheckLogin>(&d->message)) {
      FUZZ_CHECK(c->user.size() <= ferry::monitor::kMaxUser);
      FUZZ_CHECK(c->password.size() <= ferry::monitor::kMaxPassword);
    }
    in = in.subspan(d->consumed);
  }
  // The pre-login side's reader of verdicts.
  ferry::Bytes all(reinterpret_cast<const std::byte*>(data), size);
  if (auto v = ferry::monitor::decode_verdict(all)) {
    FUZZ_CHECK(ferry::monitor::encode(v->message).size() == v->consumed);
  }
  // And of signed announcements (a compromised monitor is not in the threat model, but the
  // reader must hold anyway).
  if (auto s = ferry::monitor::decode_signed(all)) {
    const auto again = ferry::monitor::encode(s->message);
    FUZZ_CHECK(again.size() == s->consumed && std::equal(again.begin(), again.end(), all.begin()));
  }
  return 0;
}
