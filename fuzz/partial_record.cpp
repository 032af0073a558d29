// The partial-data record (storage/partial_record) on any bytes: it is read back from disk, where
// anything may have happened to it. A record that decodes is consistent (its blocks lie within
// the file, ascending) and re-encodes to exactly the same bytes.
#include "storage/partial_record.hpp"

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
  const auto again = encode_record(*r);
  FUZZ_CHECK(again.size() == size);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), data));
  return 0;
}
