// (Over 500 lines on purpose: the device's read loop, write path and offload helpers share one
// N-API module state; the type-3 rules live apart in vnet.c.)
//
// meshlan TUN addon: a Linux TUN fd polled on the libuv loop, batched reads, per-packet writes,
// and the virtio-net offload helpers (checksum completion, TSO segmentation).
//
// Reading: a uv_poll_t watches the non-blocking fd. On readiness we read until EAGAIN into a
// scratch buffer, `batchSize` packets (each preceded by `headroom` bytes) per batch, at most
// `maxBatchesPerWakeup` batches per wakeup. Each batch is copied once into a fresh Buffer (the
// slab) and handed to JS with napi_make_callback, so microtasks run between batches. The packet
// offsets/lengths are written into two Uint32Arrays owned by JS and reused for every batch.
//
// Writing: one write() per packet (or one writev() of one packet's pieces), never several packets
// in one call. Non-blocking: EAGAIN/ENOBUFS drop the rest of the batch and count them.
//
// Frames from remote peers with a virtio_net_hdr (frame type 3) are validated by vnet.c before
// anything is written: a refused frame is counted (vnetRefused) and dropped, and an offload TUN
// gets a header rebuilt from the packet, never the peer's.
//
// Plain C against node_api.h (NAPI_VERSION 8); everything runs on the loop's thread.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#define NAPI_ERROR_CODE "ERR_MESHLAN_TUN_NAPI"
#include "napi-util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "vnet.h"

// Indices into the Float64Array of counters shared with JS (see src/native.ts).
enum {
  ST_RX_PACKETS,
  ST_RX_BYTES,
  ST_RX_BATCHES,
  ST_RX_ERRORS,
  ST_TX_PACKETS,
  ST_TX_BYTES,
  ST_TX_DROPS,
  ST_TX_ERRORS,
  ST_WAKEUPS,
  ST_SEGMENTS,
  ST_VNET_REFUSED,
  ST_COUNT
};

typedef struct tun_s {
  napi_env env;
  int fd;
  int vnet;  // reads/writes carry a 10-byte virtio_net_hdr
  int polling;
  int closed;
  uint32_t headroom;
  uint32_t batch_size;
  uint32_t max_batches;
  uint32_t slot_max;  // largest packet (incl. vnet header) one read may return
  uint32_t mtu;
  uint8_t *scratch;
  size_t scratch_size;
  uint8_t *seg_buf;  // header scratch for segmentation
  uv_poll_t *poll;   // freed in its close callback
  napi_ref dispatch_ref;
  napi_ref offsets_ref;
  napi_ref lengths_ref;
  napi_ref stats_ref;
  uint32_t *offsets;
  uint32_t *lengths;
  double *stats;
  napi_async_context async_ctx;
} tun_t;

// ---------------------------------------------------------------------------------------------
// helpers

static const char *errno_code(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EAGAIN: return "EAGAIN";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EFAULT: return "EFAULT";
    case ENOTTY: return "ENOTTY";
    default: return "EUNKNOWN";
  }
}

// An Error carrying code (errno_code's name), errno and syscall, for src/errors.ts to map.
static napi_value make_error_value(napi_env env, int err, const char *syscall) {
  return errno_error_named(env, errno_code(err), err, syscall);
}

static napi_value throw_tun_errno(napi_env env, int err, const char *syscall) {
  napi_throw(env, make_error_value(env, err, syscall));
  return NULL;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

// A typed array's data (already adjusted to the view's byteOffset) and its length in elements.
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok) return 0;
  return type == want;
}

static tun_t *unwrap(napi_env env, napi_value v) {
  tun_t *t = NULL;
  if (napi_unwrap(env, v, (void **)&t) != napi_ok) return NULL;
  return t;
}

// ---------------------------------------------------------------------------------------------
// writing

static int write_iov(tun_t *t, struct iovec *iov, int n) {
  for (;;) {
    ssize_t r = n == 1 ? write(t->fd, iov[0].iov_base, iov[0].iov_len) : writev(t->fd, iov, n);
    if (r >= 0) return 0;
    if (errno == EINTR) continue;
    return errno;
  }
}

