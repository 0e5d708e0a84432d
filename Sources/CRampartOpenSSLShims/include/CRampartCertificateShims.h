#ifndef CRAMPART_CERTIFICATE_SHIMS_H
#define CRAMPART_CERTIFICATE_SHIMS_H

// Helpers for the certificate tooling (RampartTLS CertificateAuthority) wrapping OpenSSL macros
// (OPENSSL_free, BIO_get_mem_data) Swift cannot import. Like CRampartOpenSSLShims.h, only
// forward declarations of OpenSSL's structs.

struct X509_name_st;

/// `name` in RFC 2253 form (`CN=alice,OU=eng,O=Example`), malloc'ed (release with free()); NULL on failure.
char *rampart_x509_name_rfc2253(const struct X509_name_st *name);

/// OPENSSL_free: releases memory OpenSSL allocated (BN_bn2hex results, …).
void rampart_openssl_free(void *pointer);

/// RAND_bytes (openssl/rand.h is not part of COpenSSL): `count` bytes from OpenSSL's CSPRNG. 1 on success.
int rampart_random_bytes(unsigned char *buffer, int count);

#endif
