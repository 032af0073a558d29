// The partial-data record (storage/partial_record) on any bytes: it is read back from disk, where
// anything may have happened to it. A record that decodes is consistent (its blocks lie within
// the file, ascending) and re-encodes to the same record (to the same bytes when it has no
// journal).
#include "storage/partial_record.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::storage;
  const ferry::Bytes in{reinterpret_cast<const std::byte*>(data), size};
  auto r = decode_record(in);
  if (!r) return 0;
  std::uint64_t previous = 0;
  bool first = true;
  for (const auto& [index, sum] : r->blocks) {
    (void)sum;
    FUZZ_CHECK(r->block_first(index) < r->size);
    FUZZ_CHECK(r->block_last(index) <= r->size);
    FUZZ_CHECK(first || index > previous);
    previous = index;
    first = false;
  }
  // The snapshot re-encoded holds the same record. A journal (24-byte entries after the
  // snapshot, folded into 16-byte snapshot blocks; a torn last one ignored) only shrinks when
  // re-encoded, and without one the bytes come back exactly.
  const auto again = encode_record(*r);
  const auto back = decode_record({reinterpret_cast<const std::byte*>(again.data()), again.size()});
  FUZZ_CHECK(back && *back == *r);
  FUZZ_CHECK(again.size() <= size);
  if (again.size() == size) FUZZ_CHECK(std::equal(again.begin(), again.end(), data));
  return 0;
}
