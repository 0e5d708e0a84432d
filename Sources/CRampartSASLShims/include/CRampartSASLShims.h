#ifndef CRAMPART_SASL_SHIMS_H
#define CRAMPART_SASL_SHIMS_H

// Rampart's in-process Cyrus SASL configuration: the auxprop plugin that hands Cyrus the SCRAM
// credentials kept by Rampart (RFC 5803 authPassword values), and the option callbacks that keep
// Cyrus away from every system store (no sasldb, no config file). The header uses plain C types
// only, so the types Swift sees for Cyrus come from CSASL2 alone.

/// Answers a credential lookup for `user` (`user_length` bytes, not NUL-terminated) made on behalf
/// of `context` (the value given to `rampart_sasl_set_lookup_context` on the calling thread).
/// Returns a malloc'ed, NUL-terminated RFC 5803 authPassword value, or NULL when there is none. The
/// plugin zeroes and frees it.
typedef char *(*rampart_sasl_credential_lookup_fn)(void *context, const char *user, unsigned user_length);

/// The name under which the plugin is registered (and the value of Cyrus's `auxprop_plugin` option).
extern const char *const rampart_sasl_auxprop_plugin_name;

/// Registers the auxprop plugin, installs the global callbacks (options answered by Rampart alone,
/// Cyrus's own log discarded, no configuration file) and calls sasl_server_init for the application
/// "rampart". `mech_list` is Cyrus's `mech_list` option: the space-separated mechanisms it may serve.
/// Returns a Cyrus result code (0 = SASL_OK). Call once per process.
int rampart_sasl_server_init(const char *mech_list, rampart_sasl_credential_lookup_fn lookup);

/// Sets (or clears, with NULL) the lookup context of the calling thread. Cyrus calls the plugin
/// synchronously inside sasl_server_start/sasl_server_step, so the caller sets the context of the
/// connection it steps just before and clears it just after.
void rampart_sasl_set_lookup_context(void *context);

/// Writes the Kerberos name of a GSSAPI connection's client (`SASL_GSS_PEER_NAME`, a gss_name_t, shown
/// by gss_display_name: `alice@REALM`, realm included) into `out` (NUL-terminated, at most `out_size`
/// bytes). `connection` is a sasl_conn_t. gss_display_name is taken from libgssapi_krb5, which Cyrus's
/// GSSAPI plugin has loaded, so Rampart needs no Kerberos headers or link dependency. A Cyrus that does
/// not keep the peer name (Debian 12's 2.1.28) gives the authentication id instead, which lacks the
/// realm when it is this host's default realm: the realm is then added from libkrb5's default realm.
/// Returns 0, or a negative value when the name is not available.
int rampart_sasl_gss_peer_name(void *connection, char *out, unsigned out_size);

#endif
