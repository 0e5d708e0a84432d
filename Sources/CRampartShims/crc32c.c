// CRC-32C for Kafka record batches. The hardware path uses the SSE4.2 crc32 instruction over three
// interleaved streams to hide its 3-cycle latency; the fallback is slicing-by-8.
#include "CRampartShims.h"
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static inline void ensure_table(void) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
}

static uint32_t sw_raw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8); n--; }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][(w >> 56) & 0xff];
        p += 8; n -= 8;
    }
    while (n--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t rampart_crc32c_software(uint32_t crc, const void *data, size_t length) {
    ensure_table();
    return ~sw_raw(~crc, (const unsigned char *)data, length);
}

#if defined(__x86_64__)
#include <cpuid.h>

// Multiplies a CRC state by x^(8*len) mod P, i.e. shifts it over `len` zero bytes. Used to combine the
// three interleaved streams. Computed with a GF(2) matrix-free method: repeated squaring of x^8.
static uint32_t gf2_multiply(uint32_t a, uint32_t b) {
    // a * b mod P in the reflected domain.
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (b & 0x80000000u) product ^= a;
        b <<= 1;
        a = (a & 1) ? (a >> 1) ^ POLY : a >> 1;
    }
    return product;
}

static uint32_t x_pow_8n(size_t n) {
    // x^(8n) mod P, reflected representation (x^0 == 0x80000000).
    uint32_t result = 0x80000000u;
    uint32_t base = 0x00800000u; // x^8
    while (n) {
        if (n & 1) result = gf2_multiply(result, base);
        base = gf2_multiply(base, base);
        n >>= 1;
    }
    return result;
}

#define BLOCK 8192
static uint32_t shift_block = 0;
static uint32_t shift_block2 = 0;
static int hw_state = -1; // -1 unknown, 0 no, 1 yes

static int detect(void) {
    int s = __atomic_load_n(&hw_state, __ATOMIC_ACQUIRE);
    if (s >= 0) return s;
    unsigned int a, b, c, d;
    int yes = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) yes = (c & bit_SSE4_2) != 0;
    shift_block = x_pow_8n(BLOCK);
    shift_block2 = x_pow_8n(2 * BLOCK);
    __atomic_store_n(&hw_state, yes, __ATOMIC_RELEASE);
    return yes;
}

__attribute__((target("sse4.2")))
static uint32_t hw_raw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { crc = __builtin_ia32_crc32qi(crc, *p++); n--; }
    while (n >= 3 * BLOCK) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        const unsigned char *p1 = p + BLOCK, *p2 = p + 2 * BLOCK;
        for (size_t i = 0; i < BLOCK; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8); memcpy(&w1, p1 + i, 8); memcpy(&w2, p2 + i, 8);
            c0 = __builtin_ia32_crc32di(c0, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        crc = gf2_multiply((uint32_t)c0, shift_block2) ^ gf2_multiply((uint32_t)c1, shift_block) ^ (uint32_t)c2;
        p += 3 * BLOCK; n -= 3 * BLOCK;
    }
    uint64_t c = crc;
    while (n >= 8) { uint64_t w; memcpy(&w, p, 8); c = __builtin_ia32_crc32di(c, w); p += 8; n -= 8; }
    crc = (uint32_t)c;
    while (n--) crc = __builtin_ia32_crc32qi(crc, *p++);
    return crc;
}

uint32_t rampart_crc32c(uint32_t crc, const void *data, size_t length) {
    if (detect()) return ~hw_raw(~crc, (const unsigned char *)data, length);
    return rampart_crc32c_software(crc, data, length);
}

int rampart_crc32c_hardware_available(void) { return detect(); }

#else

uint32_t rampart_crc32c(uint32_t crc, const void *data, size_t length) {
    return rampart_crc32c_software(crc, data, length);
}

int rampart_crc32c_hardware_available(void) { return 0; }

#endif
