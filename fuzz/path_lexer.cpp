// Lexical path handling: check_path, components, split_parent and normalize_absolute on any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "storage/path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::storage;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool ok = static_cast<bool>(check_path(in, {.require_utf8 = true}));
  if (ok) FUZZ_CHECK(static_cast<bool>(check_path(in, {})));
  for (auto c : components(in)) {
    FUZZ_CHECK(!c.empty() && c != "." && c.find('/') == std::string_view::npos);
  }
  const auto norm = normalize_absolute(in);
  FUZZ_CHECK(!norm.empty() && norm.front() == '/');
  for (auto c : components(norm)) FUZZ_CHECK(c != "..");
  FUZZ_CHECK(normalize_absolute(norm) == norm);
  const auto split = split_parent(in);
  FUZZ_CHECK(split.leaf.find('/') == std::string::npos);
  return 0;
}
