import KafkaProtocol
import Logging
import NIOCore
import RampartBroker
import RampartSASL

/// Users for SASL tests: alice (both SCRAM variants), bob (SCRAM-SHA-512 only).
enum SaslTestUsers {
    static let table: [String: [SCRAMMechanism: SCRAMCredential]] = {
        var table: [String: [SCRAMMechanism: SCRAMCredential]] = [:]
        for mechanism in SCRAMMechanism.allCases {
            table["alice", default: [:]][mechanism] = try! SCRAMCredential.generate(password: SASLPassword("alice-secret"), mechanism: mechanism)
        }
        table["bob"] = [.sha512: try! SCRAMCredential.generate(password: SASLPassword("bob-secret"), mechanism: .sha512)]
        return table
    }()

    static let lookup = SCRAMCredentials { user, mechanism in table[user]?[mechanism] }
}

/// Encodes `request` as a whole frame body (header + body).
func requestFrame<R: KafkaRequestMessage>(_ request: R, version: Int16, correlationId: Int32 = 1) throws -> ByteBuffer {
    var frame = ByteBuffer()
    try request.encodeRequest(version: version, correlationId: correlationId, clientId: "sasl-test", to: &frame)
    return frame
}

func makeAuthenticator(_ fixture: BrokerFixture, mechanisms: [SASLMechanism] = [.scramSHA256, .scramSHA512, .plain],
                       delayMs: Int64 = 0, reauthMs: Int64 = 0) -> SaslServerAuthenticator {
    SaslServerAuthenticator(
        settings: SaslListenerSettings(enabledMechanisms: mechanisms, failedAuthenticationDelayMs: delayMs, maxReauthenticationMs: reauthMs),
        dispatcher: RequestDispatcher(registry: fixture.registry, logger: Logger(label: "test")),
        credentials: { SaslTestUsers.lookup }, logger: Logger(label: "test"))
}

let saslConnection = ConnectionInfo(listenerName: "SASL_SSL", clientHost: "127.0.0.1", principal: .anonymous)
