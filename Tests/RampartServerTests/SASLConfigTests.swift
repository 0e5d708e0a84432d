import Foundation
import RampartBroker
import RampartMetadata
import RampartSASL
import Testing
@testable import RampartServer

@Suite struct SASLConfigTests {
    func settings(_ properties: [String: String]) throws -> [String: SaslListenerSettings] {
        let config = try BrokerConfig(properties: properties)
        return try BrokerServer.saslSettings(config, listeners: config.listeners)
    }

    func startupError(_ properties: [String: String]) -> String? {
        do {
            _ = try settings(properties)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func mechanismsPerListenerWithKafkasKeys() throws {
        let result = try settings([
            "listeners": "SASL_SSL://127.0.0.1:9093,INTERNAL://127.0.0.1:9094,SSL://127.0.0.1:9095",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,INTERNAL:SASL_SSL,SSL:SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512, PLAIN",
            "listener.name.internal.sasl.enabled.mechanisms": "SCRAM-SHA-256",
            "connection.failed.authentication.delay.ms": "250",
        ])
        #expect(result["SASL_SSL"]?.enabledMechanisms == [.scramSHA512, .plain])
        #expect(result["INTERNAL"]?.enabledMechanisms == [.scramSHA256])
        #expect(result["SASL_SSL"]?.failedAuthenticationDelayMs == 250)
        #expect(result["SSL"] == nil)
    }

    @Test func defaultsAreScramAndKafkasDelay() throws {
        let result = try settings(["listeners": "SASL_SSL://127.0.0.1:9093"])
        #expect(result["SASL_SSL"]?.enabledMechanisms == [.scramSHA256, .scramSHA512])
        #expect(result["SASL_SSL"]?.failedAuthenticationDelayMs == 100)
    }

    @Test func plainWithoutTLSIsRefusedUnlessAllowed() throws {
        let base = ["listeners": "SASL_PLAINTEXT://127.0.0.1:9093", "rampart.insecure.allow.plaintext": "true",
                    "sasl.enabled.mechanisms": "PLAIN"]
        let error = try #require(startupError(base))
        #expect(error.contains("listener SASL_PLAINTEXT") && error.contains("rampart.insecure.allow.plain.without.tls"))
        var allowed = base
        allowed["rampart.insecure.allow.plain.without.tls"] = "true"
        #expect(try settings(allowed)["SASL_PLAINTEXT"]?.enabledMechanisms == [.plain])
        // SASL_PLAINTEXT itself still needs the plaintext switch.
        #expect(throws: ConfigError.self) { _ = try BrokerConfig(properties: ["listeners": "SASL_PLAINTEXT://127.0.0.1:9093"]) }
    }

    @Test func mechanismsNotServedAreNamed() throws {
        let gssapi = try #require(startupError(["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": "GSSAPI"]))
        #expect(gssapi.contains("listener SASL_SSL: GSSAPI needs sasl.kerberos.service.name"))
        let bogus = try #require(startupError(["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": "SCRAM-SHA-1"]))
        #expect(bogus.contains("SCRAM-SHA-1 is not a SASL mechanism Rampart knows"))
        let empty = try #require(startupError(["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": " , "]))
        #expect(empty.contains("sasl.enabled.mechanisms is empty"))
    }
}

@Suite struct OAuthBearerConfigTests {
    /// A JWKS holding one EC P-256 key (the point is a valid one: the P-256 generator).
    static let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY","y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}]}"#

    func jwksFile(_ text: String = jwks) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-jwks-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func error(_ properties: [String: String]) -> String? {
        do {
            let config = try BrokerConfig(properties: properties)
            _ = try BrokerServer.saslSettings(config, listeners: config.listeners)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func kafkasKeysPerListener() throws {
        let path = try jwksFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try BrokerConfig(properties: [
            "listeners": "SASL_SSL://127.0.0.1:9093,INTERNAL://127.0.0.1:9094",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,INTERNAL:SASL_SSL",
            "sasl.enabled.mechanisms": "OAUTHBEARER",
            "sasl.oauthbearer.jwks.endpoint.url": "file://\(path)",
            "sasl.oauthbearer.expected.audience": "kafka, rampart",
            "sasl.oauthbearer.expected.issuer": "https://idp.example",
            "listener.name.internal.sasl.oauthbearer.sub.claim.name": "client_id",
            "sasl.oauthbearer.clock.skew.seconds": "5",
        ])
        var keys: [String: OAuthBearerKeys] = [:]
        let settings = try BrokerServer.saslSettings(config, listeners: config.listeners, oauthBearerKeys: &keys)
        let external = try #require(settings["SASL_SSL"]?.oauthBearer?.settings)
        #expect(external == OAuthBearerValidationSettings(expectedAudience: ["kafka", "rampart"], expectedIssuer: "https://idp.example",
                                                          subClaimName: "sub", clockSkewSeconds: 5))
        #expect(settings["INTERNAL"]?.oauthBearer?.settings.subClaimName == "client_id")
        // Both listeners share one reloadable key file.
        #expect(keys.count == 1 && keys[path]?.current.keys.count == 1)
    }

    @Test func badSettingsStopStartUp() throws {
        let path = try jwksFile()
        let broken = try jwksFile("{\"keys\": 1}")
        let empty = try jwksFile(#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#)
        defer { for file in [path, broken, empty] { try? FileManager.default.removeItem(atPath: file) } }
        let base = ["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": "OAUTHBEARER"]
        for (extra, expected) in [
            ([String: String](), "OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url=file:///"),
            (["sasl.oauthbearer.jwks.endpoint.url": "https://idp.example/jwks"], "is not a file: URL"),
            (["sasl.oauthbearer.jwks.endpoint.url": "file://idp/jwks.json"], "names a host"),
            (["sasl.oauthbearer.jwks.endpoint.url": "file:///nonexistent/jwks.json"], "cannot read JWKS file /nonexistent/jwks.json"),
            (["sasl.oauthbearer.jwks.endpoint.url": "file://\(broken)"], "no \"keys\" array"),
            (["sasl.oauthbearer.jwks.endpoint.url": "file://\(empty)"], "holds no RS256 or ES256 signature key"),
        ] {
            let message = error(base.merging(extra) { $1 })
            #expect(message?.contains(expected) == true, "\(extra): \(message ?? "no error")")
        }
        // Bearer tokens in clear need the explicit switch.
        let plaintext = ["listeners": "SASL_PLAINTEXT://127.0.0.1:9093", "rampart.insecure.allow.plaintext": "true",
                         "sasl.enabled.mechanisms": "OAUTHBEARER", "sasl.oauthbearer.jwks.endpoint.url": "file://\(path)"]
        #expect(error(plaintext)?.contains("rampart.insecure.allow.oauthbearer.without.tls") == true)
        #expect(error(plaintext.merging(["rampart.insecure.allow.oauthbearer.without.tls": "true"]) { $1 }) == nil)
    }

    @Test func theKeyFileReloadsWhenItChanges() throws {
        let path = try jwksFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keys = try OAuthBearerKeys(path: path, key: "test")
        #expect(keys.reload(force: false) == .unchanged)
        try "{not json".write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failed = keys.reload(force: false) else { Issue.record("a broken file was accepted"); return }
        #expect(keys.current.keys.count == 1)  // the previous keys stay
        #expect(keys.reload(force: false) == .unchanged)  // reported once
        try Self.jwks.replacingOccurrences(of: "\"k1\"", with: "\"k2\"").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(keys.reload(force: false) == .reloaded(keys: 1))
        #expect(keys.current.keys.first?.keyID == "k2")
    }
}

