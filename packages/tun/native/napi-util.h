/*
 * N-API helpers shared by the two addon files (tun.c, sock.c): turn a failed napi_* call into a JS
 * exception carrying the file's error code. Define NAPI_ERROR_CODE before including this header.
 */
#ifndef MESHLAN_NAPI_UTIL_H
#define MESHLAN_NAPI_UTIL_H

#include <node_api.h>
#include <stdbool.h>

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

#endif
