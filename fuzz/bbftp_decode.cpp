// bbftp control-stream decoder on any bytes. The first byte picks the direction and protocol
// version; the rest is a control stream. Every message decoded must re-encode to as many bytes as
// it consumed and decode back to itself.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/bbftp/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::bbftp;
  if (size == 0) return 0;
  const Context ctx{(data[0] & 1) != 0 ? Direction::to_client : Direction::to_server,
                    1 + (data[0] >> 1) % 3, std::size_t{1} << 16};
  ferry::Bytes rest(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  for (int i = 0; i < 4096 && !rest.empty(); ++i) {
    auto d = decode_next(rest, ctx);
    if (!d) break;
    FUZZ_CHECK(d->consumed >= kHeaderSize && d->consumed <= rest.size());
    const auto again = encode(d->message);
    FUZZ_CHECK(again.size() == d->consumed);
    auto back = decode_next({again.data(), again.size()}, ctx);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(back->consumed == again.size());
    FUZZ_CHECK(back->message == d->message);
    rest = rest.subspan(d->consumed);
  }
  return 0;
}
