#ifndef C_RAMPART_SHIMS_H
#define C_RAMPART_SHIMS_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as used by Kafka record batches v2.
/// `crc` is the running value (start with 0); the result is final (already inverted), so
/// `rampart_crc32c(rampart_crc32c(0, a), b) == crc32c(a ++ b)`.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it, a slicing-by-8 table otherwise.
uint32_t rampart_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable slicing-by-8 implementation, exposed so tests can compare both paths.
uint32_t rampart_crc32c_software(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use on this CPU.
int rampart_crc32c_hardware_available(void);

/// libFuzzer's driver entry point. Defined only when linking with -sanitize=fuzzer; declared here so the
/// fuzz target's own `main` can hand control to it (SwiftPM names an executable's entry point itself).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
