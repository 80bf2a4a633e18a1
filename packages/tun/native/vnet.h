/*
 * Frame type 3 in C: validate a virtio_net_hdr + IPv4 packet that came from a remote peer, and
 * only then complete its checksum, split it, or rebuild the header for an offload TUN.
 *
 * The rules mirror packages/wire/src/vnet.ts (same reasons, same order) so the fuzzer can compare
 * both verdicts; this copy is the last line of defence: nothing the peer sent decides where bytes
 * are written. The checksum goes only to the L4 checksum field of the packet's own protocol, and a
 * super-packet becomes at most VNET_MAX_SEGMENTS packets. Pure C, no N-API (tun.c and the ASan
 * fuzz harness in bench/ both compile it).
 */
#ifndef MESHLAN_VNET_H
#define MESHLAN_VNET_H

#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN 10
#define VNET_F_NEEDS_CSUM 1
#define VNET_F_DATA_VALID 2
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_ECN 0x80
#define VNET_MAX_IP_PACKET 65535
/* Smallest gso_size: the default IPv4 MSS every host accepts (RFC 1122); gso_size=1 once made one
 * 64 KiB frame into 65,495 writes. */
#define VNET_MIN_GSO_SIZE 536
/* Most segments per super-packet: (65535 - 40) / 536 rounded up. */
#define VNET_MAX_SEGMENTS 123
/* Largest IPv4 + TCP header (60 + 60): the per-segment header scratch. */
#define VNET_MAX_HDRS 120

/* Why a frame was refused; names in vnet_reason_names, indexed alike. */
enum {
  VR_OK,
  VR_SHORT,
  VR_NOT_IPV4,
  VR_BAD_IHL,
  VR_LENGTH_MISMATCH,
  VR_BAD_FLAGS,
  VR_GSO_ECN,
  VR_BAD_GSO_TYPE,
  VR_CSUM_FIELDS_SET,
  VR_CSUM_PROTO,
  VR_FRAGMENT,
  VR_L4_SHORT,
  VR_UDP_LENGTH,
  VR_CSUM_START,
  VR_CSUM_OFFSET,
  VR_GSO_FIELDS_SET,
  VR_GSO_NO_CSUM,
  VR_GSO_PROTO,
  VR_GSO_HDR_LEN,
  VR_GSO_SIZE,
  VR_GSO_EMPTY,
  VR_GSO_SEGMENTS,
  VR_GSO_TCP_FLAGS,
  VR_COUNT
};

extern const char *const vnet_reason_names[VR_COUNT];

/* A validated frame: every field derived from the packet, except gso_size (bounded). */
typedef struct {
  const uint8_t *pkt; /* the IPv4 packet, after the 10-byte header */
  size_t len;         /* == IP total length */
  int csum;           /* NEEDS_CSUM: the L4 checksum must be completed */
  int gso;            /* a TCP/IPv4 super-packet */
  uint8_t proto;
  size_t iphl;
  size_t csum_at;  /* offset of the L4 checksum field in pkt (csum only) */
  size_t hdrs;     /* IP + TCP header length (gso only) */
  size_t payload;  /* TCP payload bytes (gso only) */
  size_t mss;      /* segment payload: gso_size, capped by the receiver's MTU (gso only) */
  uint32_t nseg;   /* packets the frame becomes */
} vnet_pkt_t;

/* Validates frame p[0..len) (header + packet). mtu: the receiving TUN's MTU (0: no cap). Returns
 * VR_OK and fills *v, or a reason. Reads only inside p[0..len). */
int vnet_parse(const uint8_t *p, size_t len, uint32_t mtu, vnet_pkt_t *v);

/* The header an offload TUN gets: rebuilt from v, never copied from the peer. */
void vnet_build_header(const vnet_pkt_t *v, uint8_t out[VNET_HDR_LEN]);

/* The completed checksum of a csum packet, as the two bytes to store at v->csum_at. */
void vnet_partial_csum(const vnet_pkt_t *v, uint8_t out[2]);

/* Segment i of a gso packet: writes its IP+TCP header (v->hdrs bytes, checksums complete) to hdr
 * and points pl, pl_len at its payload inside v->pkt. */
void vnet_segment(const vnet_pkt_t *v, uint32_t i, uint8_t *hdr, const uint8_t **pl, size_t *pl_len);

/* Writes the packets v becomes into out[0..out_len), each after `headroom` bytes, recording
 * offsets/lengths (cap entries). Returns the packet count, or 0 when they do not fit. Writes
 * nothing outside out[0..out_len). */
uint32_t vnet_segment_into(const vnet_pkt_t *v, uint8_t *out, size_t out_len, uint32_t headroom,
                           uint32_t *offsets, uint32_t *lengths, uint32_t cap);

/* Bytes vnet_segment_into needs for v with this headroom. */
size_t vnet_output_size(const vnet_pkt_t *v, uint32_t headroom);

#endif
