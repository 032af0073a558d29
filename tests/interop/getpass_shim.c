/* Test helper: the real bbftp client reads its password only through getpass(3); preloaded, this
 * answers with $BBFTP_PASSWORD instead of asking the terminal. */
#include <stdlib.h>

char *getpass(const char *prompt) {
  (void)prompt;
  char *p = getenv("BBFTP_PASSWORD");
  return p != NULL ? p : "";
}
