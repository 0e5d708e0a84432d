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
        #expect(gssapi.contains("GSSAPI is not served by this build yet"))
        let bogus = try #require(startupError(["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": "SCRAM-SHA-1"]))
        #expect(bogus.contains("SCRAM-SHA-1 is not a SASL mechanism Rampart knows"))
        let empty = try #require(startupError(["listeners": "SASL_SSL://127.0.0.1:9093", "sasl.enabled.mechanisms": " , "]))
        #expect(empty.contains("sasl.enabled.mechanisms is empty"))
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
