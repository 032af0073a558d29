#pragma once

#include <string_view>

namespace ferry {

// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace ferry
