#include "CRampartOpenSSLShims.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int is_ip_literal(const char *name) {
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
    if (ip == NULL) {
        return 0;
    }
    ASN1_OCTET_STRING_free(ip);
    return 1;
}

int rampart_ssl_ctx_set_protocol_range(SSL_CTX *ctx, int min_version, int max_version) {
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
        return 0;
    }
    return SSL_CTX_set_max_proto_version(ctx, max_version) == 1;
}

int rampart_ssl_ctx_set_secure_options(SSL_CTX *ctx) {
    static const unsigned char session_id_context[] = "rampart";
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Read ahead: take everything the memory BIO holds in one read and parse records from it, instead
       of two BIO reads (header, body) per record. Clients such as librdkafka send many small records
       (about 2 KB each while producing), where the per-record cost dominates. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    return SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof(session_id_context) - 1);
}

int rampart_ssl_set_server_name(SSL *ssl, const char *name) {
    if (is_ip_literal(name)) {
        return 1;
    }
    return SSL_set_tlsext_host_name(ssl, name) == 1;
}

int rampart_ssl_set_expected_host(SSL *ssl, const char *name) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (is_ip_literal(name)) {
        return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1;
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, name, 0) == 1;
}
