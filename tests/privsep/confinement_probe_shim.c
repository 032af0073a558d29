/* Test hook for the confinement tests, preloaded into bbftpd (never shipped): a session's LIST
 * calls fnmatch(3) on each name in the directory, and two names make the session try what its
 * confinement forbids:
 *   "ferry-forbidden-syscall"  personality(2), on no allow-list: seccomp kills the process;
 *   "ferry-priority-raise"     setpriority(2) to nice -20: the session's filter allows only the
 *                              block hasher's nice 19 on the calling thread, and kills;
 *   "ferry-landlock-probe"     opens /etc/hostname, outside any root: Landlock refuses it; the
 *                              outcome goes to the daemon's standard error. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int fnmatch(const char* pattern, const char* string, int flags) {
  static int (*real)(const char*, const char*, int);
  static int probed;
  if (!real) real = (int (*)(const char*, const char*, int))dlsym(RTLD_NEXT, "fnmatch");
  if (strcmp(string, "ferry-forbidden-syscall") == 0) {
    syscall(SYS_personality, 0xffffffffUL);
  } else if (strcmp(string, "ferry-priority-raise") == 0) {
    syscall(SYS_setpriority, PRIO_PROCESS, 0, -20);
  } else if (strcmp(string, "ferry-landlock-probe") == 0 && !probed) {
    probed = 1;
    const int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    char line[200];
    const int n = snprintf(line, sizeof line, "ferry-landlock-probe: open /etc/hostname: %s\n",
                           fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0) close(fd);
    if (n > 0) (void)!write(2, line, (size_t)n);
  }
  return real(pattern, string, flags);
}
