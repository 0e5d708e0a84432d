#include "CRampartOpenSSLShims.h"

#include <string.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>

/* A source BIO that reads from bytes the caller lends (a NIO ByteBuffer's storage) instead of a
   memory BIO's own copy of them. Empty, it asks the reader to retry, as a memory BIO does. */

typedef struct {
    const unsigned char *data;
    size_t length;
} borrowed_input;

static int borrowed_read(BIO *bio, char *out, int capacity) {
    borrowed_input *input = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (input->length == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = (size_t)capacity < input->length ? (size_t)capacity : input->length;
    memcpy(out, input->data, count);
    input->data += count;
    input->length -= count;
    return (int)count;
}

static int borrowed_write(BIO *bio, const char *in, int length) {
    (void)bio; (void)in; (void)length;
    return -1;
}

static long borrowed_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number; (void)pointer;
    borrowed_input *input = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_PENDING:
        return (long)input->length;
    case BIO_CTRL_EOF:
        return 0;
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int borrowed_create(BIO *bio) {
    borrowed_input *input = OPENSSL_zalloc(sizeof(borrowed_input));
    if (input == NULL) {
        return 0;
    }
    BIO_set_data(bio, input);
    BIO_set_init(bio, 1);
    return 1;
}

static int borrowed_destroy(BIO *bio) {
    OPENSSL_free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *borrowed_method = NULL;
static CRYPTO_ONCE borrowed_method_once = CRYPTO_ONCE_STATIC_INIT;

static void make_borrowed_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rampart borrowed input");
    if (method == NULL) {
        return;
    }
    if (BIO_meth_set_read(method, borrowed_read) != 1 || BIO_meth_set_write(method, borrowed_write) != 1
        || BIO_meth_set_ctrl(method, borrowed_ctrl) != 1 || BIO_meth_set_create(method, borrowed_create) != 1
        || BIO_meth_set_destroy(method, borrowed_destroy) != 1) {
        BIO_meth_free(method);
        return;
    }
    borrowed_method = method;
}

BIO *rampart_borrowed_bio_new(void) {
    if (CRYPTO_THREAD_run_once(&borrowed_method_once, make_borrowed_method) != 1 || borrowed_method == NULL) {
        return NULL;
    }
    return BIO_new(borrowed_method);
}

void rampart_borrowed_bio_lend(BIO *bio, const void *bytes, size_t length) {
    borrowed_input *input = BIO_get_data(bio);
    input->data = bytes;
    input->length = length;
}

size_t rampart_borrowed_bio_take_back(BIO *bio) {
    borrowed_input *input = BIO_get_data(bio);
    size_t remaining = input->length;
    input->data = NULL;
    input->length = 0;
    return remaining;
}
