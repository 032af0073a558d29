// What xftpd does with one classified request, against its served root: the metadata commands
// are carried out here; UPLOAD and DOWNLOAD are prepared (the file opened or the temp file
// created) and handed back for the server to run on a data socket. No sockets here, so the fuzz
// target can drive it directly.
#pragma once

#include <optional>
#include <string>

#include "proto/xftp/legacy_server.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

struct XftpOutcome {
  xftp::Status status = xftp::Status::internal_error;
  std::string data;                             // LIST's JSON
  std::optional<storage::AtomicWriter> upload;  // status ok: receive into this, commit at EOF
  std::optional<storage::File> download;        // status ok: send this
  std::size_t left_out = 0;                     // LIST entries that did not fit a datagram
  bool in_progress = false;  // UPLOAD, FILE_EXISTS: the name is free but another upload holds it
};

class XftpRequestHandler {
 public:
  explicit XftpRequestHandler(const storage::Sandbox& root) : root_(root) {}
  // `may_transfer` is false when the transfer limit is reached (UPLOAD/DOWNLOAD: INTERNAL_ERROR).
  XftpOutcome execute(const xftp::Request& request, bool may_transfer) const;
  // UPLOAD; `resumable`: into partial data kept for resume (extended mode), else a temporary
  // that goes when the upload fails (legacy, which cannot resume).
  XftpOutcome upload(const std::string& path, bool may_transfer, bool resumable = false) const;

 private:
  XftpOutcome list(const std::string& path) const;
  XftpOutcome download(const std::string& path, bool may_transfer) const;
  XftpOutcome remove(const std::string& path) const;
  XftpOutcome mkdir(const std::string& path) const;
  XftpOutcome move(const std::string& from, const std::string& to) const;
  const storage::Sandbox& root_;
};

}  // namespace ferry::session
