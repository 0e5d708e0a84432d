#include "CRampartSASLShims.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

const char *const rampart_sasl_auxprop_plugin_name = "rampart";

static rampart_sasl_credential_lookup_fn credential_lookup = NULL;
static char *configured_mech_list = NULL;
static _Thread_local void *lookup_context = NULL;

void rampart_sasl_set_lookup_context(void *context) {
    lookup_context = context;
}

// Cyrus asks twice per exchange: once for the authentication identity (properties prefixed with '*')
// and once for the authorization identity (SASL_AUXPROP_AUTHZID). Only the former carries secrets.
static int rampart_auxprop_lookup(void *glob_context, sasl_server_params_t *sparams, unsigned flags,
                                  const char *user, unsigned ulen) {
    (void)glob_context;
    if (sparams == NULL || user == NULL || (flags & SASL_AUXPROP_AUTHZID)) return SASL_OK;
    if (credential_lookup == NULL || lookup_context == NULL) return SASL_OK;
    const struct propval *requested = sparams->utils->prop_get(sparams->propctx);
    if (requested == NULL) return SASL_OK;
    for (const struct propval *current = requested; current->name != NULL; current++) {
        if (strcmp(current->name, "*authPassword") != 0) continue;
        if (current->values != NULL) {
            if (!(flags & SASL_AUXPROP_OVERRIDE)) continue;
            sparams->utils->prop_erase(sparams->propctx, current->name);
        }
        char *value = credential_lookup(lookup_context, user, ulen);
        if (value == NULL) continue;
        size_t length = strlen(value);
        sparams->utils->prop_set(sparams->propctx, current->name, value, (int)length);
        memset(value, 0, length);
        free(value);
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t rampart_auxprop_plugin = {
    0,                      /* features */
    0,                      /* spare */
    NULL,                   /* glob_context */
    NULL,                   /* auxprop_free */
    rampart_auxprop_lookup, /* auxprop_lookup */
    "rampart",              /* name */
    NULL,                   /* auxprop_store: credentials are written by Rampart, never through Cyrus */
};

static int rampart_auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
                                sasl_auxprop_plug_t **plug, const char *plugname) {
    (void)utils;
    (void)plugname;
    if (max_version < SASL_AUXPROP_PLUG_VERSION) return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &rampart_auxprop_plugin;
    return SASL_OK;
}

// Every option Cyrus asks for is answered here, so a configuration file (<dir>/rampart.conf) can
// never change Cyrus's behaviour: options Rampart does not set are answered "unset".
static int rampart_getopt(void *context, const char *plugin_name, const char *option, const char **result,
                          unsigned *len) {
    (void)context;
    (void)plugin_name;
    const char *value = NULL;
    if (option != NULL && strcmp(option, "auxprop_plugin") == 0) {
        value = rampart_sasl_auxprop_plugin_name;
    } else if (option != NULL && strcmp(option, "mech_list") == 0) {
        value = configured_mech_list;
    }
    if (result != NULL) *result = value;
    if (len != NULL) *len = value != NULL ? (unsigned)strlen(value) : 0;
    return SASL_OK;
}

// Cyrus's own messages would go to syslog; Rampart reads sasl_errdetail instead and logs it at debug.
static int rampart_log(void *context, int level, const char *message) {
    (void)context;
    (void)level;
    (void)message;
    return SASL_OK;
}

// A directory that cannot exist: "/dev/null/rampart.conf" is never opened successfully.
static int rampart_getconfpath(void *context, const char **path) {
    (void)context;
    *path = "/dev/null";
    return SASL_OK;
}

static sasl_callback_t rampart_global_callbacks[] = {
    { SASL_CB_GETOPT, (sasl_callback_ft)rampart_getopt, NULL },
    { SASL_CB_LOG, (sasl_callback_ft)rampart_log, NULL },
    { SASL_CB_GETCONFPATH, (sasl_callback_ft)rampart_getconfpath, NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

int rampart_sasl_server_init(const char *mech_list, rampart_sasl_credential_lookup_fn lookup) {
    if (mech_list == NULL || lookup == NULL) return SASL_BADPARAM;
    free(configured_mech_list);
    configured_mech_list = strdup(mech_list);
    if (configured_mech_list == NULL) return SASL_NOMEM;
    credential_lookup = lookup;
    int result = sasl_auxprop_add_plugin(rampart_sasl_auxprop_plugin_name, rampart_auxprop_init);
    if (result != SASL_OK) return result;
    return sasl_server_init(rampart_global_callbacks, "rampart");
}

// The parts of the GSS-API (RFC 2744) this file needs, declared here rather than taken from the
// Kerberos headers: gss_buffer_desc's layout and the two functions' signatures are fixed by the RFC.
typedef uint32_t rampart_om_uint32;
typedef struct {
    size_t length;
    void *value;
} rampart_gss_buffer;
typedef rampart_om_uint32 (*rampart_gss_display_name_fn)(rampart_om_uint32 *minor, const void *name, rampart_gss_buffer *out, void **type);
typedef rampart_om_uint32 (*rampart_gss_release_buffer_fn)(rampart_om_uint32 *minor, rampart_gss_buffer *buffer);

typedef struct rampart_krb5_context *rampart_krb5_context;
typedef int32_t (*rampart_krb5_init_context_fn)(rampart_krb5_context *context);
typedef void (*rampart_krb5_free_context_fn)(rampart_krb5_context context);
typedef int32_t (*rampart_krb5_get_default_realm_fn)(rampart_krb5_context context, char **realm);
typedef void (*rampart_krb5_free_default_realm_fn)(rampart_krb5_context context, char *realm);

/// The client's name from Cyrus's authentication id: Cyrus's GSSAPI plugin drops the realm when it is
/// the default realm of this host's Kerberos configuration, so it is put back from there (libkrb5,
/// loaded with libgssapi_krb5).
static int rampart_gss_name_from_authid(sasl_conn_t *connection, char *out, unsigned out_size) {
    const void *value = NULL;
    if (sasl_getprop(connection, SASL_AUTHUSER, &value) != SASL_OK || value == NULL) return -6;
    const char *authid = value;
    size_t length = strlen(authid);
    if (strchr(authid, '@') != NULL) {
        if (length >= out_size) return -5;
        memcpy(out, authid, length + 1);
        return 0;
    }
    void *library = dlopen("libkrb5.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (library == NULL) return -7;
    rampart_krb5_init_context_fn init = (rampart_krb5_init_context_fn)dlsym(library, "krb5_init_context");
    rampart_krb5_free_context_fn free_context = (rampart_krb5_free_context_fn)dlsym(library, "krb5_free_context");
    rampart_krb5_get_default_realm_fn get_realm = (rampart_krb5_get_default_realm_fn)dlsym(library, "krb5_get_default_realm");
    rampart_krb5_free_default_realm_fn free_realm = (rampart_krb5_free_default_realm_fn)dlsym(library, "krb5_free_default_realm");
    int result = -8;
    rampart_krb5_context context = NULL;
    if (init != NULL && free_context != NULL && get_realm != NULL && free_realm != NULL && init(&context) == 0) {
        char *realm = NULL;
        if (get_realm(context, &realm) == 0 && realm != NULL) {
            size_t realm_length = strlen(realm);
            if (length + 1 + realm_length < out_size) {
                memcpy(out, authid, length);
                out[length] = '@';
                memcpy(out + length + 1, realm, realm_length + 1);
                result = 0;
            } else {
                result = -5;
            }
            free_realm(context, realm);
        }
        free_context(context);
    }
    dlclose(library);
    return result;
}

int rampart_sasl_gss_peer_name(void *connection, char *out, unsigned out_size) {
    if (connection == NULL || out == NULL || out_size == 0) return -1;
    const void *name = NULL;
    if (sasl_getprop((sasl_conn_t *)connection, SASL_GSS_PEER_NAME, &name) != SASL_OK || name == NULL) {
        // This Cyrus does not keep the peer's gss_name_t.
        return rampart_gss_name_from_authid((sasl_conn_t *)connection, out, out_size);
    }
    // Already loaded by Cyrus's GSSAPI plugin; RTLD_NOLOAD never loads anything new.
    void *library = dlopen("libgssapi_krb5.so.2", RTLD_NOW | RTLD_NOLOAD);
    if (library == NULL) return -3;
    rampart_gss_display_name_fn display = (rampart_gss_display_name_fn)dlsym(library, "gss_display_name");
    rampart_gss_release_buffer_fn release = (rampart_gss_release_buffer_fn)dlsym(library, "gss_release_buffer");
    int result = -4;
    if (display != NULL && release != NULL) {
        rampart_om_uint32 minor = 0;
        rampart_gss_buffer buffer = {0, NULL};
        if (display(&minor, name, &buffer, NULL) == 0 && buffer.value != NULL) {
            if (buffer.length < out_size && memchr(buffer.value, 0, buffer.length) == NULL) {
                memcpy(out, buffer.value, buffer.length);
                out[buffer.length] = 0;
                result = 0;
            } else {
                result = -5;
            }
            release(&minor, &buffer);
        }
    }
    dlclose(library);
    return result;
}