// write_one's result for a frame vnet.c refused (counted as vnetRefused, not as a device error).
#define WRITE_REFUSED (-1)

// Writes one packet. vnet_in: the packet starts with a virtio_net_hdr (from a peer: validated
// here before anything is written). Returns 0, errno, or WRITE_REFUSED; *pkts counts packets
// written to the fd (a split super-packet writes several).
static int write_one(tun_t *t, const uint8_t *p, size_t len, int vnet_in, uint32_t *pkts, size_t *bytes) {
  struct iovec iov[3];
  *pkts = 0;
  *bytes = 0;
  if (!vnet_in) {
    if (!t->vnet) {
      iov[0].iov_base = (void *)p;
      iov[0].iov_len = len;
      int err = write_iov(t, iov, 1);
      if (!err) *pkts = 1, *bytes = len;
      return err;
    }
    // Plain packet into an offload TUN: prepend a zero header (no offload requested).
    static const uint8_t zero[VNET_HDR_LEN] = {0};
    iov[0].iov_base = (void *)zero;
    iov[0].iov_len = VNET_HDR_LEN;
    iov[1].iov_base = (void *)p;
    iov[1].iov_len = len;
    int err = write_iov(t, iov, 2);
    if (!err) *pkts = 1, *bytes = len + VNET_HDR_LEN;
    return err;
  }
  vnet_pkt_t v;
  int reason = vnet_parse(p, len, t->mtu, &v);
  if (reason != VR_OK) return WRITE_REFUSED;
  if (t->vnet) {
    // Offload TUN: the kernel gets a header rebuilt from the packet, not the peer's.
    uint8_t hdr[VNET_HDR_LEN];
    vnet_build_header(&v, hdr);
    iov[0].iov_base = hdr;
    iov[0].iov_len = VNET_HDR_LEN;
    iov[1].iov_base = (void *)v.pkt;
    iov[1].iov_len = v.len;
    int err = write_iov(t, iov, 2);
    if (!err) *pkts = 1, *bytes = len;
    return err;
  }
  // Plain TUN: finish the checksum / split the super-packet here.
  if (!v.gso) {
    if (!v.csum) {
      iov[0].iov_base = (void *)v.pkt;
      iov[0].iov_len = v.len;
      int err = write_iov(t, iov, 1);
      if (!err) *pkts = 1, *bytes = v.len;
      return err;
    }
    uint8_t c[2];
    vnet_partial_csum(&v, c);
    iov[0].iov_base = (void *)v.pkt;
    iov[0].iov_len = v.csum_at;
    iov[1].iov_base = c;
    iov[1].iov_len = 2;
    iov[2].iov_base = (void *)(v.pkt + v.csum_at + 2);
    iov[2].iov_len = v.len - v.csum_at - 2;
    int err = write_iov(t, iov, 3);
    if (!err) *pkts = 1, *bytes = v.len;
    return err;
  }
  for (uint32_t i = 0; i < v.nseg; i++) {
    const uint8_t *pl;
    size_t n;
    vnet_segment(&v, i, t->seg_buf, &pl, &n);
    iov[0].iov_base = t->seg_buf;
    iov[0].iov_len = v.hdrs;
    iov[1].iov_base = (void *)pl;
    iov[1].iov_len = n;
    int err = write_iov(t, iov, 2);
    if (err) return err;
    *pkts += 1;
    *bytes += v.hdrs + n;
  }
  if (t->stats) t->stats[ST_SEGMENTS] += v.nseg;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// reading

static void poll_cb(uv_poll_t *handle, int status, int events);

static void deliver(tun_t *t, napi_value arg0, napi_value arg1) {
  napi_value argv[2] = {arg0, arg1};
  call_js(t->env, t->async_ctx, t->dispatch_ref, 2, argv);
}

static void stop_polling(tun_t *t) {
  if (t->polling && t->poll) uv_poll_stop(t->poll);
  t->polling = 0;
}

static void report_error(tun_t *t, int err, const char *syscall) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value e = make_error_value(env, err, syscall), null_v;
  napi_get_null(env, &null_v);
  deliver(t, e, null_v);
  napi_close_handle_scope(env, scope);
}

