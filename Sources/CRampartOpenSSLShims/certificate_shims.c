#include "CRampartCertificateShims.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

char *rampart_x509_name_rfc2253(const X509_NAME *name) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }
    char *result = NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        char *data = NULL;
        long length = BIO_get_mem_data(bio, &data);
        if (length >= 0) {
            result = malloc((size_t)length + 1);
            if (result != NULL) {
                memcpy(result, data, (size_t)length);
                result[length] = '\0';
            }
        }
    }
    BIO_free(bio);
    return result;
}

void rampart_openssl_free(void *pointer) {
    OPENSSL_free(pointer);
}

int rampart_random_bytes(unsigned char *buffer, int count) {
    return RAND_bytes(buffer, count);
}
