import Foundation
import RampartBroker
import RampartSASL

extension BrokerServer {
    /// The SASL settings of a SASL_PLAINTEXT or SASL_SSL listener from `sasl.enabled.mechanisms` and
    /// `connections.max.reauth.ms` (each may be set per listener with `listener.name.<l>.`) and
    /// `connection.failed.authentication.delay.ms`.
    /// Mechanisms this build does not serve, and PLAIN on a listener without TLS (unless
    /// `rampart.insecure.allow.plain.without.tls=true`), stop start-up naming the listener.
    static func saslSettings(_ config: BrokerConfig, listener: ListenerConfig,
                             oauthBearerKeys: inout [String: OAuthBearerKeys]) throws -> SaslListenerSettings {
        let names = (config.listenerValue("sasl.enabled.mechanisms", listener: listener.name) ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let served = SASLMechanism.allCases.map(\.name).joined(separator: ", ")
        // Kafka's default is GSSAPI; Rampart's is SCRAM (GSSAPI needs a keytab and service settings).
        guard !names.isEmpty else {
            throw StartupError(description: "listener \(listener.name): sasl.enabled.mechanisms is empty; name at least one of \(served)")
        }
        var mechanisms: [SASLMechanism] = []
        for name in names {
            guard let mechanism = SASLMechanism(name: name.uppercased()) else {
                let why = SASLMechanism.knownButNotServed.contains(name.uppercased()) ? "is not served by this build yet" : "is not a SASL mechanism Rampart knows"
                throw StartupError(description: "listener \(listener.name): sasl.enabled.mechanisms: \(name) \(why) (use \(served))")
            }
            if !mechanisms.contains(mechanism) { mechanisms.append(mechanism) }
        }
        if mechanisms.contains(.plain) && !listener.securityProtocol.isEncrypted && !config.bool("rampart.insecure.allow.plain.without.tls") {
            throw StartupError(description: "listener \(listener.name): PLAIN on \(listener.securityProtocol.rawValue) would send passwords unencrypted; use SASL_SSL, drop PLAIN from sasl.enabled.mechanisms, or set rampart.insecure.allow.plain.without.tls=true")
        }
        var oauthBearer: OAuthBearerValidator?
        if mechanisms.contains(.oauthBearer) {
            oauthBearer = try oauthBearerValidator(config, listener: listener, keys: &oauthBearerKeys)
        }
        let gssapi = mechanisms.contains(.gssapi) ? try gssapiSettings(config, listener: listener) : nil
        return SaslListenerSettings(enabledMechanisms: mechanisms,
                                    failedAuthenticationDelayMs: config.int64("connection.failed.authentication.delay.ms") ?? 100,
                                    scramProvider: SCRAMServerProvider(rawValue: config.string("rampart.sasl.scram.provider") ?? "builtin") ?? .builtin,
                                    maxReauthenticationMs: config.listenerValue("connections.max.reauth.ms", listener: listener.name).flatMap { Int64($0) } ?? 0,
                                    oauthBearer: oauthBearer, gssapi: gssapi)
    }

    /// The Kerberos settings of a listener offering GSSAPI: `sasl.kerberos.service.name` (required, as
    /// in Kafka), `rampart.sasl.kerberos.principal` (the broker's `service/host@REALM`; its host is the
    /// name clients ask tickets for and its realm is the default realm of the `DEFAULT` rule),
    /// `rampart.sasl.kerberos.keytab` (one per broker: MIT Kerberos reads it process-wide) and
    /// `sasl.kerberos.principal.to.local.rules` (default `DEFAULT`).
    static func gssapiSettings(_ config: BrokerConfig, listener: ListenerConfig) throws -> GSSAPIServerSettings {
        func value(_ key: String) -> String? {
            config.listenerValue(key, listener: listener.name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let prefix = "listener \(listener.name): GSSAPI"
        guard let service = value("sasl.kerberos.service.name") else {
            throw StartupError(description: "\(prefix) needs sasl.kerberos.service.name (e.g. kafka)")
        }
        guard let principal = value("rampart.sasl.kerberos.principal") else {
            throw StartupError(description: "\(prefix) needs rampart.sasl.kerberos.principal (the broker's \(service)/<host>@<REALM>)")
        }
        let parts = principal.split(separator: "@", omittingEmptySubsequences: false)
        let names = parts.first.map { $0.split(separator: "/", omittingEmptySubsequences: false) } ?? []
        guard parts.count == 2, !parts[1].isEmpty, names.count == 2, !names[1].isEmpty else {
            throw StartupError(description: "\(prefix): rampart.sasl.kerberos.principal '\(principal)' is not service/host@REALM")
        }
        guard names[0] == service else {
            throw StartupError(description: "\(prefix): rampart.sasl.kerberos.principal '\(principal)' is not for the service \(service) (sasl.kerberos.service.name)")
        }
        guard let keytab = config.string("rampart.sasl.kerberos.keytab") else {
            throw StartupError(description: "\(prefix) needs rampart.sasl.kerberos.keytab (the keytab holding \(principal))")
        }
        let rules: KerberosPrincipalRules
        do {
            rules = try KerberosPrincipalRules(value("sasl.kerberos.principal.to.local.rules") ?? "DEFAULT", defaultRealm: String(parts[1]))
        } catch {
            throw StartupError(description: "\(prefix): \(error)")
        }
        let settings = GSSAPIServerSettings(serviceName: service, hostName: String(names[1]), keytab: keytab, rules: rules)
        do {
            try settings.prepare()
        } catch {
            throw StartupError(description: "\(prefix): \(error)")
        }
        return settings
    }

    /// The token validator of a listener offering OAUTHBEARER (KIP-768 keys, each may be set per
    /// listener): keys from `sasl.oauthbearer.jwks.endpoint.url` (a `file:` URL; required — tokens are
    /// never accepted unsigned), `sasl.oauthbearer.expected.audience`, `.expected.issuer`,
    /// `.sub.claim.name`, `.clock.skew.seconds`. A bearer token is a credential anyone who sees it can
    /// replay until it expires, so OAUTHBEARER without TLS stops start-up unless
    /// `rampart.insecure.allow.oauthbearer.without.tls=true`. Listeners naming the same file share one
    /// `OAuthBearerKeys` (in `keys`, by path).
    static func oauthBearerValidator(_ config: BrokerConfig, listener: ListenerConfig,
                                     keys: inout [String: OAuthBearerKeys]) throws -> OAuthBearerValidator {
        func value(_ key: String) -> String? {
            config.listenerValue(key, listener: listener.name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if !listener.securityProtocol.isEncrypted && !config.bool("rampart.insecure.allow.oauthbearer.without.tls") {
            throw StartupError(description: "listener \(listener.name): OAUTHBEARER on \(listener.securityProtocol.rawValue) would send bearer tokens unencrypted; use SASL_SSL, or set rampart.insecure.allow.oauthbearer.without.tls=true")
        }
        let urlKey = "sasl.oauthbearer.jwks.endpoint.url"
        guard let url = value(urlKey) else {
            throw StartupError(description: "listener \(listener.name): OAUTHBEARER needs \(urlKey)=file:///path/to/jwks.json (the keys that sign accepted tokens)")
        }
        let path = try OAuthBearerKeys.path(fromURL: url, key: urlKey)
        let source: OAuthBearerKeys
        if let existing = keys[path] {
            source = existing
        } else {
            source = try OAuthBearerKeys(path: path, key: urlKey)
            keys[path] = source
        }
        let settings = OAuthBearerValidationSettings(
            expectedAudience: (value("sasl.oauthbearer.expected.audience") ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            expectedIssuer: value("sasl.oauthbearer.expected.issuer"),
            subClaimName: value("sasl.oauthbearer.sub.claim.name") ?? "sub",
            clockSkewSeconds: value("sasl.oauthbearer.clock.skew.seconds").flatMap { Int($0) } ?? 30)
        return OAuthBearerValidator(keys: { source.current }, settings: settings)
    }

    /// Every SASL listener's settings; prepares the SASL library (Cyrus) for them, so a missing
    /// library or plugin stops start-up rather than failing each client.
    static func saslSettings(_ config: BrokerConfig, listeners: [ListenerConfig]) throws -> [String: SaslListenerSettings] {
        var keys: [String: OAuthBearerKeys] = [:]
        return try saslSettings(config, listeners: listeners, oauthBearerKeys: &keys)
    }

    /// As `saslSettings(_:listeners:)`, also giving the JWKS files OAUTHBEARER listeners use (to reload).
    static func saslSettings(_ config: BrokerConfig, listeners: [ListenerConfig],
                             oauthBearerKeys: inout [String: OAuthBearerKeys]) throws -> [String: SaslListenerSettings] {
        var settings: [String: SaslListenerSettings] = [:]
        for listener in listeners where listener.securityProtocol.usesSASL {
            settings[listener.name] = try saslSettings(config, listener: listener, oauthBearerKeys: &oauthBearerKeys)
        }
        do {
            for listener in settings.values {
                try SASLServerMechanisms.prepare(listener.enabledMechanisms, scramProvider: listener.scramProvider)
            }
        } catch {
            throw StartupError(description: "SASL: \(error)")
        }
        return settings
    }

    /// The per-address backoff after repeated failed authentications (`rampart.auth.failure.threshold`,
    /// `.window.ms`, `.backoff.ms`).
    static func authenticationBackoffSettings(_ config: BrokerConfig) -> AuthenticationBackoffSettings {
        let defaults = AuthenticationBackoffSettings()
        return AuthenticationBackoffSettings(threshold: config.int("rampart.auth.failure.threshold") ?? defaults.threshold,
                                             windowMs: config.int64("rampart.auth.failure.window.ms") ?? defaults.windowMs,
                                             backoffMs: config.int64("rampart.auth.failure.backoff.ms") ?? defaults.backoffMs)
    }
}
