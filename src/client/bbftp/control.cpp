#include "client/bbftp/control.hpp"

#include <glob.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

namespace ferry::client {
namespace {

using session::Outcome;
using namespace bbftp;

const std::vector<std::pair<std::string, std::uint32_t>> kOptionBits = {
    {"tmpfile", tropt::kTmp},     {"keepaccess", tropt::kAcc}, {"keepmode", tropt::kMode},
    {"createdir", tropt::kDir},   {"gzip", tropt::kGzip},      {"remoterfio", tropt::kRfio},
    {"localrfio", tropt::kRfioO}, {"qbss", tropt::kQbss},
};

struct Verb {
  const char* name;
  std::size_t min_args;
  std::size_t max_args;
};
constexpr Verb kVerbs[] = {
    {"get", 1, 2},
    {"put", 1, 2},
    {"reget", 1, 2},  // the extension: get, resumed from what an interrupted one left
    {"reput", 1, 2},
    {"mget", 1, 2},
    {"mput", 1, 2},
    {"cd", 1, 1},
    {"lcd", 1, 1},
    {"mkdir", 1, 1},
    {"rm", 1, 1},
    {"stat", 1, 1},
    {"df", 1, 1},
    {"checksum", 1, 1},
    {"dir", 1, 1},
    {"setnbstream", 1, 1},
    {"setbuffersize", 1, 1},
    {"setrecvwinsize", 1, 1},
    {"setsendwinsize", 1, 1},
    {"setoption", 1, 1},
    {"setremoteumask", 1, 1},
    {"setlocalumask", 1, 1},
    {"setremotecos", 1, 1},
    {"setrecvcontrolto", 1, 1},
    {"setsendcontrolto", 1, 1},
    {"setackto", 1, 1},
    {"setdatato", 1, 1},
};

// The real client's error numbers for the control language itself.
constexpr int kUnknownCommand = 25;
constexpr int kIncorrectCommand = 26;
constexpr int kLocalDirectory = 71;  // lcd failed

std::string basename_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// A number as sscanf("%d") / ("%o") reads one: its leading digits (a sign allowed), whatever
// follows; nothing when there are none.
std::optional<long> leading_number(const std::string& s, int base) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, base);
  if (end == s.c_str() || errno == ERANGE || v < INT32_MIN || v > INT32_MAX) return std::nullopt;
  return v;
}

std::string g3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::vector<std::string> split_commands(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto semi = text.find(separator, start);
    out.push_back(text.substr(start, semi == std::string::npos ? std::string::npos : semi - start));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return out;
}

Command parse_command(const std::string& raw) {
  Command c;
  c.raw = raw;
  std::istringstream in(raw);
  if (!(in >> c.verb) || c.verb[0] == '#' || c.verb[0] == '!') {
    c.kind = Command::Kind::blank;
    c.verb.clear();
    return c;
  }
  for (std::string a; in >> a;) c.args.push_back(a);
  c.kind = Command::Kind::unknown;
  for (const auto& v : kVerbs) {
    if (c.verb != v.name) continue;
    const bool fits = c.args.size() >= v.min_args && c.args.size() <= v.max_args;
    c.kind = fits ? Command::Kind::run : Command::Kind::malformed;
  }
  return c;
}

Runner::Runner(RunnerConfig config, std::ostream& out, std::ostream& err)
    : config_(std::move(config)),
      out_(out),
      err_(err),
      local_(std::move(*storage::Sandbox::unconfined("."))),
      remote_umask_(config_.remote_umask),
      remote_cos_(config_.remote_cos) {
  if (config_.local_umask) local_.set_umask(static_cast<mode_t>(*config_.local_umask));
  config_.connection.on_info = [this](const std::string& text) {
    if (config_.output.warnings) err_ << stamp() << "BBFTP-WARNING-00100 : " << text << '\n';
  };
  if (config_.display.progress) {
    config_.connection.on_progress = [this](std::uint64_t moved, std::uint64_t size) {
      config_.display.progress(moved, size);
    };
  }
}

void Runner::wait_before_retry(int next) {
  if (config_.display.waiting) config_.display.waiting(config_.retry_wait_s, next, config_.tries);
  std::this_thread::sleep_for(std::chrono::seconds(config_.retry_wait_s));
}

std::string Runner::stamp() const {
  if (!config_.output.timestamps) return {};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S (%Z) : ", &tm);
  return buf;
}

void Runner::say(const std::string& line) {
  out_ << stamp() << line << '\n';
}

