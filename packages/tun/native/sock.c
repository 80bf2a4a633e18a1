// meshlan socket addon: a TCP dialer that connects *from* a given local address/port (the port a
// reusePort server listens on), for TCP simultaneous open through NATs (hole punching).
//
// Node's net.connect always dials from an ephemeral port, so the NAT mapping it creates never
// matches the address we announced. Here: socket(), SO_REUSEADDR + SO_REUSEPORT, bind() to the
// listen address/port, non-blocking connect(). A uv_poll_t waits for UV_WRITABLE (the kernel
// retransmits SYNs by itself meanwhile), then getsockopt(SO_ERROR) says how it ended. A uv_timer_t
// bounds the wait. On success the (still non-blocking) fd goes to JS, which wraps it in a
// net.Socket; on every other path the fd is closed here.
//
// Plain C against node_api.h (NAPI_VERSION 8); everything runs on the loop's thread.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#define NAPI_ERROR_CODE "ERR_MESHLAN_SOCK_NAPI"
#include "napi-util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

typedef struct dial_s {
  napi_env env;
  int fd;          // -1 once closed or handed to JS
  int done;        // the callback has been called (or will never be: env teardown)
  int refs;        // 1 for the libuv handles (until both are closed) + 1 for the JS handle object
  int open_handles;
  uv_poll_t poll;
  uv_timer_t timer;
  napi_ref cb_ref;
  napi_async_context async_ctx;
} dial_t;

static void unref_dial(dial_t *d) {
  if (--d->refs == 0) free(d);
}

static void on_handle_closed(uv_handle_t *h) {
  dial_t *d = h->data;
  if (--d->open_handles == 0) unref_dial(d);
}

// Closes a dial we give up on without a FIN. A dial that times out may be half-open: in a
// simultaneous open whose SYN-ACKs were lost it sits in SYN_RECV, and close() would send a FIN and
// leave the address pair in FIN_WAIT1, then TIME_WAIT, for up to a minute, so the next punch from
// the same port to the same peer port fails with EADDRNOTAVAIL. SO_LINGER 0 aborts instead: a RST
// when the peer had seen our SYN (its half-open ends too), nothing in SYN_SENT, and no state kept.
static void abort_close(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

// Stops waiting: closes both libuv handles (uv_close of the poll handle removes the fd from epoll
// at once, so Node may register it again) and aborts the fd unless it was handed over.
static void stop_dial(dial_t *d, int keep_fd) {
  if (d->open_handles == 2 && !uv_is_closing((uv_handle_t *)&d->poll)) {
    uv_close((uv_handle_t *)&d->poll, on_handle_closed);
    uv_close((uv_handle_t *)&d->timer, on_handle_closed);
  }
  if (d->fd >= 0 && !keep_fd) abort_close(d->fd);
  d->fd = -1;
}

static void cleanup_hook(void *arg) {
  // Environment teardown (process or worker exit): close the fd and the handles; no callback.
  dial_t *d = arg;
  d->done = 1;
  stop_dial(d, 0);
}

// Ends the dial once: err == 0 hands fd to JS as callback(null, fd), else callback(error, -1).
static void finish(dial_t *d, int err, const char *syscall) {
  if (d->done) return;
  d->done = 1;
  int fd = d->fd;
  stop_dial(d, err == 0);
  napi_env env = d->env;
  napi_remove_env_cleanup_hook(env, cleanup_hook, d);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    if (err == 0 && fd >= 0) close(fd);
    return;
  }
  napi_value argv[2];
  if (err == 0) {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, fd, &argv[1]);
  } else {
    argv[0] = errno_error(env, err, syscall);
    napi_create_int32(env, -1, &argv[1]);
  }
  if (!call_js(env, d->async_ctx, d->cb_ref, 2, argv) && err == 0) close(fd);  // nobody to take it
  if (d->cb_ref) napi_delete_reference(env, d->cb_ref);
  d->cb_ref = NULL;
  if (d->async_ctx) napi_async_destroy(env, d->async_ctx);
  d->async_ctx = NULL;
  napi_close_handle_scope(env, scope);
}

static void on_writable(uv_poll_t *h, int status, int events) {
  (void)events;
  dial_t *d = h->data;
  if (d->done) return;
  // libuv reports POLLERR (e.g. a refused connect) as status UV_EBADF: SO_ERROR has the reason.
  int soerr = 0;
  socklen_t len = sizeof soerr;
  if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
    finish(d, errno, "getsockopt");
    return;
  }
  if (status < 0 && soerr == 0) {
    finish(d, -status, "uv_poll");
    return;
  }
  if (soerr == EINPROGRESS || soerr == EALREADY) return;  // spurious wakeup: keep waiting
  finish(d, soerr, "connect");
}