@Suite struct GSSAPIConfigTests {
    @Test func kafkasKeysAndTheBrokersPrincipal() throws {
        let keytab = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-\(UUID().uuidString).keytab").path
        #expect(FileManager.default.createFile(atPath: keytab, contents: Data([5, 2])))
        defer { try? FileManager.default.removeItem(atPath: keytab) }
        let base = ["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": "GSSAPI"]
        func error(_ extra: [String: String]) -> String? {
            do {
                let config = try BrokerConfig(properties: base.merging(extra) { $1 })
                _ = try BrokerServer.saslSettings(config, listeners: config.listeners)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let complete = ["sasl.kerberos.service.name": "kafka", "rampart.sasl.kerberos.principal": "kafka/broker1.example.com@EXAMPLE.COM",
                        "rampart.sasl.kerberos.keytab": keytab]
        for (extra, expected) in [
            (["sasl.kerberos.service.name": "kafka"], "needs rampart.sasl.kerberos.principal"),
            (complete.merging(["rampart.sasl.kerberos.principal": "kafka@EXAMPLE.COM"]) { $1 }, "is not service/host@REALM"),
            (complete.merging(["rampart.sasl.kerberos.principal": "zookeeper/h@EXAMPLE.COM"]) { $1 }, "is not for the service kafka"),
            (complete.merging(["rampart.sasl.kerberos.keytab": "/nonexistent.keytab"]) { $1 }, "cannot read the keytab /nonexistent.keytab"),
            (complete.merging(["sasl.kerberos.principal.to.local.rules": "RULE:[1:$1"]) { $1 }, "unterminated [n:format]"),
        ] {
            #expect(error(extra)?.contains(expected) == true, "\(extra): \(error(extra) ?? "no error")")
        }
        let config = try BrokerConfig(properties: base.merging(complete) { $1 })
        let gssapi = try #require(try BrokerServer.saslSettings(config, listeners: config.listeners)["SASL_SSL"]?.gssapi)
        #expect(gssapi.serviceName == "kafka" && gssapi.hostName == "broker1.example.com")
        #expect(gssapi.rules.defaultRealm == "EXAMPLE.COM")
        #expect(try gssapi.rules.shortName("alice@EXAMPLE.COM") == "alice")
    }
}

@Suite struct OfflineUsersTests {
    func config(_ directory: URL) throws -> BrokerConfig {
        try BrokerConfig(properties: ["listeners": "SASL_SSL://127.0.0.1:9093", "log.dirs": directory.path])
    }

    @Test func addUpdateDeleteAndTheLock() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-users-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let users = try OfflineUsers(config: try config(directory))
        let first = try SCRAMCredential.generate(password: SASLPassword("pw-one"), mechanism: .sha256)
        try await users.setCredential(user: "alice", credential: first, replace: false)
        await #expect(throws: OfflineUsersError.self) { try await users.setCredential(user: "alice", credential: first, replace: false) }
        await #expect(throws: OfflineUsersError.self) {
            try await users.setCredential(user: "bob", credential: first, replace: true)
        }
        let second = try SCRAMCredential.generate(password: SASLPassword("pw-two"), mechanism: .sha256)
        try await users.setCredential(user: "alice", credential: second, replace: true)
        try await users.setCredential(user: "alice", credential: try SCRAMCredential.generate(password: SASLPassword("x"), mechanism: .sha512), replace: false)
        let listed = await users.list()
        #expect(listed.map(\.user) == ["alice"])
        #expect(listed[0].credentials.map(\.mechanism) == ["SCRAM-SHA-256", "SCRAM-SHA-512"])

        // While this tool holds the directory, a broker (or a second tool) cannot take it.
        #expect(throws: DataDirectoryLockError.self) { _ = try DataDirectoryLock(directory: directory.path) }

        // What the broker reads: the second password, and no password anywhere in the file.
        let image = await (try EmbeddedMetadataStore(directory: directory)).current()
        #expect(image.scramCredential(user: "alice", mechanism: .sha256)?.matches(password: SASLPassword("pw-two")) == true)
        let text = try String(contentsOf: users.fileURL, encoding: .utf8)
        #expect(!text.contains("pw-one") && !text.contains("pw-two"))

        try await users.deleteCredentials(user: "alice", mechanism: .sha256)
        #expect(await users.list()[0].credentials.map(\.mechanism) == ["SCRAM-SHA-512"])
        try await users.deleteCredentials(user: "alice", mechanism: nil)
        #expect(await users.list().isEmpty)
        await #expect(throws: OfflineUsersError.self) { try await users.deleteCredentials(user: "alice", mechanism: nil) }
    }

    @Test(arguments: ["", " alice", "alice ", "al\u{0}ice", "a\nb"])
    func badUserNamesAreRefused(name: String) {
        #expect(OfflineUsers.validateUserName(name) != nil)
    }
}