static void poll_cb(uv_poll_t *handle, int status, int events) {
  (void)events;
  tun_t *t = handle->data;
  if (!t || t->closed || !t->polling) return;
  if (status < 0) {
    stop_polling(t);
    report_error(t, -status, "uv_poll");
    return;
  }
  t->stats[ST_WAKEUPS] += 1;
  const size_t slot = (size_t)t->headroom + t->slot_max;
  for (uint32_t b = 0; b < t->max_batches; b++) {
    size_t pos = 0;
    uint32_t count = 0;
    int again = 0, fatal = 0;
    while (count < t->batch_size && t->scratch_size - pos >= slot) {
      ssize_t n = read(t->fd, t->scratch + pos + t->headroom, t->scratch_size - pos - t->headroom);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          again = 1;
          break;
        }
        t->stats[ST_RX_ERRORS] += 1;
        if (errno == EBADFD || errno == EBADF || errno == EIO || errno == EFAULT) fatal = errno;
        else again = 1;
        break;
      }
      t->offsets[count] = (uint32_t)(pos + t->headroom);
      t->lengths[count] = (uint32_t)n;
      pos += t->headroom + (size_t)n;
      count++;
      t->stats[ST_RX_BYTES] += (double)n;
    }
    if (count > 0) {
      t->stats[ST_RX_PACKETS] += count;
      t->stats[ST_RX_BATCHES] += 1;
      napi_env env = t->env;
      napi_handle_scope scope;
      if (napi_open_handle_scope(env, &scope) != napi_ok) return;
      void *data;
      napi_value slab, count_v;
      if (napi_create_buffer_copy(env, pos, t->scratch, &data, &slab) == napi_ok &&
          napi_create_uint32(env, count, &count_v) == napi_ok) {
        deliver(t, slab, count_v);
      }
      napi_close_handle_scope(env, scope);
    }
    if (fatal) {
      stop_polling(t);
      if (!t->closed) report_error(t, fatal, "read");
      return;
    }
    if (again || t->closed || !t->polling) return;
  }
}

// ---------------------------------------------------------------------------------------------
// lifecycle

static void on_poll_closed(uv_handle_t *h) { free(h); }

static void release(tun_t *t) {
  if (t->closed) return;
  t->closed = 1;
  stop_polling(t);
  if (t->poll) {
    t->poll->data = NULL;
    uv_close((uv_handle_t *)t->poll, on_poll_closed);
    t->poll = NULL;
  }
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
}

static void free_tun(napi_env env, tun_t *t) {
  release(t);
  if (env) {
    if (t->dispatch_ref) napi_delete_reference(env, t->dispatch_ref);
    if (t->offsets_ref) napi_delete_reference(env, t->offsets_ref);
    if (t->lengths_ref) napi_delete_reference(env, t->lengths_ref);
    if (t->stats_ref) napi_delete_reference(env, t->stats_ref);
    if (t->async_ctx) napi_async_destroy(env, t->async_ctx);
  }
  free(t->scratch);
  free(t->seg_buf);
  free(t);
}

static void cleanup_hook(void *arg) {
  // Environment teardown (process or worker exit): close the fd and the poll handle.
  release((tun_t *)arg);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  tun_t *t = data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, t);
  free_tun(env, t);
}

