// The texts bbftpd puts in its replies. Clients print them and users' scripts grep them, so they
// are interface: each reproduces the real daemon's wording (bbftp 3.3.0), trailing spaces included.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/bbftp/messages.hpp"

namespace ferry::bbftp::replies {

inline Text ok(std::string text = {}) {
  return {MsgCode::ok, std::move(text)};
}
inline Text bad(std::string text) {
  return {MsgCode::bad, std::move(text)};
}
inline Text bad_no_retry(std::string text) {
  return {MsgCode::bad_no_retry, std::move(text)};
}

Text login_ok(std::string_view server_version);
Text login_refused();  // unknown user and wrong password alike
// Refusals before or at login (the real client prints the text as "BBFTP-ERROR-00100 : TEXT";
// after busy, MSG_BAD, it tries again, 30 s later; after banned it gives up).
Text server_busy();
Text source_banned();
Text clear_text_accepted();
Text clear_text_refused();
Text unknown_message();
Text unknown_message_v1();  // "Unkown" (sic), as the real protocol-1 code says

Text chdir_failed(std::string_view dir, std::string_view reason, bool retryable, int version);
Text mkdir_ok(std::string_view dir, int version);
Text mkdir_failed(std::string_view dir, std::string_view reason, bool retryable, int version);
Text rm_ok(std::string_view file);
Text rm_failed(std::string_view file);
Text stat_failed(std::string_view file);
Text df_failed(std::string_view dir, std::string_view reason);
Text umask_changed(std::uint32_t from, std::uint32_t to);
Text cos_set();
Text rfio_not_supported();
Text list_failed(bool retryable);

// "<ino> <mode %#08o> <size> <blksize> <blocks>  <uid> <gid> (<atime>) (<mtime>) (<ctime>)", the
// times as ctime(3) prints them without the newline.
Text stat_ok(std::uint64_t inode, std::uint32_t mode, std::uint64_t size, std::uint64_t blksize,
             std::uint64_t blocks, std::uint32_t uid, std::uint32_t gid, std::string_view atime,
             std::string_view mtime, std::string_view ctime);
// "<f_blocks> <f_bfree> <f_bsize> <f_files> <f_ffree> <f_namemax>"
Text df_ok(std::uint64_t blocks, std::uint64_t free_blocks, std::uint64_t block_size,
           std::uint64_t files, std::uint64_t free_files, std::uint64_t name_max);

// Store and retrieve checks, before any data moves.
Text stat_file_failed(std::string_view file, std::string_view reason, bool retryable);
Text is_a_directory(std::string_view file);
Text not_writable(std::string_view file);
Text create_file_failed(std::string_view file, std::string_view reason, bool retryable);
Text create_dir_failed(std::string_view dir, std::string_view reason, bool retryable);
Text dir_creation_needed(std::string_view dir);
// The end of a transfer.
Text transfer_ok();                             // "OK"
Text transfer_failed(std::string_view reason);  // "Error on server: <reason>", retryable
Text transfer_no_space();

}  // namespace ferry::bbftp::replies
