// Replays frames dumped by fuzz-vnet.ts (--dump FILE) through vnet.c built with AddressSanitizer
// and UndefinedBehaviorSanitizer: each frame sits in a heap buffer of exactly its length and the
// output in one of exactly the size vnet_output_size() reports, so any read or write outside them
// aborts with a report. Build and run (not part of CI):
//   gcc -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
//       -o /tmp/vnet-asan packages/tun/bench/vnet-asan.c packages/tun/native/vnet.c
//   node packages/tun/bench/fuzz-vnet.ts --n 200000 --seed 7 --dump /tmp/frames.bin
//   /tmp/vnet-asan /tmp/frames.bin
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../native/vnet.h"

static int read_u32(FILE *f, uint32_t *v) {
  uint8_t b[4];
  if (fread(b, 1, 4, f) != 4) return 0;
  *v = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: vnet-asan FRAMES.bin\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  unsigned long frames = 0, accepted = 0, packets = 0, reasons[VR_COUNT] = {0};
  uint32_t len, mtu, headroom;
  while (read_u32(f, &len) && read_u32(f, &mtu) && read_u32(f, &headroom)) {
    uint8_t *in = malloc(len ? len : 1);
    if (len && fread(in, 1, len, f) != len) break;
    vnet_pkt_t v;
    int r = vnet_parse(in, len, mtu, &v);
    reasons[r]++;
    frames++;
    if (r == VR_OK) {
      size_t size = vnet_output_size(&v, headroom);
      uint8_t *out = malloc(size ? size : 1);
      uint32_t *offs = malloc(v.nseg * sizeof *offs), *lens = malloc(v.nseg * sizeof *lens);
      uint32_t n = vnet_segment_into(&v, out, size, headroom, offs, lens, v.nseg);
      if (n != v.nseg) {
        fprintf(stderr, "frame %lu: %u packets, expected %u\n", frames, n, v.nseg);
        return 1;
      }
      uint8_t hdr[VNET_HDR_LEN];
      vnet_build_header(&v, hdr);
      accepted++;
      packets += n;
      free(out);
      free(offs);
      free(lens);
    }
    free(in);
  }
  fclose(f);
  printf("vnet-asan: %lu frames, %lu accepted -> %lu packets, no sanitizer report\n", frames, accepted, packets);
  for (int i = 0; i < VR_COUNT; i++)
    if (reasons[i]) printf("  %s %lu\n", vnet_reason_names[i], reasons[i]);
  return 0;
}
