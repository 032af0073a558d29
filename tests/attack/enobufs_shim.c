/* Preloaded into a client under test: every Nth sendto() (N from FERRY_ENOBUFS_EVERY) fails
 * with ENOBUFS, as it does for a moment when an interface queue is full. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef ssize_t (*sendto_fn)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to,
               socklen_t tolen) {
  static sendto_fn real;
  static unsigned long calls;
  static long every = -1;
  if (real == NULL) real = (sendto_fn)dlsym(RTLD_NEXT, "sendto");
  if (every < 0) {
    const char* e = getenv("FERRY_ENOBUFS_EVERY");
    every = e != NULL ? strtol(e, NULL, 10) : 0;
  }
  if (every > 1 && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) % (unsigned long)every == 0) {
    errno = ENOBUFS;
    return -1;
  }
  return real(fd, buf, len, flags, to, tolen);
}
