/*
 * N-API helpers shared by the addon files: turn a failed napi_* call into a JS exception carrying
 * the file's error code (CHECK), an errno into an Error (errno_error, throw_errno), and call a
 * JS callback from a libuv callback (call_js). Define NAPI_ERROR_CODE before including this header.
 */
#ifndef MESHLAN_NAPI_UTIL_H
#define MESHLAN_NAPI_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#ifndef NAPI_ERROR_CODE
#error "define NAPI_ERROR_CODE (e.g. \"ERR_MESHLAN_TUN_NAPI\") before including napi-util.h"
#endif

static napi_value throw_napi(napi_env env) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, NAPI_ERROR_CODE,
                     info && info->error_message ? info->error_message : "N-API call failed");
  }
  return NULL;
}

#define CHECK(call)                                 \
  do {                                              \
    napi_status status_ = (call);                   \
    if (status_ != napi_ok) return throw_napi(env); \
  } while (0)

/** An Error with `code`, errno and syscall, for the TS side to map. */
static inline napi_value errno_error_named(napi_env env, const char *code_name, int err, const char *syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(err));
  napi_value code, message, error, errno_v, syscall_v;
  napi_create_string_utf8(env, code_name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  return error;
}

/** errno_error_named with the errno's name from libuv's table. */
static inline napi_value errno_error(napi_env env, int err, const char *syscall) {
  return errno_error_named(env, uv_err_name(-err), err, syscall);
}

static inline napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, errno_error(env, err, syscall));
  return NULL;
}

/**
 * Calls the function `ref` holds (the caller has a handle scope open) from a libuv callback, with
 * `ctx` so that microtasks run after it; an exception it throws is the process's uncaught
 * exception. False when there is no function to call (no reference, or it was released).
 */
static inline bool call_js(napi_env env, napi_async_context ctx, napi_ref ref, size_t argc, const napi_value *argv) {
  napi_value fn = NULL, global, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return false;
  napi_get_global(env, &global);
  if (napi_make_callback(env, ctx, global, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  return true;
}

#endif
