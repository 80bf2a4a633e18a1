// meshlan netmon addon: tells JS when this network namespace's interface addresses or links change,
// from a rtnetlink socket subscribed to those groups, so that the daemon reads the interface list
// (os.networkInterfaces(), a full getifaddrs dump) only after a change instead of on a timer.
//
// watch(callback) -> handle: a NETLINK_ROUTE socket bound to RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
// RTMGRP_IPV6_IFADDR, non-blocking, watched by a uv_poll_t. On readiness the socket is drained
// (recv until EAGAIN) and callback(false) is called once if any message was an address or link change,
// or if the kernel dropped messages (an overrun, ENOBUFS: something changed that we did not see; the
// watch goes on). The handle's
// close() stops the poll and closes the socket; an unreferenced handle never keeps the loop alive.
//
// Plain C against node_api.h (NAPI_VERSION 8); everything runs on the loop's thread.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>
#define NAPI_ERROR_CODE "ERR_MESHLAN_NETMON_NAPI"
#include "napi-util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

typedef struct watch_s {
  napi_env env;
  int fd;     // -1 once closed
  int hooked; // the env cleanup hook is registered
  int refs;   // 1 for the poll handle until its close callback + 1 for the JS handle object
  int errors_in_row;  // poll errors with no error pending since the last good wake-up (recover)
  uv_poll_t poll;
  napi_ref cb_ref;
  napi_async_context async_ctx;
} watch_t;

static void cleanup_hook(void *arg);
static void on_readable(uv_poll_t *h, int status, int events);

static void unref_watch(watch_t *w) {
  if (--w->refs == 0) free(w);
}

static void on_poll_closed(uv_handle_t *h) {
  unref_watch(h->data);
}

// Stops the poll, closes the socket and drops the callback; idempotent.
static void stop_watch(watch_t *w) {
  if (w->fd < 0) return;
  uv_close((uv_handle_t *)&w->poll, on_poll_closed);
  close(w->fd);
  w->fd = -1;
  if (w->hooked) napi_remove_env_cleanup_hook(w->env, cleanup_hook, w);
  w->hooked = 0;
  if (w->cb_ref) napi_delete_reference(w->env, w->cb_ref);
  w->cb_ref = NULL;
  if (w->async_ctx) napi_async_destroy(w->env, w->async_ctx);
  w->async_ctx = NULL;
}

static void cleanup_hook(void *arg) {
  // Environment teardown: the references are going with the env; just close.
  watch_t *w = arg;
  if (w->fd < 0) return;
  uv_close((uv_handle_t *)&w->poll, on_poll_closed);
  close(w->fd);
  w->fd = -1;
  w->cb_ref = NULL;
  w->async_ctx = NULL;
}

// Reads everything pending; 1 when any of it says an address or link changed (or was lost).
static int drain(int fd) {
  // one datagram is one or more netlink messages; 8 KiB holds the largest the kernel sends for
  // these groups (a link message with its stats is ~1.5 KiB)
  // (on the stack: the addon may be loaded by several threads; a union for the header's alignment)
  union {
    struct nlmsghdr h;
    char b[8192];
  } buf;
  int changed = 0;
  for (int i = 0; i < 1024; i++) {  // bounded: a flood of changes cannot hold the loop
    ssize_t n = recv(fd, buf.b, sizeof buf.b, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {
        changed = 1;  // overrun: messages were dropped
        continue;
      }
      if (errno == EINTR) continue;
      return changed;  // EAGAIN: drained
    }
    if (n == 0) return changed;
    for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      switch (h->nlmsg_type) {
        case RTM_NEWADDR:
        case RTM_DELADDR:
        case RTM_NEWLINK:
        case RTM_DELLINK:
          changed = 1;
          break;
        default:
          break;
      }
    }
  }
  return 1;  // still more after 1024 datagrams: something is changing
}

// The kernel's overrun of our socket (more changes than its receive buffer holds) is pending in
// SO_ERROR as ENOBUFS and makes poll() say POLLERR, which libuv reports as an error after stopping
// the poll. The socket is fine: take the error, drain, start polling again — as often as a storm
// of changes overruns it. Any other pending error ends the watch, and so does a poll error with
// none pending more than MAX_ERRORS_IN_ROW times without a good wake-up between (never seen;
// bounded so that it cannot spin).
#define MAX_ERRORS_IN_ROW 8

// 1 when the watch goes on after a poll error (an overrun: report a change), 0 when it must end.
static int recover(watch_t *w) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return 0;
  if (err == ENOBUFS) {
    w->errors_in_row = 0;
  } else if (err != 0 || ++w->errors_in_row > MAX_ERRORS_IN_ROW) {
    return 0;
  }
  drain(w->fd);
  return uv_poll_start(&w->poll, UV_READABLE, on_readable) == 0;
}

// callback(ended): ended is true when the poll failed for good and the watch stopped (the caller
// then reads the interface list as if unwatched).
static void on_readable(uv_poll_t *h, int status, int events) {
  watch_t *w = h->data;
  if (w->fd < 0) return;
  int ended = 0;
  if (status < 0) {
    ended = !recover(w);
  } else {
    w->errors_in_row = 0;
    if (!drain(w->fd)) return;
  }
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value arg;
    napi_get_boolean(env, ended, &arg);
    call_js(env, w->async_ctx, w->cb_ref, 1, &arg);
    napi_close_handle_scope(env, scope);
  }
  if (ended) stop_watch(w);
}

// close() on the handle: the watch is found through the handle itself (`this`), never through a
// pointer the function kept, so a detached call after the handle was collected does nothing.
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  if (napi_unwrap(env, self, &data) == napi_ok && data != NULL) stop_watch(data);
  return NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  watch_t *w = data;
  stop_watch(w);
  unref_watch(w);
}

// watch(callback) -> { close() }: see the header.
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "watch(callback): callback must be a function");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, errno, "socket(AF_NETLINK)");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind(netlink)");
  }
  uv_loop_t *loop;
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    close(fd);
    return throw_errno(env, ENOMEM, "uv_poll_init");
  }
  w->env = env;
  w->fd = fd;
  w->refs = 1;  // the poll handle
  w->poll.data = w;
  napi_value handle, close_fn, name;
  int ok = napi_create_object(env, &handle) == napi_ok &&
           napi_create_reference(env, argv[0], 1, &w->cb_ref) == napi_ok &&
           napi_create_string_utf8(env, "meshlan:netmon", NAPI_AUTO_LENGTH, &name) == napi_ok &&
           napi_async_init(env, handle, name, &w->async_ctx) == napi_ok &&
           napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &close_fn) == napi_ok &&
           napi_set_named_property(env, handle, "close", close_fn) == napi_ok &&
           napi_wrap(env, handle, w, finalize_handle, NULL, NULL) == napi_ok;
  if (ok) w->refs++;  // the JS handle, dropped in finalize_handle
  int uverr = ok ? uv_poll_start(&w->poll, UV_READABLE, on_readable) : 0;
  if (!ok || uverr != 0) {
    stop_watch(w);
    if (!ok) return throw_napi(env);
    return throw_errno(env, -uverr, "uv_poll_start");
  }
  // a watcher never keeps the process alive by itself
  uv_unref((uv_handle_t *)&w->poll);
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  w->hooked = 1;
  return handle;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
