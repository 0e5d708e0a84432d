import NIOCore
import NIOEmbedded
import Testing

@testable import RampartTLS

/// Collects what reaches the handler above `TLSHandler`.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var received = ByteBuffer()
    var events: [TLSUserEvent] = []
    var errors: [any Error] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent { events.append(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }

    var handshake: TLSHandshakeResult? {
        for case .handshakeCompleted(let result) in events { return result }
        return nil
    }

    var tlsErrors: [TLSError] { errors.compactMap { $0 as? TLSError } }
}

/// A client and a server `EmbeddedChannel`, each with a `TLSHandler`, wired back to back by `interact`.
struct ChannelPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientRecorder = Recorder()
    let serverRecorder = Recorder()

    init(client clientContext: TLSContext, server serverContext: TLSContext) throws {
        try client.pipeline.syncOperations.addHandlers([try TLSHandler(context: clientContext), clientRecorder])
        try server.pipeline.syncOperations.addHandlers([try TLSHandler(context: serverContext), serverRecorder])
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9093)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
    }

    /// Moves outbound bytes of each channel to the other's inbound until neither has any.
    func interact() throws {
        var moved = true
        while moved {
            moved = false
            for (from, to) in [(client, server), (server, client)] {
                while let bytes = try from.readOutbound(as: ByteBuffer.self) {
                    moved = true
                    if to.isActive { try to.writeInbound(bytes) }
                }
            }
        }
    }

    func handshake() throws -> (client: TLSHandshakeResult?, server: TLSHandshakeResult?) {
        try interact()
        return (clientRecorder.handshake, serverRecorder.handshake)
    }
}

let certs = TestCertificates.shared

func serverContext(
    clientAuth: TLSConfiguration.ClientAuthentication = .none,
    protocols: Set<TLSConfiguration.ProtocolVersion> = [.tlsv1_2, .tlsv1_3]
) throws -> TLSContext {
    try TLSContext(configuration: TLSConfiguration(
        role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKey,
        trustRootsPath: certs.caCertificate, clientAuthentication: clientAuth, enabledProtocols: protocols
    ))
}

func clientContext(
    withCertificate: Bool = false,
    trustRoots: String = certs.caCertificate,
    hostname: String? = "localhost",
    protocols: Set<TLSConfiguration.ProtocolVersion> = [.tlsv1_2, .tlsv1_3]
) throws -> TLSContext {
    try TLSContext(configuration: TLSConfiguration(
        role: .client,
        certificateChainPath: withCertificate ? certs.clientCertificate : nil,
        privateKeyPath: withCertificate ? certs.clientKey : nil,
        trustRootsPath: trustRoots, enabledProtocols: protocols, hostnameToVerify: hostname
    ))
}

