// The bbftp control language (-e "cmd; cmd" or -i FILE): parsing, and a runner that executes
// commands against a server the way the real client does: one "<command> OK" / "<command> FAILED"
// line each, BBFTP-ERROR lines on stderr, retries and reconnection, exit code of the last failure.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "client/display.hpp"
#include "session/bbftp/client.hpp"
#include "storage/sandbox.hpp"

namespace ferry::client {

struct Command {
  // As the real client sorts a line: a command to run; a blank line or a comment ('#' or '!'
  // first), which is "OK" without doing anything; a verb it does not know (error 25, which
  // leaves the exit code alone); a known verb with too few or too many arguments (error 26).
  enum class Kind { run, blank, unknown, malformed };
  Kind kind = Kind::run;
  std::string raw;   // as typed, echoed in the result line
  std::string verb;  // "get", "setoption", ...
  std::vector<std::string> args;
};

// Splits "-e" text on ';', or a control file's text on '\n' (each piece as typed, leading space
// included, and an empty last piece after a final separator: the real client echoes them all).
std::vector<std::string> split_commands(const std::string& text, char separator = ';');
// Sorts and splits one line (never fails: a bad line is a Command of kind unknown/malformed,
// reported when its turn comes, as the real client does).
Command parse_command(const std::string& raw);

struct OutputOptions {
  bool verbose = false;     // -V
  bool machine = false;     // -m
  bool timestamps = false;  // -t
  bool warnings = false;    // -W
  // --json: one JSON object per command on the output instead of its "OK"/"FAILED" line:
  // {"command", "verb", "outcome" ("ok"/"failed"), "error" and "message" when failed, and for
  // transfers "files" (each: source, destination, bytes, seconds, streams, outcome), "bytes",
  // "seconds", "streams"}.
  bool json = false;
};

struct RunnerConfig {
  session::ClientConfig connection;
  session::TransferSettings transfer;
  OutputOptions output;
  int tries = 5;          // -r
  int retry_wait_s = 30;  // between retries, as the real client
  // From the bbftprc file: applied once connected (remote) or at once (local).
  std::optional<std::uint32_t> remote_umask;
  std::optional<std::int32_t> remote_cos;
  std::optional<std::uint32_t> local_umask;
  TransferDisplay display;
};

class Runner {
 public:
  Runner(RunnerConfig config, std::ostream& out, std::ostream& err);

  // Connects (with retries). False when no connection could be made (error printed).
  bool start();
  // Runs one command and prints its result line. Returns its error number (0 when OK).
  int run(const Command& c);
  void finish();
  int exit_code() const noexcept { return last_error_; }
  // The connection was lost and could not be made again within the tries: the run ends here,
  // as the real client's does ("Maximum try on connection reached", no result line).
  bool aborted() const noexcept { return aborted_; }

 private:
  using Attempt = std::function<session::Outcome()>;
  session::Outcome with_retries(const std::string& shown, const Attempt& attempt);
  bool reconnect();
  int execute(const Command& c, std::string& failure);
  void say(const std::string& line);     // a message (-V), timestamped with -t
  void result(const std::string& line);  // a result or -m line, never timestamped
  void warn_error(int code, const std::string& text);
  std::string stamp() const;
  std::string remote_join(const std::string& dir, const std::string& name) const;

  RunnerConfig config_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<session::BbftpClient> client_;
  storage::Sandbox local_;
  std::string remote_dir_;  // last successful cd, replayed after a reconnect
  std::optional<std::uint32_t> remote_umask_;
  std::optional<std::int32_t> remote_cos_;
  // The files a transfer command moved (or tried to), for --json.
  struct FileResult {
    std::string source, destination;
    session::Outcome outcome;
  };
  std::vector<FileResult> files_;
  std::string moving_;        // the local file of the transfer under way (for the display)
  std::string last_failure_;  // the text of the last connection failure (for --json)
  void report_json(const Command& c, int code, const std::string& failure);
  void wait_before_retry(int next);
  int last_error_ = 0;
  bool aborted_ = false;
  bool last_refusal_retryable_ = false;  // the last login refusal was MSG_BAD (busy)
};

}  // namespace ferry::client
