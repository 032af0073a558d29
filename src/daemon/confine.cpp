#include "daemon/confine.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "core/unique_fd.hpp"
#include "session/bbftp/sums_ahead.hpp"

namespace ferry::daemon {
namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

// --- Landlock (no glibc wrappers) ---------------------------------------------------------

long landlock_abi() {
  static const long abi = [] {
    const long v =
        ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0L : v;
  }();
  return abi;
}

std::uint64_t handled_rights(long abi) {
  std::uint64_t r =
      LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
      LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
  if (abi >= 2) r |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
  if (abi >= 3) r |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
  return r;
}

// What a session may do beneath its root: read, write, create and remove files and
// directories, rename within it. Not: execute, devices, sockets, fifos, symlinks.
std::uint64_t root_rights(long abi) {
  std::uint64_t r = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                    LANDLOCK_ACCESS_FS_MAKE_REG;
  return r | (handled_rights(abi) & ~handled_rights(1));  // REFER, TRUNCATE when known
}

// Restricts the file system to beneath `root_fd` (nothing at all when -1). Returns false when
// the kernel has no Landlock (the caller says so); errors are real failures.
ferry::Result<bool, std::string> apply_landlock(int root_fd) {
  const long abi = landlock_abi();
  if (abi < 1) return false;
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled_rights(abi);
  UniqueFd rules(static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (!rules) return Unexpected("landlock_create_ruleset: " + errno_text(errno));
  if (root_fd >= 0) {
    landlock_path_beneath_attr beneath{};
    beneath.allowed_access = root_rights(abi);
    beneath.parent_fd = root_fd;
    if (::syscall(SYS_landlock_add_rule, rules.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) !=
        0) {
      return Unexpected("landlock_add_rule: " + errno_text(errno));
    }
  }
  if (::syscall(SYS_landlock_restrict_self, rules.get(), 0) != 0) {
    return Unexpected("landlock_restrict_self: " + errno_text(errno));
  }
  return true;
}

void say_no_landlock_once() {
  static bool said = false;
  if (said) return;
  said = true;
  spdlog::warn("this kernel has no Landlock: sessions are confined by their sandbox only");
}

// --- seccomp ------------------------------------------------------------------------------

class Filter {
 public:
  Filter() : ctx_(::seccomp_init(SCMP_ACT_KILL_PROCESS)) {}
  ~Filter() {
    if (ctx_ != nullptr) ::seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  // Names this architecture does not have are skipped (they cannot be called either).
  void allow(std::initializer_list<const char*> names) {
    for (const char* n : names) {
      const int nr = ::seccomp_syscall_resolve_name(n);
      if (nr == __NR_SCMP_ERROR) continue;
      check(::seccomp_rule_add(ctx_, SCMP_ACT_ALLOW, nr, 0), n);
    }
  }
  // Allowed only when every comparison holds.
  template <class... Cmp>
  void allow_if(const char* name, Cmp... cmps) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    check(::seccomp_rule_add(ctx_, SCMP_ACT_ALLOW, nr, static_cast<unsigned>(sizeof...(cmps)),
                             cmps...),
          name);
  }
  void fail_if(const char* name, int err, scmp_arg_cmp cmp) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    check(::seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(static_cast<std::uint32_t>(err)), nr, 1, cmp),
          name);
  }
  void fail(const char* name, int err) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    check(::seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(static_cast<std::uint32_t>(err)), nr, 0), name);
  }
  ferry::Result<void, std::string> load() {
    if (ctx_ == nullptr) return Unexpected(std::string("seccomp_init failed"));
    if (!error_.empty()) return Unexpected(error_);
    if (const int rc = ::seccomp_load(ctx_); rc != 0) {
      return Unexpected("seccomp_load: " + errno_text(-rc));
    }
    return {};
  }

 private:
  void check(int rc, const char* name) {
    if (rc != 0 && error_.empty()) error_ = std::string("seccomp rule for ") + name + " refused";
  }
  scmp_filter_ctx ctx_;
  std::string error_;
};

