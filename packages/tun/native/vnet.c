// Frame type 3 validation, checksum completion and TSO segmentation (see vnet.h).
#include "vnet.h"

#include <string.h>

const char *const vnet_reason_names[VR_COUNT] = {
    "OK",           "SHORT",        "NOT_IPV4",      "BAD_IHL",        "LENGTH_MISMATCH", "BAD_FLAGS",
    "GSO_ECN",      "BAD_GSO_TYPE", "CSUM_FIELDS_SET", "CSUM_PROTO",   "FRAGMENT",        "L4_SHORT",
    "UDP_LENGTH",   "CSUM_START",   "CSUM_OFFSET",   "GSO_FIELDS_SET", "GSO_NO_CSUM",     "GSO_PROTO",
    "GSO_HDR_LEN",  "GSO_SIZE",     "GSO_EMPTY",     "GSO_SEGMENTS",   "GSO_TCP_FLAGS",
};

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_SYN 0x02
#define TCP_RST 0x04

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
// The wire header is little-endian (the TUN is opened with TUNSETVNETLE).
static uint16_t rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr16le(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

// RFC 1071 sum in native byte order; the folded result is stored with memcpy.
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len) {
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    sum += v;
    if (sum < v) sum++;
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    sum += v;
    if (sum < v) sum++;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t v;
    memcpy(&v, p, 2);
    sum += v;
    if (sum < v) sum++;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint8_t last[2] = {*p, 0};
    uint16_t v;
    memcpy(&v, last, 2);
    sum += v;
    if (sum < v) sum++;
  }
  return sum;
}

static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

