// bbftp: the bbftp client. Command line, control language and output follow the real bbftp 3.x
// client; long options add non-interactive passwords and an explicit protocol choice.
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli.hpp"
#include "app/logging.hpp"
#include "app/progress.hpp"
#include "app/signals.hpp"
#include "client/bbftp/bbftprc.hpp"
#include "client/bbftp/control.hpp"
#include "client/bbftp/known_hosts.hpp"
#include "crypto/host_key.hpp"
#include "io/socket.hpp"

namespace {

// As the real client's getpass(3): "Password: " on the terminal and the answer read from it
// without echo, or, without a terminal, the prompt on stderr and the answer from standard input
// (standard output stays the results'). Nothing at all to read (no terminal, stdin empty or
// /dev/null): nullopt, rather than trying an empty password.
std::optional<std::string> read_password() {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  const int fd = tty >= 0 ? tty : STDIN_FILENO;
  constexpr std::string_view kPrompt = "Password: ";
  (void)!::write(tty >= 0 ? tty : STDERR_FILENO, kPrompt.data(), kPrompt.size());
  termios old{};
  const bool is_tty = ::tcgetattr(fd, &old) == 0;
  if (is_tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string pw;
  char ch;
  bool got_line = false;
  while (::read(fd, &ch, 1) == 1) {
    if (ch == '\n') {
      got_line = true;
      break;
    }
    pw += ch;
  }
  if (is_tty) ::tcsetattr(fd, TCSAFLUSH, &old);
  if (tty >= 0) ::close(tty);
  if (!is_tty && !got_line && pw.empty()) return std::nullopt;
  return pw;
}

// Splits the ssh command (-L) into words as the real client does: blanks separate, quotes group,
// a backslash takes the next character as it is.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && (c == ' ' || c == '\t' || c == '\n')) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else if (quote != 0 && c == quote) {
      quote = 0;
    } else if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The whole file; `ok` false (errno set) when it cannot be read, a directory included.
std::string slurp(const std::string& path, bool& ok) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    ok = false;
    return {};
  }
  std::ifstream in(path);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// bbftp --forget-host HOST[:PORT]: the pin goes, the next connection pins the key anew.
