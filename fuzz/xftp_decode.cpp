// XFTP legacy datagrams and LIST JSON on any bytes: a datagram that decodes re-encodes to itself;
// the JSON of any name is ASCII and parses back to the same name bytes (UTF-8 or not).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/xftp/legacy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::xftp;
  const ferry::Bytes in(reinterpret_cast<const std::byte*>(data), size);
  if (auto d = decode(in)) {
    const auto again = encode(*d);
    FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  }
  const std::string name(reinterpret_cast<const char*>(data), size);
  const std::string json = list_json({name}, {name, "x"});
  for (char c : json)
    FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F);
  if (name.find('\0') == std::string::npos) {  // any name a directory can hold comes back
    auto back = parse_list_json(json);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(back->dirs.size() == 1 && back->dirs[0] == name);
    FUZZ_CHECK(back->files.size() == 2 && back->files[0] == name);
  }
  if (auto m = decode_move(name)) FUZZ_CHECK(encode_move(m->first, m->second) == name);
  return 0;
}
