// meshlan peer-credentials addon: who is on the other end of a connected Unix socket.
//
// Node has no public SO_PEERCRED. The kernel records the peer's pid/uid/gid when it connect()s
// (credentials at connect time, not at each read), so the daemon's control socket can serve only
// root and its own user whatever the socket file's permissions are.
//
// Plain C against node_api.h (NAPI_VERSION 8); runs on the loop's thread, never blocks.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#define NAPI_ERROR_CODE "ERR_MESHLAN_PEERCRED_NAPI"
#include "napi-util.h"
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
