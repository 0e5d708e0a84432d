import KafkaProtocol
import Logging
import NIOCore
import RampartBroker
import RampartSASL
import Synchronization
import Testing

/// The per-address backoff after repeated failed authentications, and the outcome counters.
@Suite struct AuthenticationMonitorTests {
    /// A clock tests move by hand.
    final class Clock: Sendable {
        private let offset = Mutex<Int64>(0)
        let start = NIODeadline.now()
        func advance(ms: Int64) { offset.withLock { $0 += ms } }
        var now: NIODeadline { start + .milliseconds(offset.withLock { $0 }) }
    }

    @Test func thresholdWithinTheWindowStartsABackoffThatEnds() {
        let clock = Clock()
        let monitor = AuthenticationMonitor(settings: AuthenticationBackoffSettings(threshold: 3, windowMs: 1000, backoffMs: 5000),
                                            now: { clock.now })
        #expect(!monitor.recordFailure(host: "10.0.0.1", mechanism: "PLAIN", reason: "invalid_credentials"))
        #expect(!monitor.recordFailure(host: "10.0.0.1", mechanism: "PLAIN", reason: "invalid_credentials"))
        // The window slides: the first two age out.
        clock.advance(ms: 1500)
        #expect(!monitor.recordFailure(host: "10.0.0.1", mechanism: "PLAIN", reason: "invalid_credentials"))
        #expect(!monitor.recordFailure(host: "10.0.0.1", mechanism: "SCRAM-SHA-512", reason: "invalid_credentials"))
        #expect(!monitor.isBackingOff("10.0.0.1"))
        #expect(monitor.recordFailure(host: "10.0.0.1", mechanism: "SCRAM-SHA-512", reason: "malformed_message"))
        #expect(monitor.isBackingOff("10.0.0.1"))
        #expect(!monitor.isBackingOff("10.0.0.2"))
        // Failures that do not count (unsupported mechanism, backoff refusals) never start one.
        for _ in 0..<10 { monitor.recordFailure(host: "10.0.0.2", mechanism: "unknown", reason: "unsupported_mechanism", countsTowardBackoff: false) }
        #expect(!monitor.isBackingOff("10.0.0.2"))
        clock.advance(ms: 4999)
        #expect(monitor.isBackingOff("10.0.0.1"))
        clock.advance(ms: 1)
        #expect(!monitor.isBackingOff("10.0.0.1"))

        let counters = monitor.counters
        #expect(counters.backoffsStarted == 1)
        #expect(counters.failures[.init(mechanism: "PLAIN", reason: "invalid_credentials")] == 3)
        #expect(counters.failures[.init(mechanism: "SCRAM-SHA-512", reason: "invalid_credentials")] == 1)
        #expect(counters.failures[.init(mechanism: "SCRAM-SHA-512", reason: "malformed_message")] == 1)
        #expect(counters.failures[.init(mechanism: "unknown", reason: "unsupported_mechanism")] == 10)
        #expect(counters.totalFailures == 15)
    }

    @Test func offNeverBacksOffButStillCounts() {
        let monitor = AuthenticationMonitor(settings: .off)
        for _ in 0..<100 { monitor.recordFailure(host: "h", mechanism: "PLAIN", reason: "invalid_credentials") }
        #expect(!monitor.isBackingOff("h"))
        #expect(monitor.counters.totalFailures == 100)
        #expect(monitor.trackedAddresses == 0)
        monitor.recordSuccess(mechanism: "PLAIN", reauthentication: false)
        monitor.recordSuccess(mechanism: "PLAIN", reauthentication: true)
        monitor.recordExpiredSession()
        #expect(monitor.counters.successes == ["PLAIN": 1])
        #expect(monitor.counters.reauthentications == ["PLAIN": 1])
        #expect(monitor.counters.expiredSessionsClosed == 1)
    }

    @Test func theAddressTableIsBounded() {
        let clock = Clock()
        let monitor = AuthenticationMonitor(settings: AuthenticationBackoffSettings(threshold: 2, windowMs: 1000, backoffMs: 60_000),
                                            maxTrackedAddresses: 100, now: { clock.now })
        // One address in backoff survives a flood of others.
        monitor.recordFailure(host: "attacker", mechanism: "PLAIN", reason: "invalid_credentials")
        monitor.recordFailure(host: "attacker", mechanism: "PLAIN", reason: "invalid_credentials")
        for index in 0..<1000 {
            clock.advance(ms: 10)
            monitor.recordFailure(host: "10.1.\(index / 256).\(index % 256)", mechanism: "PLAIN", reason: "invalid_credentials")
            #expect(monitor.trackedAddresses <= 100)
        }
        #expect(monitor.isBackingOff("attacker"))
    }

    @Test func anAddressInBackoffIsRefusedWithoutRunningTheMechanism() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let lookups = Mutex(0)
        let monitor = AuthenticationMonitor(settings: AuthenticationBackoffSettings(threshold: 2, windowMs: 60_000, backoffMs: 60_000))
        func authenticator() -> SaslServerAuthenticator {
            SaslServerAuthenticator(
                settings: SaslListenerSettings(enabledMechanisms: [.scramSHA512, .plain], failedAuthenticationDelayMs: 0),
                dispatcher: RequestDispatcher(registry: fixture.registry, logger: Logger(label: "test")),
                credentials: { SCRAMCredentials { user, mechanism in lookups.withLock { $0 += 1 }; return SaslTestUsers.lookup(user, mechanism) } },
                logger: Logger(label: "test"), monitor: monitor)
        }
        func plainLogin(_ password: String, from host: String) async throws -> SaslAuthenticateResponse? {
            let connection = ConnectionInfo(listenerName: "SASL_SSL", clientHost: host, principal: .anonymous)
            let authenticator = authenticator()
            _ = await authenticator.receive(try requestFrame(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1), connection: connection)
            let token = try PLAINClient(username: "alice", password: SASLPassword(password)).initialResponse()
            let outcome = await authenticator.receive(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: token)), version: 1),
                                                      connection: connection)
            switch outcome {
            case .failed(let response?, _): return try SaslAuthenticateResponse.decodeResponse(from: response, version: 1).1
            case .authenticated: return nil
            default:
                Issue.record("unexpected \(outcome)")
                return nil
            }
        }
        #expect(try await plainLogin("wrong-1", from: "192.0.2.7")?.errorMessage == "Authentication failed: Invalid username or password")
        #expect(try await plainLogin("wrong-2", from: "192.0.2.7")?.errorMessage == "Authentication failed: Invalid username or password")
        let lookupsBefore = lookups.withLock { $0 }
        // Now even the right password is refused, and no credential is looked at.
        let refused = try #require(try await plainLogin("alice-secret", from: "192.0.2.7"))
        #expect(refused.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue)
        #expect(refused.errorMessage == AuthenticationMonitor.backoffMessage)
        #expect(lookups.withLock { $0 } == lookupsBefore)
        // Another address is not affected.
        #expect(try await plainLogin("alice-secret", from: "192.0.2.8") == nil)

        let counters = monitor.counters
        #expect(counters.failures[.init(mechanism: "PLAIN", reason: "invalid_credentials")] == 2)
        #expect(counters.failures[.init(mechanism: "PLAIN", reason: "backoff")] == 1)
        #expect(counters.successes == ["PLAIN": 1])
        #expect(counters.backoffsStarted == 1)
    }
}