// An argument comparison (libseccomp's SCMP_A0 macros are C compound literals, which C++
// compilers warn about). MASKED_EQ compares (arg & a) == b.
scmp_arg_cmp arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  scmp_arg_cmp c{};
  c.arg = index;
  c.op = op;
  c.datum_a = a;
  c.datum_b = b;
  return c;
}
scmp_arg_cmp arg0(scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  return arg(0, op, a, b);
}

// Every process: memory, time, signals, its own end, reads and writes on what it holds.
// Arguments are checked where a call could reach another process of the same account (the
// pre-login processes share one, so do password-file sessions): prlimit64, sched_getaffinity
// and tgkill only on itself, fcntl without F_SETOWN / F_SETSIG, sendto only on a connected
// socket (no datagram to a socket by path, such as /dev/log in someone else's name).
void allow_base(Filter& f) {
  f.allow({"read",
           "write",
           "readv",
           "writev",
           "pread64",
           "pwrite64",
           "close",
           "lseek",
           "fstat",
           "newfstatat",
           "statx",
           "dup",
           "brk",
           "mmap",
           "munmap",
           "mremap",
           "mprotect",
           "madvise",
           "futex",
           "set_robust_list",
           "rseq",
           "clock_gettime",
           "clock_getres",
           "gettimeofday",
           "time",
           "nanosleep",
           "clock_nanosleep",
           "poll",
           "ppoll",
           "getrandom",
           "rt_sigreturn",
           "rt_sigprocmask",
           "rt_sigaction",
           "sigaltstack",
           "restart_syscall",
           "getpid",
           "gettid",
           "getppid",
           "getuid",
           "geteuid",
           "getgid",
           "getegid",
           "getresuid",
           "getresgid",
           "getgroups",
           "sched_yield",
           "exit",
           "exit_group",
           "recvfrom",
           "shutdown",
           "getsockname",
           "getpeername",
           "getrlimit",
           "uname",
           "sysinfo"});
  for (int cmd : {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC}) {
    f.allow_if("fcntl", arg(1, SCMP_CMP_EQ, static_cast<scmp_datum_t>(cmd)));
  }
  f.allow_if("prlimit64", arg0(SCMP_CMP_EQ, 0));
  f.allow_if("sched_getaffinity", arg0(SCMP_CMP_EQ, 0));
  f.allow_if("sendto", arg(4, SCMP_CMP_EQ, 0));
  // abort() raises SIGABRT at itself, and at no other process.
  f.allow_if("tgkill", arg0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid())));
}

// --- accounts -----------------------------------------------------------------------------

// No new privileges (no setuid execution, a condition of seccomp without CAP_SYS_ADMIN), no
// core dump (it would hold decrypted passwords and keys), not ptrace-able by its own account.
ferry::Result<void, std::string> no_new_privileges() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Unexpected("prctl(NO_NEW_PRIVS): " + errno_text(errno));
  }
  const rlimit none{0, 0};
  (void)::setrlimit(RLIMIT_CORE, &none);
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return {};
}

}  // namespace

bool built_with_sanitizers() noexcept {
  // FERRY_SANITIZED_BUILD comes from the build (g++ has no macro for UBSan alone).
  return FERRY_SANITIZED_BUILD != 0;
}

Confinement default_confinement() noexcept {
  const bool on = !built_with_sanitizers();
  return Confinement{on, on};
}

ferry::Result<ProcessAccount, std::string> find_account(const std::string& name) {
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) {
    if (errno != 0 && errno != ENOENT && errno != ESRCH) {
      return Unexpected("cannot look up account " + name + ": " + errno_text(errno));
    }
    return Unexpected("no account " + name +
                      " (create it: useradd --system --no-create-home --home-dir /nonexistent "
                      "--shell /usr/sbin/nologin --user-group " +
                      name + ")");
  }
  if (pw->pw_uid == 0 || pw->pw_gid == 0) {
    return Unexpected("account " + name + " has uid or gid 0: it must not");
  }
  return ProcessAccount{name, pw->pw_uid, pw->pw_gid};
}

SystemUser as_system_user(const ProcessAccount& account) {
  return SystemUser{account.name, account.uid, account.gid, "/"};
}

