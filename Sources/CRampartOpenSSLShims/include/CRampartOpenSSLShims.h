#ifndef CRAMPART_OPENSSL_SHIMS_H
#define CRAMPART_OPENSSL_SHIMS_H

// Functions wrapping OpenSSL macros that Swift cannot import (option bits built with SSL_OP_BIT,
// SSL_ctrl-based setters, BIO_get_mem_data). The header only forward-declares OpenSSL's structs so
// the types Swift sees come from COpenSSL alone.

#include <stddef.h>

struct bio_st;
struct ssl_ctx_st;
struct ssl_st;
struct x509_st;
struct X509_crl_st;

/// Restricts the context to protocol versions [min_version, max_version] (TLS1_2_VERSION…). 1 on success.
int rampart_ssl_ctx_set_protocol_range(struct ssl_ctx_st *ctx, int min_version, int max_version);

/// Sets the options every Rampart context uses: no compression, no renegotiation, server cipher
/// preference, a session id context (needed for resumption when client certificates are verified),
/// read-ahead with a 64 KiB read buffer.
/// 1 on success.
int rampart_ssl_ctx_set_secure_options(struct ssl_ctx_st *ctx);

/// Sends `name` as SNI unless it is an IP address literal (RFC 6066 forbids those). 1 on success.
int rampart_ssl_set_server_name(struct ssl_st *ssl, const char *name);

/// Makes certificate verification check `name`: a DNS name, or an IPv4/IPv6 literal matched against
/// IP SANs. 1 on success.
int rampart_ssl_set_expected_host(struct ssl_st *ssl, const char *name);

/// The certificate's notBefore and notAfter as seconds since the epoch (UTC). 1 on success.
int rampart_x509_validity(struct x509_st *cert, long long *not_before, long long *not_after);

/// The CRL's nextUpdate as seconds since the epoch; 0 when it has none or it cannot be read.
int rampart_x509_crl_next_update(struct X509_crl_st *crl, long long *next_update);

/// A read-only BIO over bytes the caller lends (`rampart_borrowed_bio_lend`), so received ciphertext
/// is read by OpenSSL where it lies instead of being copied into a memory BIO first. With nothing
/// lent it asks the reader to retry, as an empty memory BIO does. NULL if OpenSSL cannot make one.
struct bio_st *rampart_borrowed_bio_new(void);

/// Lends `length` bytes at `bytes` to `bio` until `rampart_borrowed_bio_take_back`.
void rampart_borrowed_bio_lend(struct bio_st *bio, const void *bytes, size_t length);

/// Ends the loan; returns how many of the lent bytes (the last ones) were not read.
size_t rampart_borrowed_bio_take_back(struct bio_st *bio);

/// A write-only BIO over a region the caller lends (`rampart_lent_output_bio_lend`), so encrypted
/// records land in the buffer that goes to the socket. Writes that do not fit, or come with no region
/// lent (handshake messages, alerts), go to an overflow buffer the caller drains; once overflow holds
/// bytes, later writes follow them there (order: region, then overflow). NULL if OpenSSL cannot make one.
struct bio_st *rampart_lent_output_bio_new(void);

/// Lends `capacity` bytes at `region` to `bio` until `rampart_lent_output_bio_take_back`.
void rampart_lent_output_bio_lend(struct bio_st *bio, void *region, size_t capacity);

/// Ends the loan; returns how many bytes were written into the region (from its start).
size_t rampart_lent_output_bio_take_back(struct bio_st *bio);

/// How many bytes wait in the overflow buffer.
size_t rampart_lent_output_bio_overflow_length(struct bio_st *bio);

/// Moves up to `capacity` bytes from the front of the overflow buffer to `out`; returns how many.
size_t rampart_lent_output_bio_drain_overflow(struct bio_st *bio, void *out, size_t capacity);

#include "CRampartCertificateShims.h"

#endif
