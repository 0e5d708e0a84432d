#include "CRampartOpenSSLShims.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <time.h>

static int asn1_time_to_epoch(const ASN1_TIME *time, long long *out) {
    struct tm parsed;
    if (time == NULL || ASN1_TIME_to_tm(time, &parsed) != 1) {
        return 0;
    }
    *out = (long long)timegm(&parsed);
    return 1;
}

int rampart_x509_validity(struct x509_st *cert, long long *not_before, long long *not_after) {
    return asn1_time_to_epoch(X509_get0_notBefore(cert), not_before)
        && asn1_time_to_epoch(X509_get0_notAfter(cert), not_after);
}

int rampart_x509_crl_next_update(struct X509_crl_st *crl, long long *next_update) {
    return asn1_time_to_epoch(X509_CRL_get0_nextUpdate(crl), next_update);
}
