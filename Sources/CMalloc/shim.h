// glibc calls the Glibc module does not export: malloc tuning (mallopt), and pipe2, which glibc declares only
// under _GNU_SOURCE (close-on-exec pipes made in one call, so no child spawned meanwhile inherits them).
#include <malloc.h>
int pipe2(int pipefd[2], int flags);
