import Foundation
import RampartBroker
import RampartSASL

extension BrokerServer {
    /// The SASL settings of a SASL_PLAINTEXT or SASL_SSL listener from `sasl.enabled.mechanisms` and
    /// `connections.max.reauth.ms` (each may be set per listener with `listener.name.<l>.`) and
    /// `connection.failed.authentication.delay.ms`.
    /// Mechanisms this build does not serve, and PLAIN on a listener without TLS (unless
    /// `rampart.insecure.allow.plain.without.tls=true`), stop start-up naming the listener.
    static func saslSettings(_ config: BrokerConfig, listener: ListenerConfig) throws -> SaslListenerSettings {
        let names = (config.listenerValue("sasl.enabled.mechanisms", listener: listener.name) ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let served = SASLMechanism.allCases.map(\.name).joined(separator: ", ")
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
        return SaslListenerSettings(enabledMechanisms: mechanisms,
                                    failedAuthenticationDelayMs: config.int64("connection.failed.authentication.delay.ms") ?? 100,
                                    scramProvider: SCRAMServerProvider(rawValue: config.string("rampart.sasl.scram.provider") ?? "builtin") ?? .builtin,
                                    maxReauthenticationMs: config.listenerValue("connections.max.reauth.ms", listener: listener.name).flatMap { Int64($0) } ?? 0)
    }

    /// Every SASL listener's settings; prepares the SASL library (Cyrus) for them, so a missing
    /// library or plugin stops start-up rather than failing each client.
    static func saslSettings(_ config: BrokerConfig, listeners: [ListenerConfig]) throws -> [String: SaslListenerSettings] {
        var settings: [String: SaslListenerSettings] = [:]
        for listener in listeners where listener.securityProtocol.usesSASL {
            settings[listener.name] = try saslSettings(config, listener: listener)
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