// open(name: string, vnetHdr: boolean, offloadFlags: number): [fd, actualName]
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1] = {0};
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok || name_len >= IFNAMSIZ) {
    napi_throw_type_error(env, "EINVAL", "interface name must be a string of at most 15 bytes");
    return NULL;
  }
  bool vnet = false;
  uint32_t offload = 0;
  napi_get_value_bool(env, argv[1], &vnet);
  get_u32(env, argv[2], &offload);
  if (offload && !vnet) {
    napi_throw_type_error(env, "EINVAL", "offloads need virtio-net headers (IFF_VNET_HDR)");
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_tun_errno(env, errno, "open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, name_len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_tun_errno(env, err, "ioctl TUNSETIFF");
  }
  if (vnet) {
    int sz = VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int err = errno;
      close(fd);
      return throw_tun_errno(env, err, "ioctl TUNSETVNETHDRSZ");
    }
    // Frame type 3 carries the header little-endian on every host: make the TUN agree.
    int le = 1;
    if (ioctl(fd, TUNSETVNETLE, &le) < 0) {
      int err = errno;
      close(fd);
      return throw_tun_errno(env, err, "ioctl TUNSETVNETLE");
    }
  }
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0) {
    int err = errno;
    close(fd);
    return throw_tun_errno(env, err, "ioctl TUNSETOFFLOAD");
  }
  napi_value result, fd_v, name_v;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_int32(env, fd, &fd_v));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_v));
  CHECK(napi_set_element(env, result, 0, fd_v));
  CHECK(napi_set_element(env, result, 1, name_v));
  return result;
}

// closeFd(fd): for a fd from open() that never reached attach().
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

// attach(fd, vnet, mtu, headroom, batchSize, maxBatches, slotMax, offsets, lengths, stats, dispatch)
// -> handle. The handle owns the fd from here on. dispatch(slab, count) or dispatch(error, null).
static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  bool vnet;
  uint32_t mtu, headroom, batch, maxb, slot_max;
  if (argc < 11 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_bool(env, argv[1], &vnet) != napi_ok || !get_u32(env, argv[2], &mtu) ||
      !get_u32(env, argv[3], &headroom) || !get_u32(env, argv[4], &batch) || !get_u32(env, argv[5], &maxb) ||
      !get_u32(env, argv[6], &slot_max) || batch == 0 || maxb == 0 || slot_max == 0) {
    napi_throw_type_error(env, "EINVAL", "attach: bad arguments");
    return NULL;
  }
  void *offs, *lens, *stats;
  size_t offs_n, lens_n, stats_n;
  if (!get_typed(env, argv[7], napi_uint32_array, &offs, &offs_n) || offs_n < batch ||
      !get_typed(env, argv[8], napi_uint32_array, &lens, &lens_n) || lens_n < batch ||
      !get_typed(env, argv[9], napi_float64_array, &stats, &stats_n) || stats_n < ST_COUNT) {
    napi_throw_type_error(env, "EINVAL", "attach: bad arrays");
    return NULL;
  }
  napi_valuetype vt;
  napi_typeof(env, argv[10], &vt);
  if (vt != napi_function) {
    napi_throw_type_error(env, "EINVAL", "attach: dispatch must be a function");
    return NULL;
  }
  tun_t *t = calloc(1, sizeof *t);
  if (!t) return throw_tun_errno(env, ENOMEM, "calloc");
  t->env = env;
  t->fd = fd;
  t->vnet = vnet;
  t->mtu = mtu;
  t->headroom = headroom;
  t->batch_size = batch;
  t->max_batches = maxb;
  t->slot_max = slot_max;
  t->offsets = offs;
  t->lengths = lens;
  t->stats = stats;
  t->scratch_size = (size_t)batch * ((size_t)headroom + slot_max);
  t->scratch = malloc(t->scratch_size);
  t->seg_buf = malloc(VNET_MAX_HDRS);
  t->poll = calloc(1, sizeof *t->poll);
  struct uv_loop_s *loop = NULL;
  if (!t->scratch || !t->seg_buf || !t->poll || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, t->poll, fd) != 0) {
    free(t->poll);
    t->poll = NULL;
    free_tun(NULL, t);
    return throw_tun_errno(env, ENOMEM, "attach");
  }
  t->poll->data = t;
  napi_value handle, name;
  CHECK(napi_create_object(env, &handle));
  CHECK(napi_create_reference(env, argv[7], 1, &t->offsets_ref));
  CHECK(napi_create_reference(env, argv[8], 1, &t->lengths_ref));
  CHECK(napi_create_reference(env, argv[9], 1, &t->stats_ref));
  CHECK(napi_create_reference(env, argv[10], 1, &t->dispatch_ref));
  CHECK(napi_create_string_utf8(env, "meshlan:tun", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, handle, name, &t->async_ctx));
  CHECK(napi_wrap(env, handle, t, finalize, NULL, NULL));
  napi_add_env_cleanup_hook(env, cleanup_hook, t);
  return handle;
}