ferry::Result<void, std::string> drop_to(const ProcessAccount& account) {
  if (::setgroups(0, nullptr) != 0) return Unexpected("setgroups: " + errno_text(errno));
  if (::setresgid(account.gid, account.gid, account.gid) != 0) {
    return Unexpected("setresgid: " + errno_text(errno));
  }
  if (::setresuid(account.uid, account.uid, account.uid) != 0) {
    return Unexpected("setresuid: " + errno_text(errno));
  }
  // Nothing may come back: neither root, nor the old groups, nor a capability.
  if (::setuid(0) == 0 || ::setgid(0) == 0 || ::getgroups(0, nullptr) != 0) {
    return Unexpected(std::string("privileges could not be dropped"));
  }
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return Unexpected("capget: " + errno_text(errno));
  for (const auto& d : data) {
    if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) {
      return Unexpected(std::string("capabilities remain after the drop"));
    }
  }
  return {};
}

ferry::Result<void, std::string> confine_prelogin(const Confinement& c) {
  if (auto ok = no_new_privileges(); !ok) return ok;
  // No process of its own, even with seccomp off (its account may have no other: the count
  // is per account, and threads count too, so sessions cannot have it).
  const rlimit none{0, 0};
  (void)::setrlimit(RLIMIT_NPROC, &none);
  if (c.landlock) {
    auto applied = apply_landlock(-1);
    if (!applied) return Unexpected(applied.error());
    if (!*applied) say_no_landlock_once();
  }
  if (c.seccomp) {
    Filter f;
    allow_base(f);
    // No new socket: syslog(3) got its own before (LOG_NDELAY); if syslogd restarts, its
    // attempt to reconnect fails and the message is lost, rather than the connection.
    f.fail("socket", EACCES);
    f.fail("connect", EACCES);
    return f.load();
  }
  return {};
}

ferry::Result<void, std::string> confine_session(const Confinement& c, int root_fd) {
  if (auto ok = no_new_privileges(); !ok) return ok;
  if (c.landlock && root_fd >= 0) {
    auto applied = apply_landlock(root_fd);
    if (!applied) return Unexpected(applied.error());
    if (!*applied) say_no_landlock_once();
  }
  if (!c.seccomp) return {};
  Filter f;
  allow_base(f);
  // The block hasher's thread lowering itself to nice 19 (sums_ahead.cpp), and nothing else:
  // `who` 0 is the calling thread on Linux, and the value is fixed, so that a raised
  // RLIMIT_NICE (prlimit64 on itself is allowed) cannot turn this into a way up.
  f.allow_if("setpriority", arg0(SCMP_CMP_EQ, PRIO_PROCESS), arg(1, SCMP_CMP_EQ, 0),
             arg(2, SCMP_CMP_EQ, static_cast<scmp_datum_t>(session::kHasherNice)));
  // Files beneath the sandbox. chmod and times only through descriptors (fchmod; futimens is
  // utimensat without a path): Landlock does not cover them by path, and every password-file
  // user's files belong to the same service account. No ioctl at all.
  f.allow({"openat",     "openat2",    "mkdirat",   "unlinkat",   "renameat",  "renameat2",
           "linkat",     "access",     "faccessat", "faccessat2", "readlink",  "readlinkat",
           "getdents64", "fchmod",     "fallocate", "ftruncate",  "fsync",     "fdatasync",
           "flock",      "fstatfs",    "statfs",    "sendfile",   "fadvise64", "umask",
           "getcwd",     "setsockopt", "getsockopt"});
  f.allow_if("utimensat", arg(1, SCMP_CMP_EQ, 0));
  // Data connections: TCP over IPv4 or IPv6 only, no local socket to reach other services.
  // syslog(3) connected before; if it must reconnect (syslogd restarted), it fails and the
  // line is lost rather than the session.
  f.allow_if("socket", arg0(SCMP_CMP_EQ, AF_INET));
  f.allow_if("socket", arg0(SCMP_CMP_EQ, AF_INET6));
  f.fail_if("socket", EACCES, arg0(SCMP_CMP_EQ, AF_UNIX));
  f.allow({"connect", "bind", "listen", "accept", "accept4"});
  // Threads for the data streams, never a new process: glibc falls back from clone3 (whose
  // flags a filter cannot see) to clone, allowed only with CLONE_THREAD.
  f.fail("clone3", ENOSYS);
  f.allow_if("clone", arg0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  return f.load();
}

}  // namespace ferry::daemon
