#include "client/bbftp/bbftprc.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>

#include "proto/bbftp/messages.hpp"

namespace ferry::client {
namespace {

namespace tropt = bbftp::tropt;

// As the real client: a value must scan as a number (%d or %o), and only setremotecos must be
// > 0 as well. A zero or negative stream count, buffer size or timeout, which the real client
// takes and then trips over, is accepted here without effect (the setting keeps its value).
enum class Kind {
  any_int,         // %d: any integer
  positive,        // %d > 0, else the whole file fails (setremotecos)
  takes_positive,  // %d; applied only when > 0
  octal,           // %o
};
struct Setting {
  const char* name;
  Kind kind;
  int warning;
  const char* usage;  // the real client's words
};
constexpr Setting kSettings[] = {
    {"setbuffersize", Kind::takes_positive, 5, "Buffersize in bbftprc file must be numeric > 0"},
    {"setremotecos", Kind::positive, 15, "Remote COS in bbftprc file must be numeric"},
    {"setlocalumask", Kind::octal, 16, "Local umask in bbftprc file must be octal numeric"},
    {"setremoteumask", Kind::octal, 17, "Remote umask in bbftprc file must be octal numeric"},
    {"setsendwinsize", Kind::any_int, 18, "Send window size in bbftprc file must be numeric"},
    {"setrecvwinsize", Kind::any_int, 19, "Receive window size in bbftprc file must be numeric"},
    {"setnbstream", Kind::takes_positive, 19,
     "Number of streams in bbftprc file must be numeric and > 0"},
    {"setackto", Kind::takes_positive, 19, "Acknowledge timeout must be numeric and > 0"},
    {"setrecvcontrolto", Kind::takes_positive, 19, "Input control timeout must be numeric and > 0"},
    {"setsendcontrolto", Kind::takes_positive, 19,
     "Output control timeout must be numeric and > 0"},
    {"setdatato", Kind::takes_positive, 19, "Data timeout must be numeric and > 0"},
};
constexpr std::pair<const char*, std::uint32_t> kOptions[] = {
    {"createdir", tropt::kDir},   {"tmpfile", tropt::kTmp},   {"remoterfio", tropt::kRfio},
    {"localrfio", tropt::kRfioO}, {"keepmode", tropt::kMode}, {"keepaccess", tropt::kAcc},
    {"gzip", tropt::kGzip},       {"qbss", tropt::kQbss},
};

bool blank(char c) {
  return c == ' ' || c == '\t';
}

// "name" followed by a blank (the real client's test: a prefix match then ' ' or '\t').
bool starts_command(std::string_view line, std::string_view name) {
  return line.size() > name.size() && line.substr(0, name.size()) == name &&
         blank(line[name.size()]);
}

// sscanf("%d") / ("%o"): leading blanks, an optional sign (%d), digits; the rest is ignored.
std::optional<long> scan(std::string_view s, int base) {
  std::size_t i = 0;
  while (i < s.size() && (blank(s[i]) || s[i] == '\n' || s[i] == '\r')) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  long v = 0;
  const auto* first = s.data() + i;
  const auto r = std::from_chars(first, s.data() + s.size(), v, base);
  if (r.ptr == first || r.ec != std::errc()) return std::nullopt;
  return negative ? -v : v;
}

void set(const Setting& s, long v, RunnerConfig& c) {
  using std::chrono::seconds;
  const int iv = static_cast<int>(v);
  const std::string_view n = s.name;
  auto& t = c.transfer;
  if (n == "setbuffersize") t.buffer_kb = iv;
  if (n == "setremotecos") c.remote_cos = iv;
  if (n == "setlocalumask") c.local_umask = static_cast<std::uint32_t>(v) & 0777;
  if (n == "setremoteumask") c.remote_umask = static_cast<std::uint32_t>(v) & 0777;
  if (n == "setsendwinsize") t.send_window_kb = iv;
  if (n == "setrecvwinsize") t.recv_window_kb = iv;
  if (n == "setsendwinsize" || n == "setrecvwinsize") t.apply_windows = true;
  if (n == "setsendwinsize" || n == "setrecvwinsize") t.apply_windows = true;
  if (n == "setnbstream") t.streams = iv;
  if (n == "setackto") c.connection.ack_timeout = seconds(iv);
  if (n == "setrecvcontrolto" || n == "setsendcontrolto")
    c.connection.control_timeout = seconds(iv);
  if (n == "setdatato") c.connection.data_timeout = seconds(iv);
}

}  // namespace

RcOutcome apply_bbftprc(std::string_view text, RunnerConfig& config) {
  RcOutcome out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == '\n' || blank(text[pos]))) ++pos;
    if (pos >= text.size()) break;
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.front() == '#') continue;

    const Setting* setting = nullptr;
    for (const auto& s : kSettings) {
      if (starts_command(line, s.name)) setting = &s;
    }
    if (setting != nullptr) {
      const auto v = scan(line.substr(std::string_view(setting->name).size()),
                          setting->kind == Kind::octal ? 8 : 10);
      if (!v || (setting->kind == Kind::positive && *v <= 0) || *v > INT32_MAX || *v < INT32_MIN) {
        out.warnings.push_back({setting->warning, setting->usage});
        out.failed = true;
        continue;
      }
      if (setting->kind != Kind::takes_positive || *v > 0) set(*setting, *v, config);
      continue;
    }
    if (!starts_command(line, "setoption")) {
      out.warnings.push_back(
          {13, "Skipping Unknown command in .bbftprc file (" + std::string(line) + ")"});
      continue;
    }
    std::string_view name = line.substr(9);
    while (!name.empty() && blank(name.front())) name.remove_prefix(1);
    const bool off = name.substr(0, 2) == "no";
    if (off) name.remove_prefix(2);
    // As the real client: the rest of the line must be the start of an option's name ("gz"
    // is gzip; the first in its table wins).
    bool known = false;
    for (const auto& [opt, bit] : kOptions) {
      if (name.size() > std::string_view(opt).size() ||
          std::string_view(opt).substr(0, name.size()) != name) {
        continue;
      }
      known = true;
      if (off) {
        config.transfer.options &= ~bit;
      } else if (bit == tropt::kRfioO) {
        out.warnings.push_back(
            {20, "Incorrect command : setoption localrfio (RFIO not supported)"});
      } else {
        config.transfer.options |= bit;
      }
      break;
    }
    if (!known) {
      out.warnings.push_back({13, "Unknown option in .bbftprc file (" + std::string(name) + ")"});
    }
  }
  return out;
}

std::optional<std::string> default_bbftprc_path() {
  struct stat st {};
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    std::string home_rc = std::string(pw->pw_dir) + "/.bbftprc";
    if (::stat(home_rc.c_str(), &st) == 0) return home_rc;
  }
  const std::string system_rc = "/etc/bbftp.conf";
  if (::stat(system_rc.c_str(), &st) == 0) return system_rc;
  return std::nullopt;
}

}  // namespace ferry::client