func bytes(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

/// A client session of `client` and a server session of `serverContext()` whose handshake has been
/// run by handing each one's output to the other.
func handshakenSessions(client: TLSContext) throws -> (client: TLSConnection, server: TLSConnection) {
    let clientSession = try TLSConnection(context: client, serverHostname: nil)
    let serverSession = try TLSConnection(context: try serverContext(), serverHostname: nil)
    let allocator = ByteBufferAllocator()
    for _ in 0..<10 {
        _ = clientSession.handshake()
        if let output = clientSession.takeOutput(allocator: allocator) { serverSession.receive(output) { _ = serverSession.handshake() } }
        if let output = serverSession.takeOutput(allocator: allocator) { clientSession.receive(output) { _ = clientSession.handshake() } }
    }
    return (clientSession, serverSession)
}

@Suite struct TLSHandshakeTests {
    @Test(arguments: [TLSConfiguration.ProtocolVersion.tlsv1_2, .tlsv1_3])
    func handshakeAndDataBothWays(version: TLSConfiguration.ProtocolVersion) throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext(protocols: [version]))
        let (client, server) = try pair.handshake()
        #expect(client?.protocolVersion == version.rawValue)
        #expect(server?.protocolVersion == version.rawValue)
        #expect(client?.peerSubject == "CN=localhost")
        #expect(server?.peerSubject == nil)

        try pair.client.writeAndFlush(bytes("ping")).wait()
        try pair.interact()
        #expect(pair.serverRecorder.received == bytes("ping"))
        try pair.server.writeAndFlush(bytes("pong")).wait()
        try pair.interact()
        #expect(pair.clientRecorder.received == bytes("pong"))

        // Larger than one TLS record (16 KiB): split across records and reassembled in order.
        var large = ByteBuffer()
        for index in 0..<100_000 { large.writeInteger(UInt8(truncatingIfNeeded: index &* 7)) }
        let done = pair.server.writeAndFlush(large)
        try pair.interact()
        try done.wait()
        #expect(pair.clientRecorder.received.readableBytes == 4 + large.readableBytes)
        #expect(pair.clientRecorder.received.getSlice(at: 4, length: large.readableBytes) == large)
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    /// Writes larger than the chunks the handler encrypts at a time (and more of them than it keeps
    /// in flight) arrive whole and in order, and each write's promise completes.
    @Test func writesBeyondManyChunksArriveInOrder() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        _ = try pair.handshake()
        var expected = ByteBuffer()
        var done: [EventLoopFuture<Void>] = []
        for (index, size) in [10, 700_000, 1, 262_144, 1_500_000, 0, 33_000].enumerated() {
            let write = ByteBuffer(repeating: UInt8(index + 1), count: size)
            expected.writeImmutableBuffer(write)
            done.append(pair.server.write(write))
        }
        pair.server.flush()
        try pair.interact()
        for future in done { try future.wait() }
        #expect(pair.clientRecorder.received == expected)
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    @Test func hostnameVerificationByIPAddressSAN() throws {
        let pair = try ChannelPair(client: try clientContext(hostname: "127.0.0.1"), server: try serverContext())
        #expect(try pair.handshake().client != nil)
    }

    @Test func wrongHostnameFails() throws {
        let pair = try ChannelPair(client: try clientContext(hostname: "broker.example.com"), server: try serverContext())
        try pair.interact()
        #expect(pair.clientRecorder.handshake == nil)
        #expect(pair.clientRecorder.tlsErrors.first?.kind == .handshakeFailed)
        #expect(pair.clientRecorder.tlsErrors.first?.description.contains("mismatch") == true)
        #expect(!pair.client.isActive)
    }

    @Test func writesBeforeHandshakeAreHeldInOrder() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        let first = pair.client.write(bytes("one,"))
        pair.client.flush()
        let second = pair.client.writeAndFlush(bytes("two"))
        try pair.interact()
        try first.wait()
        try second.wait()
        #expect(pair.serverRecorder.received == bytes("one,two"))
    }

    @Test func mutualTLSReportsClientSubject() throws {
        let pair = try ChannelPair(client: try clientContext(withCertificate: true), server: try serverContext(clientAuth: .required))
        let (client, server) = try pair.handshake()
        #expect(client != nil)
        #expect(server?.peerSubject == "CN=alice,OU=eng,O=Example")
    }

    @Test func requestedClientAuthAllowsNoCertificate() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext(clientAuth: .requested))
        let (_, server) = try pair.handshake()
        #expect(server != nil)
        #expect(server?.peerSubject == nil)
    }

    @Test(arguments: [TLSConfiguration.ProtocolVersion.tlsv1_2, .tlsv1_3])
    func requiredClientAuthRefusesClientWithoutCertificate(version: TLSConfiguration.ProtocolVersion) throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext(clientAuth: .required, protocols: [version]))
        try pair.interact()
        #expect(pair.serverRecorder.handshake == nil)
        #expect(pair.serverRecorder.tlsErrors.first?.kind == .handshakeFailed)
        #expect(!pair.server.isActive)
        #expect(!pair.client.isActive)
    }

    @Test func clientCertificateFromAnotherCAIsRefused() throws {
        let other = try TLSContext(configuration: TLSConfiguration(
            role: .client, certificateChainPath: certs.otherClientCertificate, privateKeyPath: certs.otherClientKey,
            trustRootsPath: certs.caCertificate, hostnameToVerify: "localhost"
        ))
        let pair = try ChannelPair(client: other, server: try serverContext(clientAuth: .required))
        try pair.interact()
        #expect(pair.serverRecorder.handshake == nil)
        #expect(pair.serverRecorder.tlsErrors.first?.kind == .handshakeFailed)
        #expect(!pair.server.isActive)
    }

    @Test func serverFromAnotherCAIsRefusedByClient() throws {
        let pair = try ChannelPair(client: try clientContext(trustRoots: certs.otherCACertificate), server: try serverContext())
        try pair.interact()
        #expect(pair.clientRecorder.handshake == nil)
        let error = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(error.kind == .handshakeFailed)
        #expect(error.description.contains("certificate verify failed"))
        #expect(!pair.client.isActive)
    }

    @Test func protocolMismatchFails() throws {
        let pair = try ChannelPair(client: try clientContext(protocols: [.tlsv1_2]), server: try serverContext(protocols: [.tlsv1_3]))
        try pair.interact()
        #expect(pair.serverRecorder.tlsErrors.first?.kind == .handshakeFailed)
        #expect(!pair.server.isActive && !pair.client.isActive)
    }
}