static void on_timeout(uv_timer_t *h) {
  dial_t *d = h->data;
  finish(d, ETIMEDOUT, "connect");
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  dial_t *d = data;
  if (d->cb_ref) napi_delete_reference(env, d->cb_ref);
  d->cb_ref = NULL;
  if (d->async_ctx) napi_async_destroy(env, d->async_ctx);
  d->async_ctx = NULL;
  // A pending dial goes on (its callback is then never called: the callback reference was
  // dropped above; finish() still closes or hands over the fd... with no taker, it closes it).
  unref_dial(d);
}

// Parses an IPv4 or IPv6 literal and port into a sockaddr; returns the family or 0.
static int parse_addr(const char *s, uint32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return AF_INET6;
  }
  return 0;
}

// connectFromPort(localAddress, localPort, remoteAddress, remotePort, timeoutMs, callback)
//   -> handle (pass to cancel()). callback(err, fd) is called exactly once, asynchronously, unless
//   cancel() came first (then with ECANCELED). Setup failures (socket, setsockopt, bind, an
//   immediate connect error) throw instead, with code/errno/syscall; the fd is closed then.
static napi_value js_connect_from_port(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char laddr[INET6_ADDRSTRLEN + 1] = {0}, raddr[INET6_ADDRSTRLEN + 1] = {0};
  size_t n;
  uint32_t lport, rport, timeout;
  napi_valuetype vt = napi_undefined;
  if (argc == 6) napi_typeof(env, argv[5], &vt);
  if (argc < 6 || napi_get_value_string_utf8(env, argv[0], laddr, sizeof laddr, &n) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], raddr, sizeof raddr, &n) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &lport) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &rport) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &timeout) != napi_ok || lport > 65535 || rport > 65535 ||
      rport == 0 || vt != napi_function) {
    napi_throw_type_error(env, "EINVAL",
                          "connectFromPort(localAddress: string, localPort: number, remoteAddress: string, "
                          "remotePort: number, timeoutMs: number, callback: function)");
    return NULL;
  }
  struct sockaddr_storage local, remote;
  socklen_t llen, rlen;
  int lfam = parse_addr(laddr, lport, &local, &llen);
  int rfam = parse_addr(raddr, rport, &remote, &rlen);
  if (!lfam || !rfam || lfam != rfam) {
    napi_throw_type_error(env, "EINVAL", "connectFromPort: addresses must be IP literals of one family");
    return NULL;
  }
  struct uv_loop_s *loop = NULL;
  CHECK(napi_get_uv_event_loop(env, &loop));

  int fd = socket(rfam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt");
  }
  if (rfam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&local, llen) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  int r;
  do r = connect(fd, (struct sockaddr *)&remote, rlen);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect");
  }
  // From here the fd belongs to the dial: every path below closes it or hands it to JS.
  dial_t *d = calloc(1, sizeof *d);
  if (!d) {
    close(fd);
    return throw_errno(env, ENOMEM, "calloc");
  }
  d->env = env;
  d->fd = fd;
  if (uv_poll_init(loop, &d->poll, fd) != 0) {
    close(fd);
    free(d);
    return throw_errno(env, ENOMEM, "uv_poll_init");
  }
  uv_timer_init(loop, &d->timer);  // cannot fail
  d->poll.data = d;
  d->timer.data = d;
  d->open_handles = 2;
  d->refs = 1;  // the handles
  napi_value handle, name;
  int ok = napi_create_object(env, &handle) == napi_ok &&
           napi_create_reference(env, argv[5], 1, &d->cb_ref) == napi_ok &&
           napi_create_string_utf8(env, "meshlan:dial", NAPI_AUTO_LENGTH, &name) == napi_ok &&
           napi_async_init(env, handle, name, &d->async_ctx) == napi_ok &&
           napi_wrap(env, handle, d, finalize, NULL, NULL) == napi_ok;
  if (ok) d->refs++;  // the JS handle (finalize drops it)
  int uv1 = ok ? uv_poll_start(&d->poll, UV_WRITABLE, on_writable) : 0;
  int uv2 = ok && uv1 == 0 ? uv_timer_start(&d->timer, on_timeout, timeout, 0) : 0;
  if (!ok || uv1 != 0 || uv2 != 0) {
    d->done = 1;
    stop_dial(d, 0);  // closes fd and handles; d is freed when both are closed and finalized
    if (d->cb_ref) napi_delete_reference(env, d->cb_ref);
    d->cb_ref = NULL;
    if (d->async_ctx) napi_async_destroy(env, d->async_ctx);
    d->async_ctx = NULL;
    if (!ok) return throw_napi(env);
    return throw_errno(env, uv1 ? -uv1 : -uv2, "uv_poll_start");
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, d);
  return handle;
}

// cancel(handle): ends a pending dial with ECANCELED (closing the fd); no-op once it has ended.
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  dial_t *d = NULL;
  if (argc < 1 || napi_unwrap(env, argv[0], (void **)&d) != napi_ok || !d) return NULL;
  finish(d, ECANCELED, "connect");
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"connectFromPort", NULL, js_connect_from_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
