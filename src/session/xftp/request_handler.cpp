#include "session/xftp/request_handler.hpp"

namespace ferry::session {
namespace {

using xftp::Status;

Status status_of(const storage::Error& e) {
  switch (e.code) {
    case storage::Errc::not_found:
      return Status::not_found;
    case storage::Errc::exists:
      return Status::file_exists;
    case storage::Errc::escape:
    case storage::Errc::invalid_name:
    case storage::Errc::name_too_long:
    case storage::Errc::not_a_directory:
    case storage::Errc::is_a_directory:
    case storage::Errc::not_empty:
    case storage::Errc::symlink_loop:
      return Status::invalid;
    default:
      return Status::internal_error;
  }
}

XftpOutcome just(Status s) {
  XftpOutcome o;
  o.status = s;
  return o;
}

}  // namespace

XftpOutcome XftpRequestHandler::execute(const xftp::Request& request, bool may_transfer) const {
  switch (request.command) {
    case xftp::Command::list:
      return list(request.path);
    case xftp::Command::upload:
      return upload(request.path, may_transfer);
    case xftp::Command::download:
      return download(request.path, may_transfer);
    case xftp::Command::remove:
      return remove(request.path);
    case xftp::Command::mkdir:
      return mkdir(request.path);
    case xftp::Command::move:
      return move(request.path, request.to);
    default:
      return just(Status::invalid);
  }
}

XftpOutcome XftpRequestHandler::list(const std::string& path) const {
  auto entries = root_.list(path);
  if (!entries) return just(status_of(entries.error()));
  std::vector<std::string> dirs, files;
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    (e.target == storage::FileType::directory ? dirs : files).push_back(e.name);
  }
  // The original client reads 4096 bytes at most: leave out what does not fit, files first.
  XftpOutcome o = just(Status::ok);
  o.data = xftp::list_json(dirs, files);
  while (xftp::kHeaderSize + o.data.size() > xftp::kLegacyDatagram) {
    // Drop enough entries at once to fit (a name costs its escaped form plus ", ").
    std::size_t excess = xftp::kHeaderSize + o.data.size() - xftp::kLegacyDatagram;
    auto& from = files.empty() ? dirs : files;
    while (excess > 0 && !from.empty()) {
      const std::size_t cost = xftp::json_string(from.back()).size() + 2;
      excess = cost >= excess ? 0 : excess - cost;
      from.pop_back();
      ++o.left_out;
    }
    o.data = xftp::list_json(dirs, files);
  }
  return o;
}

XftpOutcome XftpRequestHandler::upload(const std::string& path, bool may_transfer,
                                       bool resumable) const {
  // The spec's statuses: FILE_EXISTS when anything is there, INVALID for a name that may not be
  // used (through a symlink out of the root, too long, a temporary's), INTERNAL_ERROR when it
  // cannot be created (a missing parent among them).
  auto refused = [](const storage::Error& e) {
    const Status s = status_of(e);
    return just(s == Status::invalid || s == Status::file_exists ? s : Status::internal_error);
  };
  auto st = root_.stat(path, storage::Follow::no);
  if (st) return just(Status::file_exists);
  if (st.error().code != storage::Errc::not_found) return refused(st.error());
  if (!may_transfer) return just(Status::internal_error);
  auto w = root_.create(path, {.collision = storage::Collision::exclusive, .resumable = resumable});
  if (!w) {
    XftpOutcome o = refused(w.error());
    // Another upload of this path holds the reservation: that is "exists" too.
    o.in_progress =
        w.error().code == storage::Errc::exists && !root_.stat(path, storage::Follow::no);
    return o;
  }
  XftpOutcome o = just(Status::ok);
  o.upload.emplace(std::move(*w));
  return o;
}

XftpOutcome XftpRequestHandler::download(const std::string& path, bool may_transfer) const {
  auto st = root_.stat(path);
  if (!st) return just(status_of(st.error()));
  if (st->type != storage::FileType::regular) return just(Status::invalid);
  if (!may_transfer) return just(Status::internal_error);
  auto f = root_.open_read(path);
  if (!f) return just(Status::internal_error);
  XftpOutcome o = just(Status::ok);
  o.download.emplace(std::move(*f));
  return o;
}

XftpOutcome XftpRequestHandler::remove(const std::string& path) const {
  if (storage::components(path).empty()) return just(Status::invalid);  // the root itself
  auto st = root_.stat(path, storage::Follow::no);
  if (!st) return just(status_of(st.error()));
  auto r = st->type == storage::FileType::directory ? root_.rmdir(path) : root_.unlink(path);
  return just(r ? Status::ok : status_of(r.error()));
}

XftpOutcome XftpRequestHandler::mkdir(const std::string& path) const {
  auto r = root_.mkdir(path, 0777, false);
  return just(r ? Status::ok : status_of(r.error()));
}

XftpOutcome XftpRequestHandler::move(const std::string& from, const std::string& to) const {
  // A name that may not be used is INVALID whichever side it is on, before anything is looked up.
  for (const auto* p : {&from, &to}) {
    if (auto ok = root_.check(*p); !ok) return just(status_of(ok.error()));
  }
  if (!root_.stat(from, storage::Follow::no)) return just(Status::not_found);
  auto r = root_.rename(from, to, storage::Sandbox::Overwrite::refuse);
  return just(r ? Status::ok : status_of(r.error()));
}

}  // namespace ferry::session