int vnet_parse(const uint8_t *p, size_t len, uint32_t mtu, vnet_pkt_t *v) {
  memset(v, 0, sizeof *v);
  if (len < VNET_HDR_LEN + 20) return VR_SHORT;
  const uint8_t *ip = p + VNET_HDR_LEN;
  size_t ip_len = len - VNET_HDR_LEN;
  if ((ip[0] >> 4) != 4) return VR_NOT_IPV4;
  size_t ihl = (size_t)(ip[0] & 15) * 4;
  if (ihl < 20 || ihl > ip_len) return VR_BAD_IHL;
  if (rd16(ip + 2) != ip_len) return VR_LENGTH_MISMATCH;

  uint8_t flags = p[0], gso_type = p[1];
  uint16_t hdr_len = rd16le(p + 2), gso_size = rd16le(p + 4);
  uint16_t csum_start = rd16le(p + 6), csum_offset = rd16le(p + 8);
  if (flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) return VR_BAD_FLAGS;
  if (flags == (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) return VR_BAD_FLAGS;
  if (gso_type & VNET_GSO_ECN) return VR_GSO_ECN;
  if (gso_type != VNET_GSO_NONE && gso_type != VNET_GSO_TCPV4) return VR_BAD_GSO_TYPE;

  v->pkt = ip;
  v->len = ip_len;
  v->iphl = ihl;
  v->proto = ip[9];
  v->csum = (flags & VNET_F_NEEDS_CSUM) != 0;
  v->gso = gso_type == VNET_GSO_TCPV4;
  v->nseg = 1;
  size_t tcphl = 0;
  if (!v->csum) {
    if (csum_start || csum_offset) return VR_CSUM_FIELDS_SET;
  } else {
    if (v->proto != IPPROTO_TCP_ && v->proto != IPPROTO_UDP_) return VR_CSUM_PROTO;
    if (rd16(ip + 6) & 0x3fff) return VR_FRAGMENT;  // MF or a fragment offset
    size_t l4_len = ip_len - ihl;
    if (v->proto == IPPROTO_TCP_) {
      if (l4_len < 20) return VR_L4_SHORT;
      tcphl = (size_t)(ip[ihl + 12] >> 4) * 4;
      if (tcphl < 20 || tcphl > l4_len) return VR_L4_SHORT;
    } else {
      if (l4_len < 8) return VR_L4_SHORT;
      if (rd16(ip + ihl + 4) != l4_len) return VR_UDP_LENGTH;
    }
    if (csum_start != ihl) return VR_CSUM_START;
    if (csum_offset != (v->proto == IPPROTO_TCP_ ? TCP_CSUM_OFF : UDP_CSUM_OFF)) return VR_CSUM_OFFSET;
    v->csum_at = ihl + csum_offset;
  }
  if (!v->gso) {
    if (gso_size || hdr_len) return VR_GSO_FIELDS_SET;
    return VR_OK;
  }
  if (!v->csum) return VR_GSO_NO_CSUM;
  if (v->proto != IPPROTO_TCP_) return VR_GSO_PROTO;
  v->hdrs = ihl + tcphl;
  if (hdr_len < v->hdrs || hdr_len > ip_len) return VR_GSO_HDR_LEN;
  if (gso_size < VNET_MIN_GSO_SIZE || gso_size > VNET_MAX_IP_PACKET - 40) return VR_GSO_SIZE;
  v->payload = ip_len - v->hdrs;
  if (v->payload == 0) return VR_GSO_EMPTY;
  v->mss = gso_size;
  if (mtu) {
    if (mtu <= v->hdrs) return VR_GSO_SEGMENTS;
    if (v->mss > mtu - v->hdrs) v->mss = mtu - v->hdrs;
  }
  size_t nseg = (v->payload + v->mss - 1) / v->mss;
  if (nseg > VNET_MAX_SEGMENTS) return VR_GSO_SEGMENTS;
  v->nseg = (uint32_t)nseg;
  if (ip[ihl + 13] & (TCP_SYN | TCP_RST)) return VR_GSO_TCP_FLAGS;
  return VR_OK;
}

void vnet_build_header(const vnet_pkt_t *v, uint8_t out[VNET_HDR_LEN]) {
  memset(out, 0, VNET_HDR_LEN);
  if (v->csum) {
    out[0] = VNET_F_NEEDS_CSUM;
    wr16le(out + 6, (uint16_t)v->iphl);
    wr16le(out + 8, (uint16_t)(v->csum_at - v->iphl));
  }
  if (v->gso) {
    out[1] = VNET_GSO_TCPV4;
    wr16le(out + 2, (uint16_t)v->hdrs);
    wr16le(out + 4, (uint16_t)v->mss);
  }
}

void vnet_partial_csum(const vnet_pkt_t *v, uint8_t out[2]) {
  // The field holds the pseudo-header sum; the result is the folded sum from the L4 header on.
  uint16_t c = csum_fold(csum_add(0, v->pkt + v->iphl, v->len - v->iphl));
  if (c == 0 && v->proto == IPPROTO_UDP_) c = 0xffff;  // 0 means "no checksum" in UDP
  memcpy(out, &c, 2);
}

void vnet_segment(const vnet_pkt_t *v, uint32_t i, uint8_t *hdr, const uint8_t **pl, size_t *pl_len) {
  size_t off = (size_t)i * v->mss;
  size_t n = v->payload - off < v->mss ? v->payload - off : v->mss;
  *pl = v->pkt + v->hdrs + off;
  *pl_len = n;
  memcpy(hdr, v->pkt, v->hdrs);
  uint8_t *tcp = hdr + v->iphl;
  size_t tcphl = v->hdrs - v->iphl, tcplen = tcphl + n;
  wr16(hdr + 2, (uint16_t)(v->hdrs + n));
  wr16(hdr + 4, (uint16_t)(rd16(v->pkt + 4) + i));
  hdr[10] = hdr[11] = 0;
  uint16_t ipc = csum_fold(csum_add(0, hdr, v->iphl));
  memcpy(hdr + 10, &ipc, 2);
  uint8_t pseudo[12];
  memcpy(pseudo, hdr + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP_;
  wr16(pseudo + 10, (uint16_t)tcplen);
  uint64_t sum = csum_add(0, pseudo, 12);
  wr32(tcp + 4, rd32(v->pkt + v->iphl + 4) + (uint32_t)off);
  if (i > 0) tcp[13] &= (uint8_t)~0x80;             // CWR only on the first segment
  if (i + 1 < v->nseg) tcp[13] &= (uint8_t)~0x09;   // FIN and PSH only on the last
  tcp[16] = tcp[17] = 0;
  sum = csum_add(sum, tcp, tcphl);
  sum = csum_add(sum, *pl, n);
  uint16_t c = csum_fold(sum);
  memcpy(tcp + 16, &c, 2);
}

size_t vnet_output_size(const vnet_pkt_t *v, uint32_t headroom) {
  if (v->gso) return (size_t)v->nseg * (headroom + v->hdrs) + v->payload;
  return headroom + v->len;
}

uint32_t vnet_segment_into(const vnet_pkt_t *v, uint8_t *out, size_t out_len, uint32_t headroom,
                           uint32_t *offsets, uint32_t *lengths, uint32_t cap) {
  if (cap < v->nseg || out_len < vnet_output_size(v, headroom)) return 0;
  if (!v->gso) {
    memset(out, 0, headroom);
    memcpy(out + headroom, v->pkt, v->len);
    if (v->csum) vnet_partial_csum(v, out + headroom + v->csum_at);
    offsets[0] = headroom;
    lengths[0] = (uint32_t)v->len;
    return 1;
  }
  size_t pos = 0;
  for (uint32_t i = 0; i < v->nseg; i++) {
    const uint8_t *pl;
    size_t n;
    memset(out + pos, 0, headroom);
    pos += headroom;
    vnet_segment(v, i, out + pos, &pl, &n);
    memcpy(out + pos + v->hdrs, pl, n);
    offsets[i] = (uint32_t)pos;
    lengths[i] = (uint32_t)(v->hdrs + n);
    pos += v->hdrs + n;
  }
  return v->nseg;
}