static napi_value js_set_polling(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = unwrap(env, argv[0]);
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  if (!t || t->closed) return NULL;
  if (on && !t->polling) {
    int r = uv_poll_start(t->poll, UV_READABLE, poll_cb);
    if (r != 0) return throw_tun_errno(env, -r, "uv_poll_start");
    t->polling = 1;
  } else if (!on) {
    stop_polling(t);
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  release(t);
  // The dispatch function closes over the JS Tun that holds this handle: drop the strong
  // reference so a closed Tun can be collected.
  if (t->dispatch_ref) {
    napi_delete_reference(env, t->dispatch_ref);
    t->dispatch_ref = NULL;
  }
  return NULL;
}

// writeBatch(handle, slab, offsets, lengths, count, vnetIn): number written (input packets).
static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_t *t = unwrap(env, argv[0]);
  napi_value result;
  uint32_t count = 0;
  void *slab, *offs, *lens;
  size_t slab_n, offs_n, lens_n;
  bool vnet_in = false;
  if (!t || argc < 6 || !get_typed(env, argv[1], napi_uint8_array, &slab, &slab_n) ||
      !get_typed(env, argv[2], napi_uint32_array, &offs, &offs_n) ||
      !get_typed(env, argv[3], napi_uint32_array, &lens, &lens_n) || !get_u32(env, argv[4], &count) ||
      napi_get_value_bool(env, argv[5], &vnet_in) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "writeBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count)");
    return NULL;
  }
  if (count > offs_n) count = (uint32_t)offs_n;
  if (count > lens_n) count = (uint32_t)lens_n;
  uint32_t written = 0;
  if (!t->closed) {
    const uint32_t *o = offs, *l = lens;
    for (uint32_t i = 0; i < count; i++) {
      if ((uint64_t)o[i] + l[i] > slab_n || l[i] == 0) {
        t->stats[ST_TX_ERRORS] += 1;
        t->stats[ST_TX_DROPS] += 1;
        continue;
      }
      uint32_t pkts;
      size_t bytes;
      int err = write_one(t, (const uint8_t *)slab + o[i], l[i], vnet_in, &pkts, &bytes);
      t->stats[ST_TX_PACKETS] += pkts;
      t->stats[ST_TX_BYTES] += (double)bytes;
      if (!err) {
        written++;
        continue;
      }
      if (err == WRITE_REFUSED) {
        t->stats[ST_VNET_REFUSED] += 1;
        t->stats[ST_TX_DROPS] += 1;
        continue;
      }
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        t->stats[ST_TX_DROPS] += count - i;
        break;
      }
      t->stats[ST_TX_ERRORS] += 1;
      t->stats[ST_TX_DROPS] += 1;
      if (err == EBADF || err == EBADFD || err == EIO) {
        t->stats[ST_TX_DROPS] += count - i - 1;
        break;
      }
    }
  }
  CHECK(napi_create_uint32(env, written, &result));
  return result;
}