// Result lines ("<command> OK|FAILED") and -m lines: never timestamped, as the real client
// writes them (its -t stamps only messages).
void Runner::result(const std::string& line) {
  out_ << line << '\n';
}

void Runner::warn_error(int code, const std::string& text) {
  char num[8];
  std::snprintf(num, sizeof num, "%05d", code);
  err_ << stamp() << "BBFTP-ERROR-" << num << " : " << text << '\n';
}

bool Runner::start() {
  // Like the real client: a refusal the server calls final (MSG_BAD_NO_RETRY) or an
  // incompatible server ends the tries, and so does a server whose identity we refuse (its key
  // will not change by trying again); MSG_BAD ("busy") and lost connections are tried again.
  auto final_refusal = [this] {
    return last_error_ == session::client_error::kIncompatible ||
           last_error_ == session::client_error::kIdentity ||
           (last_error_ == session::client_error::kServer && !last_refusal_retryable_);
  };
  for (int attempt = 1;; ++attempt) {
    if (reconnect()) {
      last_error_ = 0;  // a try that succeeds leaves no error behind (the real client exits 0)
      return true;
    }
    if (attempt >= config_.tries || final_refusal()) break;
    wait_before_retry(attempt + 1);
  }
  if (!final_refusal()) {
    last_failure_ =
        "Maximum try on connection reached (" + std::to_string(config_.tries) + ") aborting";
    warn_error(session::client_error::kMaxTries, last_failure_);
    last_error_ = session::client_error::kMaxTries;
  }
  if (config_.output.json) {
    nlohmann::ordered_json j{{"command", "connect " + config_.connection.host},
                             {"verb", "connect"},
                             {"outcome", "failed"},
                             {"error", last_error_},
                             {"message", last_failure_}};
    out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  }
  return false;
}

bool Runner::reconnect() {
  client_.emplace(config_.connection);
  if (config_.output.verbose) say(">> USER " + config_.connection.user + " PASS");
  auto hello = client_->connect();
  if (!hello) {
    warn_error(hello.error, hello.text);
    last_error_ = hello.error;
    last_failure_ = hello.text;
    last_refusal_retryable_ = hello.kind == session::Outcome::retry;
    return false;
  }
  if (config_.output.verbose) say("<< " + hello.text);
  // Replay what the previous connection had set, as the real client does.
  if (remote_umask_) client_->set_umask(*remote_umask_);
  if (remote_cos_) client_->set_cos(*remote_cos_);
  if (!remote_dir_.empty()) {
    if (config_.output.verbose) say(">> COMMAND : cd " + remote_dir_);
    auto cd = client_->cd(remote_dir_);
    if (config_.output.verbose && cd) say("<< OK : Current remote directory is " + cd.text);
  }
  return true;
}

Outcome Runner::with_retries(const std::string& shown, const Attempt& attempt) {
  Outcome o;
  for (int tries = 1;; ++tries) {
    if (!client_ || !client_->connected()) {
      // Connected again with all the tries of a first connection, as the real client does;
      // when none succeeds the run is over (start() said so).
      const int earlier = last_error_;  // an earlier command's failure stays the exit code
      if (start()) {
        last_error_ = earlier;
      } else {
        aborted_ = true;
        o.kind = Outcome::broken;
        o.error = last_error_;
        o.text.clear();
        return o;
      }
    }
    if (config_.output.verbose) say(">> COMMAND : " + shown);
    o = attempt();
    if (o.kind == Outcome::ok || o.kind == Outcome::refused || o.kind == Outcome::local_failure) {
      return o;
    }
    // The last attempt's error is printed once, with the command's result (Runner::run).
    if (tries >= config_.tries) return o;
    if (!moving_.empty() && config_.display.end) config_.display.end(false, 0);
    warn_error(o.error, o.text);
    if (config_.output.verbose) {
      say("Retrying command waiting " + std::to_string(config_.retry_wait_s) + " s");
    }
    wait_before_retry(tries + 1);
    if (!moving_.empty() && config_.display.begin) config_.display.begin(moving_, std::nullopt);
  }
}

