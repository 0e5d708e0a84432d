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
    if (capacity <= 0) {
        return 0;
    }
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

/* A source/sink BIO method with these callbacks, or NULL when OpenSSL cannot make one. */
static BIO_METHOD *make_method(const char *name, int (*read)(BIO *, char *, int), int (*write)(BIO *, const char *, int),
                               long (*ctrl)(BIO *, int, long, void *), int (*create)(BIO *), int (*destroy)(BIO *)) {
    int index = BIO_get_new_index();
    if (index == -1) {
        return NULL;
    }
    BIO_METHOD *method = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, name);
    if (method == NULL) {
        return NULL;
    }
    if (BIO_meth_set_read(method, read) != 1 || BIO_meth_set_write(method, write) != 1 || BIO_meth_set_ctrl(method, ctrl) != 1
        || BIO_meth_set_create(method, create) != 1 || BIO_meth_set_destroy(method, destroy) != 1) {
        BIO_meth_free(method);
        return NULL;
    }
    return method;
}

static void make_borrowed_method(void) {
    borrowed_method = make_method("rampart borrowed input", borrowed_read, borrowed_write, borrowed_ctrl, borrowed_create,
                                  borrowed_destroy);
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

/* A sink BIO that writes into a region the caller lends (a NIO ByteBuffer's writable storage), so
   encrypted records land in the buffer that goes to the socket instead of a memory BIO that is then
   copied out. What does not fit, or is written with no region lent (handshake messages, alerts),
   goes to an overflow buffer the caller drains; once overflow holds bytes, later writes follow them
   there, so the order is always region, then overflow. */

typedef struct {
    unsigned char *region;
    size_t capacity;
    size_t used;
    unsigned char *overflow;
    size_t overflow_length;
    size_t overflow_capacity;
} lent_output;

static int lent_output_write(BIO *bio, const char *in, int length) {
    lent_output *output = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (length <= 0) {
        return 0;
    }
    size_t count = (size_t)length;
    if (output->overflow_length == 0 && output->region != NULL && output->capacity - output->used >= count) {
        memcpy(output->region + output->used, in, count);
        output->used += count;
        return length;
    }
    if (output->overflow_capacity - output->overflow_length < count) {
        size_t wanted = output->overflow_length + count;
        size_t capacity = output->overflow_capacity > 0 ? output->overflow_capacity : 4096;
        while (capacity < wanted) {
            capacity *= 2;
        }
        unsigned char *grown = OPENSSL_realloc(output->overflow, capacity);
        if (grown == NULL) {
            return -1;
        }
        output->overflow = grown;
        output->overflow_capacity = capacity;
    }
    memcpy(output->overflow + output->overflow_length, in, count);
    output->overflow_length += count;
    return length;
}

static int lent_output_read(BIO *bio, char *out, int capacity) {
    (void)bio; (void)out; (void)capacity;
    return -1;
}

static long lent_output_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number; (void)pointer;
    lent_output *output = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
        return (long)(output->used + output->overflow_length);
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static int lent_output_create(BIO *bio) {
    lent_output *output = OPENSSL_zalloc(sizeof(lent_output));
    if (output == NULL) {
        return 0;
    }
    BIO_set_data(bio, output);
    BIO_set_init(bio, 1);
    return 1;
}

static int lent_output_destroy(BIO *bio) {
    lent_output *output = BIO_get_data(bio);
    if (output != NULL) {
        OPENSSL_free(output->overflow);
        OPENSSL_free(output);
    }
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *lent_output_method = NULL;
static CRYPTO_ONCE lent_output_method_once = CRYPTO_ONCE_STATIC_INIT;

static void make_lent_output_method(void) {
    lent_output_method = make_method("rampart lent output", lent_output_read, lent_output_write, lent_output_ctrl,
                                     lent_output_create, lent_output_destroy);
}

BIO *rampart_lent_output_bio_new(void) {
    if (CRYPTO_THREAD_run_once(&lent_output_method_once, make_lent_output_method) != 1 || lent_output_method == NULL) {
        return NULL;
    }
    return BIO_new(lent_output_method);
}

void rampart_lent_output_bio_lend(BIO *bio, void *region, size_t capacity) {
    lent_output *output = BIO_get_data(bio);
    output->region = region;
    output->capacity = capacity;
    output->used = 0;
}

size_t rampart_lent_output_bio_take_back(BIO *bio) {
    lent_output *output = BIO_get_data(bio);
    size_t used = output->used;
    output->region = NULL;
    output->capacity = 0;
    output->used = 0;
    return used;
}

size_t rampart_lent_output_bio_overflow_length(BIO *bio) {
    lent_output *output = BIO_get_data(bio);
    return output->overflow_length;
}

size_t rampart_lent_output_bio_drain_overflow(BIO *bio, void *out, size_t capacity) {
    lent_output *output = BIO_get_data(bio);
    size_t count = capacity < output->overflow_length ? capacity : output->overflow_length;
    memcpy(out, output->overflow, count);
    memmove(output->overflow, output->overflow + count, output->overflow_length - count);
    output->overflow_length -= count;
    return count;
}
