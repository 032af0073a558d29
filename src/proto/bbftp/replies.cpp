#include "proto/bbftp/replies.hpp"

#include <cinttypes>
#include <cstdio>

namespace ferry::bbftp::replies {
namespace {

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s += p;
  return s;
}

Text either(bool retryable, std::string text) {
  return retryable ? bad(std::move(text)) : bad_no_retry(std::move(text));
}

}  // namespace

Text login_ok(std::string_view v) {
  return ok(cat({"bbftpd version ", v, " : OK"}));
}
Text login_refused() {
  return bad_no_retry("Incorrect password");
}
Text server_busy() {
  return bad("The server is busy, try again later");
}
Text source_banned() {
  return bad_no_retry("Too many failed logins from your address, try again later");
}
Text clear_text_accepted() {
  return ok("Uncrypted login dialog accepted");
}
Text clear_text_refused() {
  return bad_no_retry("The server requires encrypted login");
}
Text unknown_message() {
  return bad_no_retry("Unknown message");
}
Text unknown_message_v1() {
  return bad_no_retry("Unkown message in logged state");
}

Text chdir_failed(std::string_view dir, std::string_view reason, bool retryable, int version) {
  // Protocol 1 ends this text with a space; protocols 2 and 3 do not.
  return either(retryable,
                cat({"Error changing directory ", dir, " : ", reason, version == 1 ? " " : ""}));
}

Text mkdir_ok(std::string_view dir, int version) {
  return version == 1 ? ok("OK") : ok(cat({"Directory ", dir, " created"}));
}

Text mkdir_failed(std::string_view dir, std::string_view reason, bool retryable, int version) {
  if (version == 1)
    return either(retryable, cat({"Error creation directory ", dir, " : ", reason}));
  return either(retryable, cat({"Error creation directory ", dir, " (", reason, ")"}));
}

Text rm_ok(std::string_view file) {
  return ok(cat({file, " has been deleted"}));
}
Text rm_failed(std::string_view file) {
  return bad_no_retry(cat({"Unable to delete ", file}));
}
Text stat_failed(std::string_view file) {
  return bad_no_retry(cat({"stat ", file, " failed"}));
}
Text df_failed(std::string_view dir, std::string_view reason) {
  return bad_no_retry(cat({"Unable to df ", dir, ": ", reason}));
}

Text umask_changed(std::uint32_t from, std::uint32_t to) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "umask changed from %04o to %04o", from, to);
  return ok(buf);
}

Text cos_set() {
  return ok("COS set");
}
Text rfio_not_supported() {
  return bad_no_retry("RFIO not supported");
}
Text list_failed(bool retryable) {
  return either(retryable, "bbftpd_retrlistdir failed");
}

Text stat_ok(std::uint64_t inode, std::uint32_t mode, std::uint64_t size, std::uint64_t blksize,
             std::uint64_t blocks, std::uint32_t uid, std::uint32_t gid, std::string_view atime,
             std::string_view mtime, std::string_view ctime) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%" PRIu64 " %#08o %" PRIu64 " %" PRIu64 " %" PRIu64 "  %u %u ",
                inode, mode, size, blksize, blocks, uid, gid);
  return ok(cat({buf, "(", atime, ") (", mtime, ") (", ctime, ")"}));
}

Text df_ok(std::uint64_t blocks, std::uint64_t free_blocks, std::uint64_t block_size,
           std::uint64_t files, std::uint64_t free_files, std::uint64_t name_max) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, blocks,
                free_blocks, block_size, files, free_files, name_max);
  return ok(buf);
}

Text stat_file_failed(std::string_view file, std::string_view reason, bool retryable) {
  return either(retryable, cat({"Error stating file ", file, " : ", reason, " "}));
}
Text is_a_directory(std::string_view file) {
  return bad_no_retry(cat({"File ", file, " is a directory"}));
}
Text not_writable(std::string_view file) {
  return bad_no_retry(cat({"File ", file, " is not writable"}));
}
Text create_file_failed(std::string_view file, std::string_view reason, bool retryable) {
  return either(retryable, cat({"Error creation file ", file, " : ", reason, " "}));
}
Text create_dir_failed(std::string_view dir, std::string_view reason, bool retryable) {
  return either(retryable, cat({"Error creation directory ", dir, " (", reason, ")"}));
}
Text dir_creation_needed(std::string_view dir) {
  return bad_no_retry(cat({"Directory (", dir, ") creation needed but TROPT_DIR not set"}));
}
Text transfer_ok() {
  return ok("OK");
}
Text transfer_failed(std::string_view reason) {
  return bad(cat({"Error on server: ", reason}));
}
Text transfer_no_space() {
  return bad_no_retry("Disk quota excedeed or No Space left on device");  // sic
}

}  // namespace ferry::bbftp::replies
