import KafkaProtocol
import Logging
import NIOCore
import NIOEmbedded
import RampartBroker
import RampartSASL
import Testing

/// `KafkaConnectionHandler` on a SASL listener: the gate before authentication, the principal and
/// frame limit after it, the delayed close after a failure.
@Suite(.timeLimit(.minutes(1))) struct SaslConnectionTests {
    /// The frame limits the decoder would share with the handler; the tests read them on the test's
    /// thread only after the event loop has run.
    final class LimitsBox: @unchecked Sendable {
        let limits = KafkaFrameLimits(maxFrameSize: 1_000_000, preAuthenticationMaxFrameSize: KafkaFrameLimits.defaultPreAuthenticationMaxFrameSize)
    }

    struct Connection {
        let channel: NIOAsyncTestingChannel
        let limits: KafkaFrameLimits
    }

    /// Counts the reads the connection handler lets through to the socket (used on the event loop only).
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = NIOAny
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    func connect(_ fixture: BrokerFixture, delayMs: Int64 = 0, reauthMs: Int64 = 0, readCounter: ReadCounter? = nil) async throws -> Connection {
        let limits = LimitsBox()
        let dispatcher = RequestDispatcher(registry: fixture.registry, logger: Logger(label: "test"))
        let authenticator = makeAuthenticator(fixture, delayMs: delayMs, reauthMs: reauthMs)
        let channel = try await NIOAsyncTestingChannel { channel in
            if let readCounter { try channel.pipeline.syncOperations.addHandler(readCounter) }
            try channel.pipeline.syncOperations.addHandler(
                KafkaConnectionHandler(dispatcher: dispatcher, connection: saslConnection, logger: Logger(label: "test"),
                                       authenticator: authenticator, frameLimits: limits.limits))
        }
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9092))
        return Connection(channel: channel, limits: limits.limits)
    }

    func roundTrip<R: KafkaRequestMessage>(_ connection: Connection, _ request: R, version: Int16) async throws -> R.Response {
        try await connection.channel.writeInbound(try requestFrame(request, version: version))
        let bytes = try await connection.channel.waitForOutboundWrite(as: ByteBuffer.self)
        return try R.Response.decodeResponse(from: bytes, version: version).1
    }

    @Test func aRequestBeforeAuthenticationClosesTheConnection() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture)
        try await connection.channel.writeInbound(try requestFrame(MetadataRequest(), version: 4))
        try await connection.channel.closeFuture.get()
        #expect(try await connection.channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    /// Kafka reads one request at a time before authentication: with a frame being served and one
    /// waiting, nothing more is read from the socket until the one being served is answered.
    @Test func beforeAuthenticationAtMostOneFrameWaits() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let counter = ReadCounter()
        let connection = try await connect(fixture, readCounter: counter)
        let channel = connection.channel
        let apiVersions = try requestFrame(ApiVersionsRequest(), version: 0)
        let handshake = try requestFrame(SaslHandshakeRequest(mechanism: "SCRAM-SHA-512"), version: 1)
        let readsWhileOneWaits = try await channel.testingEventLoop.executeInContext {
            let pipeline = channel.pipeline.syncOperations
            pipeline.fireChannelRead(NIOAny(apiVersions))
            pipeline.fireChannelRead(NIOAny(handshake))
            pipeline.read()
            return counter.reads
        }
        #expect(readsWhileOneWaits == 0)
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        // Serving the waiting frame resumed reading.
        #expect(try await channel.testingEventLoop.executeInContext { counter.reads } == 1)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test func afterScramTheConnectionServesRequests() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture)
        #expect(try await roundTrip(connection, ApiVersionsRequest(), version: 0).errorCode == 0)
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "SCRAM-SHA-512"), version: 1).errorCode == 0)
        let client = SCRAMClient(mechanism: .sha512, username: "bob", password: SASLPassword("bob-secret"))
        let serverFirst = try await roundTrip(connection, SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: try client.initialResponse())), version: 1)
        #expect(!connection.limits.isAuthenticated)
        let final = try #require(try client.evaluate(challenge: Array(buffer: serverFirst.authBytes)))
        let serverFinal = try await roundTrip(connection, SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: final)), version: 1)
        #expect(serverFinal.errorCode == 0)
        #expect(try client.evaluate(challenge: Array(buffer: serverFinal.authBytes)) == nil)
        #expect(connection.limits.isAuthenticated)
        // Ordinary requests now reach their handlers; SASL requests get ILLEGAL_SASL_STATE.
        let metadata = try await roundTrip(connection, MetadataRequest(topics: []), version: 4)
        #expect(metadata.brokers.count == 1)
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "PLAIN"), version: 1).errorCode == KafkaErrorCode.illegalSaslState.rawValue)
        #expect(connection.channel.isActive)
        _ = try await connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aFailureIsAnsweredAfterTheDelayThenClosed() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture, delayMs: 100)
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "PLAIN"), version: 1).errorCode == 0)
        let wrong = try PLAINClient(username: "alice", password: SASLPassword("wrong")).initialResponse()
        try await connection.channel.writeInbound(try requestFrame(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: wrong)), version: 1))
        // Requests sent meanwhile are dropped, and nothing is answered before the delay.
        try await connection.channel.writeInbound(try requestFrame(MetadataRequest(topics: []), version: 4))
        try await Task.sleep(for: .milliseconds(50))
        await connection.channel.testingEventLoop.run()
        #expect(try await connection.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(connection.channel.isActive)
        await connection.channel.testingEventLoop.advanceTime(by: .milliseconds(100))
        let bytes = try await connection.channel.waitForOutboundWrite(as: ByteBuffer.self)
        let (_, body) = try SaslAuthenticateResponse.decodeResponse(from: bytes, version: 1)
        #expect(body.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue)
        #expect(body.errorMessage == "Authentication failed: Invalid username or password")
        try await connection.channel.closeFuture.get()
        #expect(try await connection.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!connection.limits.isAuthenticated)
    }

    @Test func handshakeV0IsFollowedByRawFrames() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture)
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "PLAIN"), version: 0).errorCode == 0)
        try await connection.channel.writeInbound(ByteBuffer(bytes: try PLAINClient(username: "alice", password: SASLPassword("alice-secret")).initialResponse()))
        let empty = try await connection.channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(empty.readableBytes == 0)  // an empty raw frame, as Kafka sends
        #expect(connection.limits.isAuthenticated)
        #expect(try await roundTrip(connection, MetadataRequest(topics: []), version: 1).brokers.count == 1)
        _ = try await connection.channel.finish(acceptAlreadyClosed: true)
    }

    /// SaslHandshake v1 + a SCRAM-SHA-512 exchange; the last SaslAuthenticate response.
    func scramLogin(_ connection: Connection, user: String = "bob", password: String = "bob-secret") async throws -> SaslAuthenticateResponse {
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "SCRAM-SHA-512"), version: 1).errorCode == 0)
        let client = SCRAMClient(mechanism: .sha512, username: user, password: SASLPassword(password))
        let serverFirst = try await roundTrip(connection, SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: try client.initialResponse())), version: 1)
        let final = try #require(try client.evaluate(challenge: Array(buffer: serverFirst.authBytes)))
        return try await roundTrip(connection, SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: final)), version: 1)
    }

    @Test func reauthenticationRenewsTheSessionAndAnExpiredSessionIsClosed() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture, reauthMs: 700)
        let login = try await scramLogin(connection)
        #expect(login.errorCode == 0 && login.sessionLifetimeMs == 700)
        #expect(try await roundTrip(connection, MetadataRequest(topics: []), version: 4).brokers.count == 1)
        // Re-authentication on the live connection: same mechanism and user, a new lifetime.
        let again = try await scramLogin(connection)
        #expect(again.errorCode == 0 && again.sessionLifetimeMs == 700)
        #expect(try await roundTrip(connection, MetadataRequest(topics: []), version: 4).brokers.count == 1)
        // Within a second of the last one, a SaslHandshake is an ordinary (refused) request.
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "SCRAM-SHA-512"), version: 1).errorCode
                == KafkaErrorCode.illegalSaslState.rawValue)
        #expect(connection.channel.isActive)
        // Past the lifetime, anything but re-authentication closes the connection.
        try await Task.sleep(for: .milliseconds(800))
        try await connection.channel.writeInbound(try requestFrame(MetadataRequest(topics: []), version: 4))
        try await connection.channel.closeFuture.get()
        #expect(try await connection.channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func anExpiredSessionMayStillReauthenticate() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture, reauthMs: 200)
        #expect(try await scramLogin(connection).errorCode == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await scramLogin(connection).errorCode == 0)
        #expect(try await roundTrip(connection, MetadataRequest(topics: []), version: 4).brokers.count == 1)
        _ = try await connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func reauthenticationAsAnotherUserIsRefusedAndCloses() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture, reauthMs: 60_000)
        #expect(try await scramLogin(connection).errorCode == 0)
        let other = try await scramLogin(connection, user: "alice", password: "alice-secret")
        #expect(other.errorCode == KafkaErrorCode.saslAuthenticationFailed.rawValue)
        #expect(other.errorMessage == "Cannot change principals during re-authentication from User:bob: User:alice")
        try await connection.channel.closeFuture.get()
    }

    @Test func withoutReauthenticationSessionsDoNotExpire() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let connection = try await connect(fixture)
        #expect(try await scramLogin(connection).sessionLifetimeMs == 0)
        #expect(try await roundTrip(connection, SaslHandshakeRequest(mechanism: "SCRAM-SHA-512"), version: 1).errorCode
                == KafkaErrorCode.illegalSaslState.rawValue)
        #expect(try await roundTrip(connection, MetadataRequest(topics: []), version: 4).brokers.count == 1)
        _ = try await connection.channel.finish(acceptAlreadyClosed: true)
    }
}
