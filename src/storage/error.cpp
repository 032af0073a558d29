#include "storage/error.hpp"

#include <cerrno>
#include <cstring>

namespace ferry::storage {

Errc classify_errno(int e) noexcept {
  switch (e) {
    case ENOENT:
      return Errc::not_found;
    case EEXIST:
      return Errc::exists;
    case ENOTDIR:
      return Errc::not_a_directory;
    case EISDIR:
      return Errc::is_a_directory;
    case ENOTEMPTY:
      return Errc::not_empty;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::permission;
    case ENOSPC:
    case EDQUOT:
      return Errc::no_space;
    case ELOOP:
      return Errc::symlink_loop;
    case ENAMETOOLONG:
      return Errc::name_too_long;
    case EINVAL:
    case EILSEQ:
      return Errc::invalid_name;
    case EAGAIN:
    case EBUSY:
    case EINTR:
      return Errc::busy;
    default:
      return Errc::io;
  }
}

std::string Error::reason() const {
  char buf[256];
  // GNU strerror_r returns the message pointer, which may or may not be buf.
  return ::strerror_r(sys_errno, buf, sizeof buf);
}

std::string Error::message() const {
  if (path.empty()) return reason();
  return path + ": " + reason();
}

std::string_view to_string(Errc c) noexcept {
  switch (c) {
    case Errc::escape:
      return "escape";
    case Errc::invalid_name:
      return "invalid_name";
    case Errc::name_too_long:
      return "name_too_long";
    case Errc::not_found:
      return "not_found";
    case Errc::exists:
      return "exists";
    case Errc::not_a_directory:
      return "not_a_directory";
    case Errc::is_a_directory:
      return "is_a_directory";
    case Errc::not_empty:
      return "not_empty";
    case Errc::permission:
      return "permission";
    case Errc::no_space:
      return "no_space";
    case Errc::symlink_loop:
      return "symlink_loop";
    case Errc::busy:
      return "busy";
    case Errc::io:
      return "io";
  }
  return "unknown";
}

}  // namespace ferry::storage
