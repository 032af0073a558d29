#include "client/xftp/commands.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <ostream>

#include "client/xftp/cli.hpp"
#include "storage/sandbox.hpp"

namespace ferry::client {
namespace {

using session::XftpClient;
using session::XftpClientError;

int fail(XftpCommandIo& io, const std::string& what, const XftpClientError& e) {
  io.err << "xftp: " << what << ": " << e.message << '\n';
  return exit_code_for(e);
}

XftpClientError local_error(std::string message) {
  return {XftpClientError::Kind::local_file, {}, 0, std::move(message)};
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void begin(XftpCommandIo& io, const std::string& file, std::optional<std::uint64_t> size) {
  if (io.display.begin) io.display.begin(file, size);
}
void end(XftpCommandIo& io, bool ok, std::uint64_t moved) {
  if (io.display.end) io.display.end(ok, moved);
}
session::TransferProgress progress_of(XftpCommandIo& io, std::optional<std::uint64_t> size) {
  if (!io.display.progress) return {};
  return [&io, size](std::uint64_t n) { io.display.progress(n, size); };
}

int list(XftpClient& client, const std::string& path, XftpCommandIo& io) {
  auto listing = client.list(path);
  if (!listing) return fail(io, "ls " + path, listing.error());
  std::sort(listing->dirs.begin(), listing->dirs.end());
  std::sort(listing->files.begin(), listing->files.end());
  for (const auto& d : listing->dirs) io.out << d << "/\n";
  for (const auto& f : listing->files) io.out << f << '\n';
  return xftp_exit::ok;
}

int get(XftpClient& client, const std::string& remote, const std::string& local_arg,
        XftpCommandIo& io) {
  const auto local = local_name_for_get(remote, local_arg, is_directory(local_arg));
  if (local.empty()) {
    io.err << "xftp: get " << remote << ": not a file name (see xftp --help)\n";
    return xftp_exit::usage;
  }
  auto here = storage::Sandbox::unconfined(".");
  if (!here) return fail(io, "get", local_error(here.error().message()));
  // Extended mode keeps what arrives beside the target (hidden) until it is complete, so a get
  // that is interrupted and run again continues; legacy mode cannot, and leaves nothing.
  auto writer = here->create(
      local, {.collision = storage::Collision::replace, .resumable = client.resumes()});
  if (!writer) return fail(io, "get " + remote, local_error(writer.error().message()));
  // Legacy mode never tells the size of a download: bytes and rate, no percentage. Extended
  // mode does, before the first byte.
  auto size = std::make_shared<std::optional<std::uint64_t>>();
  session::TransferProgress progress;
  if (io.display.progress) {
    progress = [&io, size](std::uint64_t n) { io.display.progress(n, *size); };
  }
  bool begun = false;
  auto started = [&](std::uint64_t total, std::uint64_t resumed) {
    *size = total;
    begin(io, local, total);
    begun = true;
    if (resumed > 0) {
      io.err << "xftp: get " << remote << ": resumed, " << resumed << " bytes were there already\n";
    }
  };
  if (!client.extended()) {
    begin(io, local, std::nullopt);
    begun = true;
  }
  auto got = client.download(remote, *writer, progress, started);
  if (!got) {
    if (begun) end(io, false, 0);
    // The writer removes its temporary file (legacy), or keeps what arrived for a rerun.
    return fail(io, "get " + remote, got.error());
  }
  if (auto c = writer->commit(); !c) {
    end(io, false, *got);
    return fail(io, "get " + remote, local_error(c.error().message()));
  }
  end(io, true, *got);
  return xftp_exit::ok;
}

int put(XftpClient& client, const std::string& local, const std::string& remote_arg,
        XftpCommandIo& io) {
  auto here = storage::Sandbox::unconfined(".");
  if (!here) return fail(io, "put", local_error(here.error().message()));
  auto st = here->stat(local);
  if (!st) return fail(io, "put", local_error(st.error().message()));
  if (st->type != storage::FileType::regular) {
    return fail(io, "put " + local, local_error("not a regular file"));
  }
  auto file = here->open_read(local);
  if (!file) return fail(io, "put", local_error(file.error().message()));
  const auto remote = remote_name_for_put(local, remote_arg);
  begin(io, local, st->size);
  auto sent = client.upload(*file, remote, progress_of(io, st->size));
  if (!sent) {
    end(io, false, 0);
    return fail(io, "put " + local + " " + remote, sent.error());
  }
  if (client.resumed_bytes() > 0) {
    io.err << "xftp: put " << local << ": resumed, " << client.resumed_bytes()
           << " bytes were there already\n";
  }
  end(io, true, *sent);
  return xftp_exit::ok;
}

}  // namespace

int run_xftp_command(XftpClient& client, const std::string& command,
                     const std::vector<std::string>& args, XftpCommandIo& io) {
  const auto arg = [&](std::size_t i) { return i < args.size() ? args[i] : std::string(); };
  if (command == "ls") return list(client, args.empty() ? "/" : args[0], io);
  if (command == "get") return get(client, arg(0), arg(1), io);
  if (command == "put") return put(client, arg(0), arg(1), io);
  session::XftpResult<void> done;
  if (command == "rm") done = client.remove(arg(0));
  if (command == "mkdir") done = client.mkdir(arg(0));
  if (command == "mv") done = client.move(arg(0), arg(1));
  if (!done) return fail(io, command + " " + arg(0), done.error());
  return xftp_exit::ok;
}

}  // namespace ferry::client
