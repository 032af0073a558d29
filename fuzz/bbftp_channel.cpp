// The bbftp extension's control channel (crypto/bbftp_channel) on any bytes: what arrives from
// the other side is framed and opened without crashing, refused (too long, forged) or held back
// as an incomplete record; and whatever is sealed opens to the very bytes, however the stream is
// cut on its way.
#include "crypto/bbftp_channel.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ferry::crypto::BbftpChannel;
  using ferry::crypto::RecordSealer;
  ferry::crypto::GcmKey key{};
  key.fill(0x42);
  ferry::crypto::GcmNonce iv{};
  iv.fill(0x24);
  const ferry::crypto::Digest32 data_key{};
  const ferry::Bytes in(reinterpret_cast<const std::byte*>(data), size);

  // The wire, as a peer (or anyone on the path) writes it.
  {
    BbftpChannel ch(RecordSealer(key, iv), RecordSealer(key, iv), data_key, 0);
    std::vector<std::byte> clear;
    const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
    auto first = ch.open(in.first(cut), clear);
    if (first) (void)ch.open(in.subspan(cut), clear);
    FUZZ_CHECK(clear.empty());  // nothing opens without the key's records
    FUZZ_CHECK(ch.pending() <= size);
  }
  // Our own records, cut anywhere: the clear bytes come back whole and in order.
  {
    BbftpChannel out(RecordSealer(key, iv), RecordSealer(key, iv), data_key, 0);
    BbftpChannel back(RecordSealer(key, iv), RecordSealer(key, iv), data_key, 0);
    const auto wire = out.seal(in);
    std::vector<std::byte> clear;
    const std::size_t step = 1 + (size == 0 ? 0 : data[size - 1] % 64);
    for (std::size_t at = 0; at < wire.size(); at += step) {
      const std::size_t n = std::min(step, wire.size() - at);
      FUZZ_CHECK(back.open(ferry::Bytes(wire.data() + at, n), clear).has_value());
    }
    FUZZ_CHECK(back.pending() == 0);
    FUZZ_CHECK(clear.size() == size && std::equal(clear.begin(), clear.end(), in.begin()));
  }
  return 0;
}
