// Lexical path checks and splitting. Nothing here touches the filesystem: whether a name stays
// inside a root is decided by the resolver, which follows symlinks the way the kernel does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/error.hpp"

namespace ferry::storage {

inline constexpr std::size_t kMaxNameBytes = 255;   // NAME_MAX
inline constexpr std::size_t kMaxPathBytes = 4095;  // PATH_MAX less the NUL

struct PathPolicy {
  bool require_utf8 = false;  // XFTP paths are UTF-8 by protocol; bbftp paths are bytes
  // Daemons: the temporaries of uploads in progress (see is_temporary_name) are neither listed
  // nor reachable by any path, so no client can read, remove, rename or claim a partial file.
  bool hide_temporaries = false;
};

// Refuses NUL bytes, empty paths, components longer than 255 bytes, paths longer than PATH_MAX and,
// when the policy asks for it, invalid UTF-8 and components that name a temporary (invalid_name).
// `..` is not judged here.
Result<void> check_path(std::string_view path, const PathPolicy& policy);

// The hidden names AtomicWriter gives its temporaries: ".NAME.ferry-part" (reserved, stable),
// ".NAME.ferry-tmp.XXXXXXXXXXXX" (random), their ".ferry-HASH..." forms for long names, and the
// partial data kept for resume with its record (".ferry-partial.NAME", ".ferry-ranges.NAME",
// see partial.hpp).
inline constexpr std::string_view kReservedSuffix = ".ferry-part";
inline constexpr std::string_view kRandomInfix = ".ferry-tmp.";
inline constexpr std::size_t kRandomHexDigits = 12;
bool is_temporary_name(std::string_view leaf) noexcept;

// Splits on '/', dropping empty and "." components; ".." is kept for the resolver to judge.
std::vector<std::string_view> components(std::string_view path);

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}; trailing slashes are ignored ("a/b/" -> {"a", "b"}).
struct ParentAndLeaf {
  std::string parent;
  std::string leaf;
};
ParentAndLeaf split_parent(std::string_view path);

// Lexical normalisation of an absolute virtual path: "/a/./b/../c" -> "/a/c". ".." at the top stays
// at "/". Used only to report a working directory when the kernel cannot name it.
std::string normalize_absolute(std::string_view path);

// Joins a base directory and a path: absolute paths replace the base.
std::string join(std::string_view base, std::string_view path);

}  // namespace ferry::storage
