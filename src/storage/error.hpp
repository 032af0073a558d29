// Storage errors: one typed code for policy decisions plus the errno that explains it to a user.
// Protocol layers turn an Error into their wire text with reason(), which is strerror(sys_errno).
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ferry::storage {

enum class Errc {
  escape,         // the path would leave the confined root (.., absolute or outward symlink)
  invalid_name,   // NUL byte, invalid UTF-8, empty name, "." or ".." where an entry is needed
  name_too_long,  // a component over 255 bytes or a path over PATH_MAX
  not_found,
  exists,  // the name exists, or is reserved by another exclusive writer
  not_a_directory,
  is_a_directory,
  not_empty,
  permission,
  no_space,  // ENOSPC or EDQUOT: bbftp reports these as non-retryable
  symlink_loop,
  busy,  // retryable: resource temporarily unavailable
  io,    // anything else the OS reported
};

struct Error {
  Errc code = Errc::io;
  int sys_errno = 0;  // errno that best explains the failure (EACCES for escapes)
  std::string path;   // the path as the caller gave it

  // strerror(sys_errno): the text bbftp and XFTP put at the end of their error replies.
  std::string reason() const;
  // "<path>: <reason>" for logs and client messages.
  std::string message() const;
  // True when retrying the same request later may succeed.
  bool retryable() const noexcept { return code == Errc::busy; }
};

template <class T>
using Result = ferry::Result<T, Error>;

// The single errno -> Errc mapping of the layer.
Errc classify_errno(int e) noexcept;
inline Unexpected<Error> fail(int e, std::string_view path) {
  return Unexpected(Error{classify_errno(e), e, std::string(path)});
}
inline Unexpected<Error> fail(Errc code, int e, std::string_view path) {
  return Unexpected(Error{code, e, std::string(path)});
}

std::string_view to_string(Errc c) noexcept;

}  // namespace ferry::storage