// segment(src: Uint8Array, mtu, headroom): [slab, offsets, lengths, count] or null when src is
// not a frame vnet.c accepts. GSO super-packets are split into MTU-sized packets with complete
// checksums; a NEEDS_CSUM packet gets its checksum completed; any other packet is copied as is.
// Output packets carry no vnet header.
static napi_value js_segment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *src;
  size_t len;
  uint32_t mtu = 0, headroom = 0;
  napi_value null_v;
  napi_get_null(env, &null_v);
  if (argc < 3 || !get_typed(env, argv[0], napi_uint8_array, &src, &len) || !get_u32(env, argv[1], &mtu) ||
      !get_u32(env, argv[2], &headroom)) {
    napi_throw_type_error(env, "EINVAL", "segment(src: Uint8Array, mtu: number, headroom: number)");
    return NULL;
  }
  vnet_pkt_t v;
  if (vnet_parse(src, len, mtu, &v) != VR_OK) return null_v;
  size_t total = vnet_output_size(&v, headroom);
  napi_value slab, offs_ab, lens_ab, offs_v, lens_v, count_v, result;
  void *out, *offs_d, *lens_d;
  CHECK(napi_create_buffer(env, total, &out, &slab));
  CHECK(napi_create_arraybuffer(env, v.nseg * 4, &offs_d, &offs_ab));
  CHECK(napi_create_arraybuffer(env, v.nseg * 4, &lens_d, &lens_ab));
  CHECK(napi_create_typedarray(env, napi_uint32_array, v.nseg, offs_ab, 0, &offs_v));
  CHECK(napi_create_typedarray(env, napi_uint32_array, v.nseg, lens_ab, 0, &lens_v));
  uint32_t n = vnet_segment_into(&v, out, total, headroom, offs_d, lens_d, v.nseg);
  CHECK(napi_create_array_with_length(env, 4, &result));
  CHECK(napi_create_uint32(env, n, &count_v));
  CHECK(napi_set_element(env, result, 0, slab));
  CHECK(napi_set_element(env, result, 1, offs_v));
  CHECK(napi_set_element(env, result, 2, lens_v));
  CHECK(napi_set_element(env, result, 3, count_v));
  return result;
}

// segmentInto(src, out, offsets, lengths, mtu, headroom): like segment() but into caller-owned
// memory, for the fuzzer: returns the packet count, -reason (vnetReasons index) when the frame is
// refused, or 0 when the output does not fit. Never writes outside out/offsets/lengths.
static napi_value js_segment_into(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *src, *out, *offs, *lens;
  size_t len, out_len, offs_n, lens_n;
  uint32_t mtu = 0, headroom = 0;
  if (argc < 6 || !get_typed(env, argv[0], napi_uint8_array, &src, &len) ||
      !get_typed(env, argv[1], napi_uint8_array, &out, &out_len) ||
      !get_typed(env, argv[2], napi_uint32_array, &offs, &offs_n) ||
      !get_typed(env, argv[3], napi_uint32_array, &lens, &lens_n) || !get_u32(env, argv[4], &mtu) ||
      !get_u32(env, argv[5], &headroom)) {
    napi_throw_type_error(env, "EINVAL",
                          "segmentInto(src, out: Uint8Array, offsets, lengths: Uint32Array, mtu, headroom)");
    return NULL;
  }
  vnet_pkt_t v;
  int reason = vnet_parse(src, len, mtu, &v);
  int32_t r = -reason;
  if (reason == VR_OK) {
    uint32_t cap = (uint32_t)(offs_n < lens_n ? offs_n : lens_n);
    r = (int32_t)vnet_segment_into(&v, out, out_len, headroom, offs, lens, cap);
  }
  napi_value result;
  CHECK(napi_create_int32(env, r, &result));
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attach", NULL, js_attach, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setPolling", NULL, js_set_polling, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"segment", NULL, js_segment, NULL, NULL, NULL, napi_enumerable, NULL},
      {"segmentInto", NULL, js_segment_into, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value consts, v;
  napi_create_object(env, &consts);
#define K(n, val)                       \
  napi_create_uint32(env, (val), &v);   \
  napi_set_named_property(env, consts, n, v);
  K("TUN_F_CSUM", TUN_F_CSUM)
  K("TUN_F_TSO4", TUN_F_TSO4)
  K("TUN_F_TSO6", TUN_F_TSO6)
  K("TUN_F_TSO_ECN", TUN_F_TSO_ECN)
  K("STATS_COUNT", ST_COUNT)
  K("VNET_HDR_LEN", VNET_HDR_LEN)
  K("VNET_MAX_SEGMENTS", VNET_MAX_SEGMENTS)
  K("VNET_MIN_GSO_SIZE", VNET_MIN_GSO_SIZE)
#undef K
  napi_set_named_property(env, exports, "constants", consts);
  napi_value reasons;
  napi_create_array_with_length(env, VR_COUNT, &reasons);
  for (uint32_t i = 0; i < VR_COUNT; i++) {
    napi_create_string_utf8(env, vnet_reason_names[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, reasons, i, v);
  }
  napi_set_named_property(env, exports, "vnetReasons", reasons);
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
