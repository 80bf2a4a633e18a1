// meshlan process addon: who is on the other end of a connected Unix socket (SO_PEERCRED),
// sd_notify (a datagram to systemd's NOTIFY_SOCKET: Node has no AF_UNIX datagram sockets), and
// malloc_trim (glibc keeps freed memory in the middle of its heap resident; Node cannot ask), and
// dropping the mappings of clean file pages (start-up's code stays mapped, and counted, otherwise).
//
// Node has no public SO_PEERCRED. The kernel records the peer's pid/uid/gid when it connect()s
// (credentials at connect time, not at each read), so the daemon's control socket can serve only
// root and its own user whatever the socket file's permissions are.
//
// Plain C against node_api.h (NAPI_VERSION 8); runs on the loop's thread, never blocks.
#define _GNU_SOURCE
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <node_api.h>
#define NAPI_ERROR_CODE "ERR_MESHLAN_PEERCRED_NAPI"
#include "napi-util.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

// peerCredentials(fd) -> { pid, uid, gid }; throws an Error with code (errno name) and syscall.
static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "peerCredentials(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    int err = errno != 0 ? errno : EINVAL;
    char msg[160];
    snprintf(msg, sizeof msg, "getsockopt(SO_PEERCRED) failed: %s", strerror(err));
    napi_value code, message, error, syscall;
    CHECK(napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
    CHECK(napi_create_error(env, code, message, &error));
    CHECK(napi_create_string_utf8(env, "getsockopt", NAPI_AUTO_LENGTH, &syscall));
    CHECK(napi_set_named_property(env, error, "syscall", syscall));
    napi_throw(env, error);
    return NULL;
  }
  napi_value out, pid, uid, gid;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_int64(env, cred.pid, &pid));
  CHECK(napi_create_uint32(env, cred.uid, &uid));
  CHECK(napi_create_uint32(env, cred.gid, &gid));
  CHECK(napi_set_named_property(env, out, "pid", pid));
  CHECK(napi_set_named_property(env, out, "uid", uid));
  CHECK(napi_set_named_property(env, out, "gid", gid));
  return out;
}

// peerGroups(fd) -> number[]: the peer's supplementary groups at connect() (SO_PEERGROUPS, Linux
// 4.13+), so a socket can serve a group's members without trusting /proc (racy) or the file mode.
// Throws like peerCredentials.
static napi_value js_peer_groups(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "peerGroups(fd): fd must be a non-negative integer");
    return NULL;
  }
  gid_t groups[256];  // NGROUPS_MAX is 65536; more than 256 supplementary groups: ERANGE, refused
  socklen_t len = sizeof groups;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
    int err = errno != 0 ? errno : EINVAL;
    napi_value code, message, error;
    CHECK(napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_string_utf8(env, "getsockopt(SO_PEERGROUPS) failed", NAPI_AUTO_LENGTH, &message));
    CHECK(napi_create_error(env, code, message, &error));
    napi_throw(env, error);
    return NULL;
  }
  uint32_t n = (uint32_t)(len / sizeof(gid_t));
  napi_value out, v;
  CHECK(napi_create_array_with_length(env, n, &out));
  for (uint32_t i = 0; i < n; i++) {
    CHECK(napi_create_uint32(env, groups[i], &v));
    CHECK(napi_set_element(env, out, i, v));
  }
  return out;
}

// notify(socketPath, message) -> 0 or an errno: one datagram to systemd's notification socket
// (sd_notify(3)). A path starting with '@' is in the abstract namespace. Never throws on I/O.
static napi_value js_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char msg[1024];
  size_t plen = 0, mlen = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &mlen) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "notify(socketPath: string, message: string)");
    return NULL;
  }
  napi_value result;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (plen < 2 || plen >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@')) {
    CHECK(napi_create_int32(env, EINVAL, &result));
    return result;
  }
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    if (sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0) err = errno;
    close(fd);
  }
  CHECK(napi_create_int32(env, err, &result));
  return result;
}

// trimMalloc() -> boolean: glibc's malloc_trim(0) — free pages anywhere in malloc's arenas go back
// to the kernel (madvise), not only the heap's top. true when memory was released; false when
// none was, or without glibc (musl: nothing to do). Walks the arenas: ~1 ms, for quiet moments.
static napi_value js_trim_malloc(napi_env env, napi_callback_info info) {
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value out;
  CHECK(napi_get_boolean(env, released != 0, &out));
  return out;
}

// dropFilePages() -> number: unmaps this process's clean file-backed pages (the node binary's code
// and read-only data, the shared libraries) with MADV_DONTNEED and returns how many bytes were
// resident in them. Nothing is lost: the pages stay in the page cache, and the next touch maps one
// back (a minor fault). What start-up touched and never touches again then stops counting in the
// process's RSS; the kernel would drop those mappings itself only under memory pressure.
//
// Only a mapping that is private, not writable, of a file, and has no anonymous (copy-on-write)
// pages qualifies: a RELRO segment was written by the dynamic linker before it became read-only,
// so it has anonymous pages, and zapping those would put the unrelocated file contents back. The
// ranges are collected first and advised after /proc/self/smaps is closed.
#define DROP_MAX_RANGES 512
static napi_value js_drop_file_pages(napi_env env, napi_callback_info info) {
  // on the stack (12 KiB): the addon may be loaded by several threads (workers)
  uintptr_t starts[DROP_MAX_RANGES], ends[DROP_MAX_RANGES];
  uint64_t rss_kb[DROP_MAX_RANGES];
  size_t n = 0;
  double dropped = 0;
  FILE *f = fopen("/proc/self/smaps", "re");
  if (f != NULL) {
    char line[1024];
    int current = 0; // the VMA being read qualifies so far
    uint64_t rss = 0, anon = 0;
    uintptr_t s = 0, e = 0;
    for (;;) {
      char *got = fgets(line, sizeof line, f);
      unsigned long a, b, off, ino;
      char perms[5], dev[16];
      int pathpos = 0;
      // a VMA's header: "start-end perms offset dev inode [path]"; a field line ("Rss:   12 kB")
      // never parses that far
      int header = got != NULL && sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &a, &b, perms, &off, dev, &ino, &pathpos) == 6;
      if (got == NULL || header) {
        if (current && anon == 0 && rss > 0 && n < DROP_MAX_RANGES) {
          starts[n] = s;
          ends[n] = e;
          rss_kb[n] = rss;
          n++;
        }
        if (got == NULL) break;
        s = a;
        e = b;
        rss = 0;
        anon = 0;
        current = perms[1] != 'w' && perms[3] == 'p' && ino != 0 && line[pathpos] == '/';
        continue;
      }
      unsigned long v;
      if (sscanf(line, "Rss: %lu kB", &v) == 1) rss = v;
      else if (sscanf(line, "Anonymous: %lu kB", &v) == 1) anon = v;
      else if (sscanf(line, "Locked: %lu kB", &v) == 1 && v != 0) current = 0;
    }
    fclose(f);
  }
  for (size_t i = 0; i < n; i++) {
    if (madvise((void *)starts[i], ends[i] - starts[i], MADV_DONTNEED) == 0) dropped += (double)rss_kb[i] * 1024;
  }
  napi_value out;
  CHECK(napi_create_double(env, dropped, &out));
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notify", NULL, js_notify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerGroups", NULL, js_peer_groups, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimMalloc", NULL, js_trim_malloc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropFilePages", NULL, js_drop_file_pages, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