int forget_pin(const std::string& path, const std::string& where) {
  std::string host = where;
  std::uint16_t port = 5021;
  if (const auto colon = where.rfind(':');
      colon != std::string::npos && where.find(':') == colon) {  // not an IPv6 literal
    host = where.substr(0, colon);
    try {
      const int p = std::stoi(where.substr(colon + 1));
      if (p < 1 || p > 65535) throw std::out_of_range("port");
      port = static_cast<std::uint16_t>(p);
    } catch (const std::exception&) {
      std::cerr << "bbftp: --forget-host wants HOST[:PORT], got '" << where << "'\n";
      return 2;
    }
  } else if (host.size() > 2 && host.front() == '[') {
    const auto close = host.find(']');
    if (close != std::string::npos && close + 2 < host.size() && host[close + 1] == ':') {
      port = static_cast<std::uint16_t>(std::atoi(host.c_str() + close + 2));
    }
    host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  auto pins = ferry::client::KnownHosts::load(path);
  if (!pins) {
    std::cerr << "bbftp: " << pins.error() << '\n';
    return 1;
  }
  if (!pins->forget(host, port)) {
    std::cerr << "bbftp: no pin for " << host << " port " << port << " in " << path << '\n';
    return 1;
  }
  if (auto saved = pins->save(path); !saved) {
    std::cerr << "bbftp: " << saved.error() << '\n';
    return 1;
  }
  std::cout << "Removed the pin of " << host << " port " << port << " from " << path << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bbftp: bulk file transfer client for bbftp daemons (protocols 1, 2 and 3)",
               "bbftp"};
  ferry::client::RunnerConfig cfg;
  std::string commands, control_file, rc_file, password_file, output_file, error_file;
  std::string active_range;
  bool gzip = false, qbss = false, simulate = false, debug = false, background = false;
  int protocol = 0;
  // An option given twice takes its last value, as the real client's getopt loop does.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  ferry::app::add_version_flag(app, "bbftp");
  app.add_option("-u", cfg.connection.user, "User name on the server");
  app.add_option("-e", commands, "Commands to run, separated by ';'");
  app.add_option("-i", control_file, "Control file of commands (results go to FILE.res)");
  app.add_option("-w", cfg.connection.port, "Server control port")->capture_default_str();
  app.add_option("-p", cfg.transfer.streams, "Parallel data streams")->capture_default_str();
  app.add_flag("-c", gzip, "Compress data (zlib)");
  app.add_flag("-q", qbss, "Mark data packets QBSS (IP TOS 0x20)");
  app.add_flag("-n", simulate, "Simulation: negotiate transfers but move no data");
  app.add_option("-r", cfg.tries, "Tries per command and connection")->capture_default_str();
  app.add_option("-R", rc_file, "bbftprc file of set... commands run first ('none': none)");
  app.add_flag("-V", cfg.output.verbose, "Verbose: show every request and reply");
  app.add_flag("-t", cfg.output.timestamps, "Timestamp every line");
  app.add_flag("-m", cfg.output.machine, "Machine-readable results");
  app.add_flag("-W", cfg.output.warnings, "Print server warnings on standard error");
  app.add_flag("-d", debug, "Debug logging");
  app.add_flag("-b", background, "Run in the background (once the password is known)");
  app.add_option("-o", output_file, "Write results to FILE");
  app.add_option("-f", error_file, "Write errors to FILE");
  app.add_option("-D", active_range,
                 "Protocol 2 (active: the client listens), on ports P0:P1 when given")
      ->expected(0, 1)
      ->default_str("");
  app.add_option("--protocol", protocol, "Protocol version to speak (1, 2 or 3)")
      ->check(CLI::Range(1, 3));
  app.add_option("--password-file", password_file, "Read the password from FILE (first line)");
  app.add_option("--retry-wait", cfg.retry_wait_s, "Seconds between retries")
      ->capture_default_str();
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "No progress bar (shown only on a terminal)");
  app.add_flag("--json", cfg.output.json,
               "One JSON object per command instead of its OK/FAILED line");
  bool use_ssh = false, ssh_batch = false;
  std::string ssh_cmd, ssh_remote_cmd, ssh_identity;
  app.add_flag("-s", use_ssh, "ssh mode: start 'bbftpd -s' on the server through ssh");
  app.add_flag("-S", ssh_batch, "ssh mode in batch mode (no password or passphrase asked)");
  app.add_option("-E", ssh_remote_cmd, "ssh mode: the server command (default 'bbftpd -s')");
  app.add_option("-I", ssh_identity, "ssh mode: the ssh identity file");
  app.add_option("-L", ssh_cmd, "ssh mode: the ssh command (default 'ssh -q')");
  std::string known_hosts = ferry::client::default_known_hosts_path(), forget_host;
  std::string extension = "on", checksum = "xxh3";
  app.add_option("--known-hosts", known_hosts,
                 "The pins of our daemons' host keys (the bbftp extension)")
      ->capture_default_str();
  app.add_option("--forget-host", forget_host,
                 "Remove the pin of HOST[:PORT] (port 5021 by default) and exit");
  app.add_option("--extension", extension,
                 "Use the bbftp extension when our daemon announces it (host key pinned, sealed "
                 "login and control channel, proven data streams)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--checksum", checksum,
                 "With our daemon: the end-to-end checksum (block sums with repair, and the whole "
                 "file's compared before it takes its name)")
      ->check(CLI::IsMember({"xxh3", "sha256", "off"}))
      ->capture_default_str();
  app.add_flag("--resume", cfg.transfer.resume,
               "With our daemon: continue a put or get from what an interrupted one left on the "
               "receiving side (retries with -r resume by themselves)");
  std::string host;
  app.add_option("host", host, "Server");
  if (int rc = ferry::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
  if (!forget_host.empty()) return forget_pin(known_hosts, forget_host);
  if (host.empty()) {
    std::cerr << "host is required\nRun with --help for more information.\n";
    return 106;  // CLI11's code for a missing required argument
  }
  if (cfg.tries < 1) {
    std::cerr << "BBFTP-ERROR-00004 : Number of tries must be numeric > 0\n";
    return 4;
  }

  ferry::app::ignore_sigpipe();
  try {
    ferry::app::setup_logging({debug ? "debug" : "warning", {}, "bbftp"});
  } catch (const std::exception& e) {
    std::cerr << "bbftp: " << e.what() << '\n';
    return 2;
  }
  // The real client's checks, words and codes, in its order.
  if (struct stat st{}; app.count("-i") > 0 && ::stat(control_file.c_str(), &st) != 0) {
    std::cerr << "BBFTP-ERROR-00007 : Input file (" << control_file << ") cannot be stated\n";
    return 7;
  }
  if (app.count("-e") == 0 && app.count("-i") == 0) {
    std::cerr << "BBFTP-ERROR-00020 : Error on command line (-i or -e option are mandatory)\n";
    return 20;
  }
  if (app.count("-e") > 0 && app.count("-i") > 0) {
    std::cerr << "BBFTP-ERROR-00020 : Error on command line (Only one of -i or -e option are "
                 "permitted)\n";
    return 20;
  }
  // -E, -I, -L and -S imply ssh mode, as in the real client.
  use_ssh =
      use_ssh || ssh_batch || app.count("-E") > 0 || app.count("-I") > 0 || app.count("-L") > 0;
  if (cfg.connection.user.empty() && !use_ssh) {
    std::cerr << "BBFTP-ERROR-00018 : No username given\n";  // the real client's code and words
    return 18;
  }
  if (!ssh_identity.empty() && ::access(ssh_identity.c_str(), F_OK) != 0) {
    std::cerr << "BBFTP-ERROR-00005 : SSH identity file (" << ssh_identity
              << ") cannot be stated\n";
    return 5;
  }
  // An IPv6 literal may be written in brackets, as in URLs and ssh ("[::1]"); the real client
  // knows no IPv6 and refuses it.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  cfg.connection.host = host;
  cfg.connection.extension = extension == "on";
  cfg.connection.checksum = checksum == "sha256" ? ferry::session::ClientConfig::Checksum::sha256
                            : checksum == "off"  ? ferry::session::ClientConfig::Checksum::off
                                                 : ferry::session::ClientConfig::Checksum::xxh3;
  if (cfg.connection.extension && !known_hosts.empty()) {
    cfg.connection.check_identity = [&known_hosts,
                                     &cfg](const std::optional<ferry::crypto::PublicKey>& key) {
      std::optional<std::string> fingerprint;
      if (key) fingerprint = ferry::crypto::fingerprint(*key);
      return ferry::client::check_pin(known_hosts, cfg.connection.host, cfg.connection.port,
                                      fingerprint, [&cfg](const std::string& n, bool warning) {
                                        // Interactive users and -V see the fingerprint they
                                        // pinned; scripts' error output stays the real client's.
                                        if (warning || cfg.output.verbose || ::isatty(2) != 0) {
                                          std::cerr << n << '\n';
                                        }
                                      });
    };
  }
  // --json is the machine output: the lines of -V and -m would only get in its way.
  if (cfg.output.json) cfg.output.verbose = cfg.output.machine = false;
  if (gzip) cfg.transfer.options |= ferry::bbftp::tropt::kGzip;
  if (qbss) cfg.transfer.options |= ferry::bbftp::tropt::kQbss;
  cfg.transfer.simulate = simulate;
  if (protocol == 1) {
    cfg.connection.min_protocol = cfg.connection.max_protocol = 1;
  } else if (app.count("-D") > 0 || protocol == 2) {
    cfg.connection.max_protocol = 2;
    if (!active_range.empty() &&
        !ferry::app::parse_port_range(active_range, cfg.connection.data_port_first,
                                      cfg.connection.data_port_last)) {
      std::cerr << "BBFTP-ERROR-00004 : Invalid port range : " << active_range << '\n';
      return 4;
    }
  } else if (protocol == 3) {
    cfg.connection.min_protocol = 3;
  }

  // As the real client does, before asking for a password: a host that does not resolve, an
  // output file that cannot be written.
  if (!ferry::io::resolve(host, cfg.connection.port)) {
    std::cerr << "BBFTP-ERROR-00017 : BBftp_Hostname not found (" << host << ")\n";
    return 17;
  }
  std::ofstream out_file, err_file;
  auto open_result_file = [](std::ofstream& f, const std::string& path) {
    f.open(path);
    if (f) return true;
    std::cerr << "BBFTP-ERROR-00010 : Error openning file (" << path
              << ") : " << std::strerror(errno) << '\n';
    return false;
  };
  if (!output_file.empty() && !open_result_file(out_file, output_file)) return 10;
  if (!error_file.empty() && !open_result_file(err_file, error_file)) return 10;

  if (use_ssh) {
    // The real client's ssh command line. Batch mode accepts a host key it has never seen but,
    // unlike the real client's "StrictHostKeyChecking no", never a changed one.
    if (ssh_cmd.empty()) ssh_cmd = "ssh -q";
    if (ssh_remote_cmd.empty()) ssh_remote_cmd = "bbftpd -s";
    if (ssh_remote_cmd.find(" -s") == std::string::npos) ssh_remote_cmd += " -s";
    auto& argv_ssh = cfg.connection.ssh_command;
    argv_ssh = split_words(ssh_cmd);
    if (argv_ssh.empty()) {
      std::cerr << "BBFTP-ERROR-00043 : No ssh command specified\n";
      return 43;
    }
    for (const char* a : {"-x", "-a", "-oFallBackToRsh no"}) argv_ssh.emplace_back(a);
    if (ssh_batch) {
      argv_ssh.emplace_back("-oBatchMode yes");
      argv_ssh.emplace_back("-oStrictHostKeyChecking accept-new");
    }
    if (!ssh_identity.empty()) {
      argv_ssh.emplace_back("-i");
      argv_ssh.push_back(ssh_identity);
    }
    if (!cfg.connection.user.empty()) {
      argv_ssh.emplace_back("-l");
      argv_ssh.push_back(cfg.connection.user);
    }
    argv_ssh.push_back(host);
    argv_ssh.push_back(ssh_remote_cmd);
    if (debug) {
      std::cerr << "Executing :";
      for (const auto& a : argv_ssh) std::cerr << ' ' << a;
      std::cerr << '\n';
    }
  } else if (!password_file.empty()) {
    bool ok = false;
    std::string text = slurp(password_file, ok);
    if (!ok) {
      std::cerr << "BBFTP-ERROR-00008 : Cannot read password file " << password_file << '\n';
      return 8;
    }
    cfg.connection.password = text.substr(0, text.find('\n'));
  } else if (const char* env = std::getenv("BBFTP_PASSWORD"); env != nullptr) {
    cfg.connection.password = env;
  } else if (auto typed = read_password()) {
    cfg.connection.password = std::move(*typed);
  } else {
    std::cerr << "\nBBFTP-ERROR-00019 : Password is mandatory: there is no terminal to ask on; "
                 "give it in BBFTP_PASSWORD or with --password-file FILE\n";
    return 19;
  }

  // The bbftprc file, read before connecting as the real client does: -R FILE, else
  // ~/.bbftprc or /etc/bbftp.conf; a missing -R file or a bad value ends the run (exit 1).
  if (rc_file != "none") {
    const bool given = !rc_file.empty();
    const auto path =
        given ? std::optional<std::string>(rc_file) : ferry::client::default_bbftprc_path();
    if (path) {
      bool ok = false;
      const std::string text = slurp(*path, ok);
      if (!ok) {
        if (cfg.output.warnings) {
          std::cerr << "BBFTP-WARNING-00012 : Error reading .bbftprc file (" << *path
                    << ") : " << std::strerror(errno) << '\n';
        }
        if (given) return 1;
      } else {
        const auto rc = ferry::client::apply_bbftprc(text, cfg);
        if (cfg.output.warnings) {
          for (const auto& w : rc.warnings) {
            std::cerr << "BBFTP-WARNING-" << std::setw(5) << std::setfill('0') << w.code << " : "
                      << w.text << '\n';
          }
        }
        if (rc.failed) return 1;
      }
    }
  }
  std::vector<std::string> lines;
  if (app.count("-e") > 0) {
    for (auto& c : ferry::client::split_commands(commands)) lines.push_back(c);
  } else {
    bool ok = false;
    const std::string text = slurp(control_file, ok);
    if (!ok) {
      std::cerr << "BBFTP-ERROR-00008 : Cannot read control file " << control_file << '\n';
      return 8;
    }
    lines = ferry::client::split_commands(text, '\n');
    if (output_file.empty()) {
      output_file = control_file + ".res";
      if (!open_result_file(out_file, output_file)) return 10;
    }
  }

  std::ostream& out = output_file.empty() ? std::cout : out_file;
  std::ostream& err = error_file.empty() ? std::cerr : err_file;

  // As the real client: a line it cannot run is reported when its turn comes, after the login,
  // and the others still run.
  std::vector<ferry::client::Command> parsed;
  for (const auto& l : lines) parsed.push_back(ferry::client::parse_command(l));

  // On a terminal: a progress bar per file on stderr (erased before the result line, so that
  // the real client's lines stay as they are) and a word before each retry wait.
  std::optional<ferry::app::ProgressBar> bar;
  if (ferry::app::ProgressBar::terminal() && !no_progress) {
    cfg.display.begin = [&bar](const std::string& file, std::optional<std::uint64_t> size) {
      bar.emplace(file, size, true);
    };
    cfg.display.progress = [&bar](std::uint64_t moved, std::optional<std::uint64_t> size) {
      if (!bar) return;
      if (size) bar->set_total(*size);
      bar->update(moved);
    };
    // Erased, not finished: the real client's result line is the record of the transfer.
    cfg.display.end = [&bar](bool, std::uint64_t) {
      if (bar) bar->abandon();
      bar.reset();
    };
    cfg.display.waiting = [](int seconds, int next, int tries) {
      std::cerr << "bbftp: waiting " << seconds << " s before try " << next << " of " << tries
                << '\n';
    };
  }
  if (background) {
    // As the real client, once the password is known: the parent returns 0 at once and the
    // child, in a session of its own, does the work (its results in -o / -f, or the terminal).
    out.flush();
    err.flush();
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    if (pid < 0) {
      err << "BBFTP-ERROR-00031 : Error forking while setting in background\n";
      return 31;
    }
    if (pid > 0) return 0;
    (void)::setsid();
    if (cfg.output.verbose) out << "Starting under pid " << ::getpid() << '\n';
  }
  ferry::client::Runner runner(cfg, out, err);
  if (!runner.start()) return runner.exit_code();
  for (const auto& c : parsed) {
    runner.run(c);
    if (runner.aborted()) break;
  }
  runner.finish();
  out.flush();
  return runner.exit_code();
}
