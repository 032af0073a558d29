/* Fault injection for the fault suite (tests/faults), preloaded into our bbftp client; never
 * shipped. The client's first TCP connection is its control connection; every later one
 * (connected, protocol 3, or accepted, protocol 2) is a data stream. Once FERRY_FAULT_AFTER bytes
 * have crossed the first data stream (either way), FERRY_FAULT acts, once:
 *   reset   the stream is reset (SO_LINGER 0, then closed under the client: the peer gets a
 *           RST, the client's next call on it fails)
 *   shrink  FERRY_FAULT_FILE is truncated to FERRY_FAULT_SIZE bytes (a file shrinking while it
 *           is sent)
 *   pause   the stream stops for FERRY_FAULT_PAUSE_MS; FERRY_FAULT_MARK is created when the
 *           pause begins (so that the test can change things while the transfer stands still)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 4096

static atomic_int control_seen;
static atomic_int data_fd = -1;   /* the first data stream */
static atomic_llong crossed;      /* bytes through it so far */
static atomic_int fired;

static long long env_ll(const char* name, long long fallback) {
  const char* v = getenv(name);
  return v && *v ? atoll(v) : fallback;
}

static void note_data_socket(int fd) {
  int none = -1;
  if (fd >= 0) atomic_compare_exchange_strong(&data_fd, &none, fd);
}

/* Called after `n` bytes moved through `fd`; returns -1 (errno set) when the call must fail. */
static int after_io(int fd, ssize_t n) {
  if (n <= 0 || fd != atomic_load(&data_fd) || atomic_load(&fired)) return 0;
  if (atomic_fetch_add(&crossed, n) + n < env_ll("FERRY_FAULT_AFTER", 1 << 20)) return 0;
  if (atomic_exchange(&fired, 1)) return 0;
  const char* what = getenv("FERRY_FAULT");
  if (!what) return 0;
  if (strcmp(what, "reset") == 0) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    int dummy = socket(AF_INET, SOCK_STREAM, 0);
    if (dummy >= 0) {
      dup2(dummy, fd); /* the last reference to the stream goes: RST */
      close(dummy);
    }
    errno = ECONNRESET;
    return -1;
  }
  if (strcmp(what, "shrink") == 0) {
    const char* file = getenv("FERRY_FAULT_FILE");
    if (file) (void)!truncate(file, env_ll("FERRY_FAULT_SIZE", 0));
    return 0;
  }
  if (strcmp(what, "pause") == 0) {
    const char* mark = getenv("FERRY_FAULT_MARK");
    if (mark) {
      int m = open(mark, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (m >= 0) close(m);
    }
    const long long ms = env_ll("FERRY_FAULT_PAUSE_MS", 1000);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
  }
  return 0;
}

#define REAL(name) real_##name
#define LOAD(name) \
  if (!REAL(name)) REAL(name) = dlsym(RTLD_NEXT, #name)

static int (*real_connect)(int, const struct sockaddr*, socklen_t);
static int (*real_accept)(int, struct sockaddr*, socklen_t*);
static int (*real_accept4)(int, struct sockaddr*, socklen_t*, int);
static ssize_t (*real_send)(int, const void*, size_t, int);
static ssize_t (*real_recv)(int, void*, size_t, int);
static ssize_t (*real_read)(int, void*, size_t);
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_sendfile)(int, int, off_t*, size_t);
static int (*real_close)(int);

int connect(int fd, const struct sockaddr* a, socklen_t n) {
  LOAD(connect);
  const int r = REAL(connect)(fd, a, n);
  const int inet = a && (a->sa_family == AF_INET || a->sa_family == AF_INET6);
  if (inet && (r == 0 || errno == EINPROGRESS)) {
    if (atomic_exchange(&control_seen, 1)) note_data_socket(fd);
  }
  return r;
}
int accept(int fd, struct sockaddr* a, socklen_t* n) {
  LOAD(accept);
  const int r = REAL(accept)(fd, a, n);
  note_data_socket(r);
  return r;
}
int accept4(int fd, struct sockaddr* a, socklen_t* n, int flags) {
  LOAD(accept4);
  const int r = REAL(accept4)(fd, a, n, flags);
  note_data_socket(r);
  return r;
}
int close(int fd) {
  LOAD(close);
  int me = fd;
  if (!atomic_load(&fired) && atomic_compare_exchange_strong(&data_fd, &me, -1)) {
    atomic_store(&crossed, 0);  /* that stream ended: the next transfer's first one counts */
  }
  return REAL(close)(fd);
}
ssize_t send(int fd, const void* b, size_t n, int flags) {
  LOAD(send);
  const ssize_t r = REAL(send)(fd, b, n, flags);
  return after_io(fd, r) < 0 ? -1 : r;
}
ssize_t recv(int fd, void* b, size_t n, int flags) {
  LOAD(recv);
  const ssize_t r = REAL(recv)(fd, b, n, flags);
  return after_io(fd, r) < 0 ? -1 : r;
}
ssize_t read(int fd, void* b, size_t n) {
  LOAD(read);
  const ssize_t r = REAL(read)(fd, b, n);
  return after_io(fd, r) < 0 ? -1 : r;
}
ssize_t write(int fd, const void* b, size_t n) {
  LOAD(write);
  const ssize_t r = REAL(write)(fd, b, n);
  return after_io(fd, r) < 0 ? -1 : r;
}
ssize_t sendfile(int out, int in, off_t* off, size_t n) {
  LOAD(sendfile);
  const ssize_t r = REAL(sendfile)(out, in, off, n);
  return after_io(out, r) < 0 ? -1 : r;
}