std::string Runner::remote_join(const std::string& dir, const std::string& name) const {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

int Runner::run(const Command& c) {
  std::string failure;
  files_.clear();
  int code = 0;
  switch (c.kind) {
    case Command::Kind::blank:
      if (!config_.output.json) result(c.raw + " OK");  // the real client's line, even for these
      return 0;
    case Command::Kind::unknown:
      // The real client's words (and spelling); the exit code stays as it was.
      warn_error(kUnknownCommand, "Unkown command : " + c.verb);
      if (config_.output.json) {
        report_json(c, kUnknownCommand, "Unkown command : " + c.verb);
      } else {
        result(c.raw + " FAILED");
      }
      return kUnknownCommand;
    case Command::Kind::malformed:
      code = kIncorrectCommand;
      failure = "Incorrect command : " +
                c.raw.substr(std::min(c.raw.size(), c.raw.find_first_not_of(" \t\r\n\v\f")));
      break;
    case Command::Kind::run:
      code = execute(c, failure);
      break;
  }
  if (aborted_) return code;  // start() has said why; the real client prints no result line
  if (code != 0 && !failure.empty()) warn_error(code, failure);
  if (config_.output.json) {
    report_json(c, code, failure);
  } else {
    result(c.raw + (code == 0 ? " OK" : " FAILED"));
  }
  if (code != 0) last_error_ = code;
  return code;
}

void Runner::report_json(const Command& c, int code, const std::string& failure) {
  nlohmann::ordered_json j;
  std::string command = c.raw;
  command.erase(0, command.find_first_not_of(" \t"));
  j["command"] = command;
  j["verb"] = c.verb;
  j["outcome"] = code == 0 ? "ok" : "failed";
  if (code != 0) {
    j["error"] = code;
    j["message"] = failure;
  }
  if (!files_.empty() || c.verb == "get" || c.verb == "put" || c.verb == "mget" ||
      c.verb == "mput") {
    auto files = nlohmann::ordered_json::array();
    std::uint64_t bytes = 0;
    double seconds = 0;
    int streams = 0;
    for (const auto& f : files_) {
      nlohmann::ordered_json one{{"source", f.source},
                                 {"destination", f.destination},
                                 {"outcome", f.outcome ? "ok" : "failed"}};
      if (f.outcome) {
        one["bytes"] = f.outcome.bytes;
        one["seconds"] = f.outcome.seconds;
        one["streams"] = std::max(f.outcome.streams, 1);
        bytes += f.outcome.bytes;
        seconds += f.outcome.seconds;
        streams = std::max(streams, std::max(f.outcome.streams, 1));
      } else {
        one["error"] = f.outcome.error;
        one["message"] = f.outcome.text;
      }
      files.push_back(std::move(one));
    }
    j["files"] = std::move(files);
    j["bytes"] = bytes;
    j["seconds"] = seconds;
    j["streams"] = streams;
  }
  out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

int Runner::execute(const Command& c, std::string& failure) {
  auto& t = config_.transfer;
  const auto& a = c.args;
  const std::string shown = [&] {
    std::string s = c.verb;
    for (const auto& x : a) s += " " + x;
    return s;
  }();
  // Settings, handled locally.
  if (c.verb.rfind("set", 0) == 0 && c.verb != "setremoteumask" && c.verb != "setremotecos") {
    if (c.verb == "setoption") {
      std::string name = a[0];
      const bool on = name.rfind("no", 0) != 0;
      if (!on) name = name.substr(2);
      for (const auto& [n, bit] : kOptionBits) {
        if (n != name) continue;
        if (on && bit == tropt::kRfioO) {  // as the real client built without RFIO
          failure = "Incorrect command : setoption " + a[0] + " (RFIO not supported)";
          return kIncorrectCommand;
        }
        t.options = on ? (t.options | bit) : (t.options & ~bit);
        return 0;
      }
      // The real client's words. (It then exits 0 if nothing fails later, a slip we do not
      // copy: the exit code says this failed.)
      failure = "Incorrect command : setoption " + a[0];
      return kIncorrectCommand;
    }
    const bool octal = c.verb == "setlocalumask";
    const auto v = leading_number(a[0], octal ? 8 : 10);
    if (!v) {
      failure = "Incorrect command : " + c.verb + " " + a[0] + " (value must be positive " +
                (octal ? "octal" : "decimal") + ")";
      return kIncorrectCommand;
    }
    if (octal) {
      local_.set_umask(static_cast<mode_t>(*v & 0777));
      return 0;
    }
    // Any number is taken, as the real client takes it; what cannot work is raised to 1.
    const auto iv = static_cast<int>(std::clamp<long>(*v, 1, 1 << 30));
    const auto seconds = std::chrono::milliseconds(std::chrono::seconds(iv));
    if (c.verb == "setnbstream") t.streams = iv;
    if (c.verb == "setbuffersize") t.buffer_kb = iv;
    if (c.verb == "setrecvwinsize") t.recv_window_kb = iv;
    if (c.verb == "setsendwinsize") t.send_window_kb = iv;
    if (c.verb == "setrecvwinsize" || c.verb == "setsendwinsize") t.apply_windows = true;
    if (c.verb == "setrecvcontrolto") config_.connection.control_timeout = seconds;
    if (c.verb == "setsendcontrolto") config_.connection.control_timeout = seconds;
    if (c.verb == "setackto") config_.connection.ack_timeout = seconds;
    if (c.verb == "setdatato") config_.connection.data_timeout = seconds;
    if (client_) {  // a session already open takes them too
      client_->set_timeouts(config_.connection.control_timeout, config_.connection.data_timeout,
                            config_.connection.ack_timeout);
    }
    return 0;
  }
  if (c.verb == "lcd") {
    auto ok = local_.chdir(a[0]);
    if (!ok) {
      failure = "Error changing directory " + a[0] + " (" + ok.error().reason() + ")";
      return kLocalDirectory;
    }
    return 0;
  }

  auto finish = [&](const Outcome& o) {
    if (o) return 0;
    failure = o.text;
    if (o.kind == Outcome::refused || o.kind == Outcome::local_failure) return o.error;
    return o.error;  // earlier tries were printed as they failed; run() prints this one
  };
  auto verbose_reply = [&](const Outcome& o, const std::string& prefix = "OK : ") {
    if (config_.output.verbose && o) say("<< " + (o.text.empty() ? "OK" : prefix + o.text));
  };

  if (c.verb == "cd") {
    auto o = with_retries(shown, [&] { return client_->cd(a[0]); });
    if (o) {
      remote_dir_ = o.text;
      verbose_reply(o, "OK : Current remote directory is ");
    }
    return finish(o);
  }
  if (c.verb == "mkdir" || c.verb == "rm" || c.verb == "stat" || c.verb == "df") {
    auto o = with_retries(shown, [&]() -> Outcome {
      if (c.verb == "mkdir") return client_->mkdir(a[0], t.options);
      if (c.verb == "rm") return client_->rm(a[0], t.options);
      if (c.verb == "stat") return client_->stat(a[0], t.options);
      return client_->df(a[0], t.options);
    });
    verbose_reply(o);
    if (o && config_.output.machine && (c.verb == "stat" || c.verb == "df")) {
      result(c.verb + " " + o.text);
    }
    return finish(o);
  }
  if (c.verb == "checksum") {  // the extension: a stored file's checksum, as the daemon reads it
    auto o = with_retries(shown, [&] { return client_->checksum(a[0]); });
    verbose_reply(o);
    if (o) result("checksum " + a[0] + " " + o.text);
    return finish(o);
  }
  if (c.verb == "setremoteumask" || c.verb == "setremotecos") {
    const bool octal = c.verb == "setremoteumask";
    const auto v = leading_number(a[0], octal ? 8 : 10);
    if (!v || (octal && *v < 0)) {
      failure = "Incorrect command : " + c.verb + " " + a[0] + " (value must be positive " +
                (octal ? "octal" : "decimal") + ")";
      return kIncorrectCommand;
    }
    auto o = with_retries(shown, [&] {
      return c.verb == "setremoteumask" ? client_->set_umask(static_cast<std::uint32_t>(*v))
                                        : client_->set_cos(static_cast<std::int32_t>(*v));
    });
    if (o && c.verb == "setremoteumask") remote_umask_ = static_cast<std::uint32_t>(*v);
    if (o && c.verb == "setremotecos") remote_cos_ = static_cast<std::int32_t>(*v);
    verbose_reply(o);
    return finish(o);
  }
  if (c.verb == "dir") {
    const std::string pattern = remote_join(a[0], "*");
    auto o = with_retries(shown + " ", [&] { return client_->list(pattern, t.options); });
    if (o) {
      if (config_.output.machine) {
        result("dir " + a[0]);
        for (const auto& e : o.listing) result(std::string{e.link, e.kind} + " " + e.path);
      }
    }
    return finish(o);
  }

  // A retry resumes from what the failed attempt moved (with our daemon); so do reput, reget
  // and --resume from the first attempt.
  const bool resume_verb = c.verb == "reput" || c.verb == "reget";
  auto transfer = [&](bool put, const std::string& src, const std::string& dst) {
    moving_ = put ? src : dst;
    if (config_.display.begin) config_.display.begin(moving_, std::nullopt);
    int attempts = 0;
    auto o = with_retries(put ? "put " + src + " " + dst : "get " + src + " " + dst, [&] {
      session::TransferSettings settings = t;
      settings.resume = t.resume || resume_verb || attempts++ > 0;
      return put ? client_->put(local_, src, dst, settings)
                 : client_->get(local_, src, dst, settings);
    });
    if (config_.display.end) config_.display.end(static_cast<bool>(o), o.bytes);
    moving_.clear();
    files_.push_back({src, dst, o});
    if (o) {
      if (config_.output.verbose) {
        say("<< OK");
        const double s = std::max(o.seconds, 1e-9);
        say(std::to_string(o.bytes) + (put ? " bytes send in " : " bytes got in ") + g3(s) +
            " secs (" + g3(static_cast<double>(o.bytes) / 1024 / s) + " Kbytes/sec or " +
            g3(static_cast<double>(o.bytes) * 8 / 1048576 / s) + " Mbits/s)");
        if (o.resumed_bytes > 0) {
          say("resumed: " + std::to_string(o.resumed_bytes) + " bytes were there already");
        }
        // The extension's end-to-end checksum, as both sides computed it.
        if (!o.checksum.empty()) {
          say("checksum " + o.checksum +
              (o.blocks_resent > 0
                   ? " (" + std::to_string(o.blocks_resent) + " blocks arrived bad and came again)"
                   : ""));
        }
      }
      if (config_.output.machine) {
        char line[256];
        std::snprintf(line, sizeof line, "%s %llu %.3f %d %d %d %d %s", put ? "put" : "get",
                      static_cast<unsigned long long>(o.bytes), o.seconds, t.buffer_kb,
                      t.send_window_kb, t.recv_window_kb, std::max(o.streams, 1),
                      (t.options & tropt::kGzip) ? "gzip" : "nogzip");
        result(line);
      }
    }
    return finish(o);
  };
  // As the real client: "get r" is "get r ./basename(r)", "put l" is "put l basename(l)", and a
  // destination ending with '/' receives the source's base name.
  const auto target = [&](const std::string& src, const std::string& dst) {
    return !dst.empty() && dst.back() == '/' ? dst + basename_of(src) : dst;
  };
  if (c.verb == "put" || c.verb == "reput") {
    return transfer(true, a[0], a.size() > 1 ? target(a[0], a[1]) : basename_of(a[0]));
  }
  if (c.verb == "get" || c.verb == "reget") {
    return transfer(false, a[0], target(a[0], a.size() > 1 ? a[1] : "./"));
  }
  // mget and mput as the real client runs them: one "get SRC DIR/NAME OK|FAILED" line per file
  // (DIR as typed, "./" by default, so "get a .//a OK"), its error when it fails (which becomes
  // the exit code), and the command's own line OK once the files were found.
  auto each_file = [&](bool put, const std::string& src, const std::string& dir) {
    const std::string dst = dir + "/" + basename_of(src);
    std::string why;
    std::swap(why, failure);
    const int rc = transfer(put, src, dst);
    if (rc != 0) {
      if (!failure.empty()) warn_error(rc, failure);
      last_error_ = rc;
    }
    if (!config_.output.json) {  // --json: the files go in the command's object
      result(std::string(put ? "put " : "get ") + src + " " + dst + (rc == 0 ? " OK" : " FAILED"));
    }
    failure = std::move(why);
  };
  if (c.verb == "mget") {
    auto o = with_retries("list " + a[0], [&] { return client_->list(a[0], t.options); });
    if (!o) return finish(o);
    for (const auto& e : o.listing) {
      if (e.kind == 'f') each_file(false, e.path, a.size() > 1 ? a[1] : "./");
    }
    return 0;
  }
  if (c.verb == "mput") {
    glob_t g{};
    if (::glob(a[0].c_str(), 0, nullptr, &g) == 0) {  // no match: nothing to do, OK
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        // The real client lists a pattern without a directory as "./NAME".
        const std::string src =
            (a[0].find('/') == std::string::npos ? "./" : "") + std::string(g.gl_pathv[i]);
        auto st = local_.stat(src);
        if (st && st->type == storage::FileType::regular) {
          each_file(true, src, a.size() > 1 ? a[1] : "./");
        }
      }
    }
    ::globfree(&g);
    return 0;
  }
  failure = "unknown command " + c.verb;
  return 23;
}

void Runner::finish() {
  if (client_) client_->close();
}

}  // namespace ferry::client
