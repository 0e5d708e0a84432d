import Foundation
import KafkaClient
import RampartSASL
import Testing

/// An RSA key made with the openssl command, its JWKS, and RS256 tokens signed by `openssl dgst`.
struct CLITokenSigner {
    let directory: URL
    let keyID: String

    init(keyID: String = "test-key") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-jwt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.keyID = keyID
        _ = try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath])
    }

    var keyPath: String { directory.appendingPathComponent("key.pem").path }

    static func openssl(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return data
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The JWKS file holding the public key; returns its path.
    func writeJWKS() throws -> String {
        let text = String(decoding: try Self.openssl(["rsa", "-in", keyPath, "-noout", "-modulus"]), as: UTF8.self)
        let hex = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("Modulus=".count))
        var modulus = Data()
        var index = 0
        while index + 1 < hex.count {
            modulus.append(UInt8(String(hex[index...index + 1]), radix: 16)!)
            index += 2
        }
        let jwks = #"{"keys":[{"kty":"RSA","kid":"\#(keyID)","use":"sig","alg":"RS256","n":"\#(Self.base64URL(modulus))","e":"AQAB"}]}"#
        let path = directory.appendingPathComponent("jwks.json").path
        try jwks.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A token for `subject` expiring `expiresIn` seconds from now.
    func token(subject: String, expiresIn: Int, audience: String = "rampart") throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header = Self.base64URL(Data(#"{"alg":"RS256","typ":"JWT","kid":"\#(keyID)"}"#.utf8))
        let claims = Self.base64URL(Data(#"{"sub":"\#(subject)","aud":"\#(audience)","iat":\#(now),"exp":\#(now + expiresIn)}"#.utf8))
        let input = directory.appendingPathComponent("input-\(UUID().uuidString)")
        try Data("\(header).\(claims)".utf8).write(to: input)
        let signature = try Self.openssl(["dgst", "-sha256", "-sign", keyPath, input.path])
        return "\(header).\(claims).\(Self.base64URL(signature))"
    }

    /// Writes `token` to the token file; returns its path.
    @discardableResult
    func writeToken(_ token: String) throws -> String {
        let path = directory.appendingPathComponent("token.jwt").path
        try token.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// OAUTHBEARER end to end: the client reads its token from a file (KIP-768's `file:` token endpoint), the
/// broker verifies it against a JWKS file; the token's `exp` bounds the session, and the client
/// re-authenticates with the refreshed file.
@Suite(.serialized) struct OAuthBearerEndToEndTests {
    let certs = ClientTestCertificates.shared

    func withBroker(_ signer: CLITokenSigner, extra: [String: String] = [:], _ body: (TestBroker) async throws -> Void) async throws {
        try await TestBroker.run(securityProtocol: "SASL_SSL", extra: [
            "ssl.keystore.location": certs.brokerKeystore,
            "sasl.enabled.mechanisms": "OAUTHBEARER,SCRAM-SHA-512",
            "sasl.oauthbearer.jwks.endpoint.url": "file://\(try signer.writeJWKS())",
            "sasl.oauthbearer.expected.audience": "rampart",
            "sasl.oauthbearer.clock.skew.seconds": "0",
            "connection.failed.authentication.delay.ms": "10",
        ].merging(extra) { $1 }, body)
    }

    func properties(_ broker: TestBroker, tokenFile: String) -> [String: String] {
        [
            "bootstrap.servers": "127.0.0.1:\(broker.port)", "security.protocol": "SASL_SSL", "ssl.ca.location": certs.ca,
            "request.timeout.ms": "15000", "retries": "1",
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;",
            "sasl.login.callback.handler.class": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
            "sasl.oauthbearer.token.endpoint.url": "file://\(tokenFile)",
        ]
    }

    @Test func aSignedTokenLogsInAndItsExpiryBoundsTheSession() async throws {
        let signer = try CLITokenSigner()
        defer { signer.remove() }
        try await withBroker(signer, extra: ["connections.max.reauth.ms": "600000"]) { broker in
            let tokenFile = try signer.writeToken(try signer.token(subject: "carol", expiresIn: 3))
            let cluster = KafkaCluster(config: try ClientConfig(properties: properties(broker, tokenFile: tokenFile)))
            do {
                try await KafkaAdmin(cluster: cluster).createTopic("oauth", partitions: 1, replicationFactor: 1)
                let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: -1))
                let connection = try await cluster.leaderConnection(for: KafkaTopicPartition(topic: "oauth", partition: 0))
                let first = try #require(connection.saslSession)
                #expect(first.mechanism == .oauthBearer)
                #expect(first.sessionLifetimeMs > 0 && first.sessionLifetimeMs <= 3000, "\(first.sessionLifetimeMs)")
                // The token is refreshed on disk; the connection re-authenticates with it before the old one expires.
                try signer.writeToken(try signer.token(subject: "carol", expiresIn: 600))
                for index in 0..<8 {
                    _ = try await producer.send([ProducerRecord(topic: "oauth", key: "k", value: "v\(index)")])
                    try await Task.sleep(for: .milliseconds(500))
                }
                let renewed = try #require(connection.saslSession)
                #expect(connection.isActive)
                #expect(renewed.authenticatedAt > first.authenticatedAt)
                #expect(renewed.sessionLifetimeMs > 500_000)
            } catch {
                await cluster.close()
                throw error
            }
            await cluster.close()
        }
    }

    @Test func refusedTokensGetKafkasInvalidTokenMessage() async throws {
        let signer = try CLITokenSigner()
        let stranger = try CLITokenSigner()
        defer { signer.remove(); stranger.remove() }
        try await withBroker(signer) { broker in
            for token in [try signer.token(subject: "carol", expiresIn: -60), try stranger.token(subject: "carol", expiresIn: 600),
                          try signer.token(subject: "carol", expiresIn: 600, audience: "someone-else")] {
                let cluster = KafkaCluster(config: try ClientConfig(properties: properties(broker, tokenFile: try signer.writeToken(token))))
                defer { Task { await cluster.close() } }
                do {
                    _ = try await cluster.refreshMetadata(topics: [])
                    Issue.record("a bad token was accepted")
                } catch let error as KafkaClientError {
                    #expect(error.isAuthenticationFailure)
                    #expect(error.code == .saslAuthenticationFailed)
                    #expect(error.message.hasSuffix(#"(OAUTHBEARER): SASL_AUTHENTICATION_FAILED: {"status":"invalid_token"}"#), "\(error)")
                    #expect(error.message.range(of: token) == nil)
                }
            }
        }
    }
}
