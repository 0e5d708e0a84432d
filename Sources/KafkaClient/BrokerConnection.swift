import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RampartSASL
import RampartTLS

/// The versions of each API this client implements. A request uses min(client max, broker max) and
/// fails with `unsupportedVersion` when the ranges do not overlap.
///
/// The upper bounds stop where a newer version would need something this client does not do yet: Fetch
/// v13+ and DeleteTopics v6+ address topics by id, OffsetFetch v8+ batches groups, FindCoordinator v4+
/// batches keys, LeaveGroup v3+ is used for batch departures (v3–4 are fine and used).
public enum ClientAPIVersions {
    public static let ranges: [KafkaApiKey: ClosedRange<Int16>] = [
        .produce: 3...9,
        .fetch: 4...12,
        .listOffsets: 1...7,
        .metadata: 1...12,
        .offsetCommit: 2...8,
        .offsetFetch: 1...7,
        .findCoordinator: 0...3,
        .joinGroup: 0...7,
        .heartbeat: 0...4,
        .leaveGroup: 0...4,
        .syncGroup: 0...5,
        .describeGroups: 0...5,
        .listGroups: 0...4,
        .apiVersions: 0...3,
        .createTopics: 0...7,
        .deleteTopics: 0...5,
        .createPartitions: 0...3,
        .describeConfigs: 0...4,
        .alterConfigs: 0...2,
        .incrementalAlterConfigs: 0...1,
        .deleteGroups: 0...2,
        .offsetDelete: 0...0,
        .describeUserScramCredentials: 0...0,
        .alterUserScramCredentials: 0...0,
        .describeAcls: 0...3,
        .createAcls: 0...3,
        .deleteAcls: 0...3,
        .saslHandshake: 1...1,
        .saslAuthenticate: 0...2,
    ]

    /// The version to use: the highest both sides support, or nil.
    public static func negotiate(client: ClosedRange<Int16>, broker: ClosedRange<Int16>) -> Int16? {
        let high = min(client.upperBound, broker.upperBound)
        let low = max(client.lowerBound, broker.lowerBound)
        return low <= high ? high : nil
    }
}

/// A connection to one broker: requests are pipelined over one TCP connection and answered in order.
///
/// `connect` opens the socket and negotiates versions with ApiVersions; `send` encodes a request at the
/// negotiated version, waits for the answer (bounded by the request timeout) and decodes it. A broker
/// answer that does not decode is a `malformedResponse` error, never a crash.
public final class BrokerConnection: Sendable {
    /// The broker's address, as connected to.
    public let address: BrokerAddress
    /// The broker's node id, or -1 for a bootstrap connection whose id is not known.
    public let nodeId: Int32
    /// The broker's version range per API (from ApiVersions).
    public let brokerVersions: [KafkaApiKey: ClosedRange<Int16>]
    /// What the TLS handshake negotiated, or nil without TLS.
    public let tlsSession: TLSHandshakeResult?
    /// What the SASL login (or the last re-authentication) established, or nil without SASL.
    public var saslSession: SASLSession? { saslSessionBox.withLockedValue { $0 } }
    private let saslSessionBox: NIOLockedValueBox<SASLSession?>
    /// Re-authenticates before requests when the broker's session lifetime requires it.
    private let reauthenticator: SASLReauthenticator?
    private let channel: Channel
    private let clientId: String
    private let requestTimeout: TimeAmount

    init(address: BrokerAddress, nodeId: Int32, channel: Channel, clientId: String, requestTimeout: TimeAmount,
         brokerVersions: [KafkaApiKey: ClosedRange<Int16>], tlsSession: TLSHandshakeResult?, saslSession: SASLSession?,
         sasl: ClientSASLConfig) {
        self.tlsSession = tlsSession
        let box = NIOLockedValueBox(saslSession)
        self.saslSessionBox = box
        let peer = nodeId >= 0 ? "broker \(nodeId) at \(address)" : "\(address)"
        self.reauthenticator = saslSession.map { session in
            SASLReauthenticator(session: session, box: box) {
                try await Self.authenticate(channel: channel, sasl: sasl, brokerVersions: brokerVersions, clientId: clientId,
                                            timeout: requestTimeout, peer: peer)
            }
        }
        self.address = address
        self.nodeId = nodeId
        self.channel = channel
        self.clientId = clientId
        self.requestTimeout = requestTimeout
        self.brokerVersions = brokerVersions
    }

    /// Whether the socket is still open.
    public var isActive: Bool { channel.isActive }

    /// Opens a connection, negotiates API versions and, with a SASL protocol, authenticates.
    ///
    /// With `security.protocol=SSL` (or SASL_SSL) the connection runs through a `TLSHandler` below the Kafka framing,
    /// using `tlsContext` (the client's shared context; built from `config` when nil) and verifying the
    /// broker's certificate against `address.host` unless `config.tls.verifyHostname` is off. The
    /// handshake completes before any request is sent; its failure (certificate not trusted, host name
    /// mismatch, no answer within `connectTimeoutMs`) is a `connection` error naming the broker and the
    /// TLS reason, as is a broker's refusal of the client certificate (which TLS 1.3 sends after the
    /// client's side of the handshake is done, so it surfaces while versions are negotiated).
    ///
    /// With SASL_PLAINTEXT or SASL_SSL the SASL login (`config.sasl`) follows ApiVersions; a refusal is
    /// an `authentication` error with the broker's error code and message.
    public static func connect(
        to address: BrokerAddress, nodeId: Int32 = -1, config: ClientConfig, tlsContext: TLSContext? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> BrokerConnection {
        let peer = nodeId >= 0 ? "broker \(nodeId) at \(address)" : "\(address)"
        let maxFrame = config.maxResponseSize
        let tls = config.securityProtocol.usesTLS ? try tlsContext ?? config.makeTLSContext() : nil
        // Missing SASL settings fail before any connection is made.
        if config.securityProtocol.usesSASL { _ = try config.sasl.makeMechanism() }
        let serverHostname = config.tls.verifyHostname ? address.host : nil
        // One loop for the channel and the handshake promise, so the observer completes it on its own loop.
        let loop = group.next()
        let handshake = tls.map { _ in loop.makePromise(of: TLSHandshakeResult.self) }
        let tlsFailure = NIOLockedValueBox<TLSError?>(nil)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(config.connectTimeoutMs)))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls, let handshake {
                        try pipeline.addHandler(TLSHandler(context: tls, serverHostname: serverHostname))
                        try pipeline.addHandler(TLSSessionObserver(handshake: handshake, failure: tlsFailure))
                    }
                    try Self.configurePipeline(pipeline, peer: peer, maxFrameSize: maxFrame)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        } catch {
            handshake?.fail(error)
            throw KafkaClientError.connection("cannot connect to \(peer): \(error)")
        }
        var session: TLSHandshakeResult?
        if let handshake {
            do {
                session = try await handshake.futureResult.get()
            } catch {
                try? await channel.close()
                throw KafkaClientError.connection("cannot connect to \(peer) over TLS: \(error)")
            }
        }
        let timeout = TimeAmount.milliseconds(Int64(config.requestTimeoutMs))
        do {
            let versions = try await negotiateVersions(channel: channel, clientId: config.clientId, timeout: timeout, peer: peer)
            var sasl: SASLSession?
            if config.securityProtocol.usesSASL {
                sasl = try await authenticate(channel: channel, sasl: config.sasl, brokerVersions: versions, clientId: config.clientId,
                                              timeout: timeout, peer: peer)
            }
            return BrokerConnection(address: address, nodeId: nodeId, channel: channel, clientId: config.clientId,
                                    requestTimeout: timeout, brokerVersions: versions, tlsSession: session, saslSession: sasl,
                                    sasl: config.sasl)
        } catch {
            try? await channel.close()
            if let failure = tlsFailure.withLockedValue({ $0 }) {
                throw KafkaClientError.connection("cannot connect to \(peer) over TLS: the session failed after the handshake: \(failure)")
            }
            throw error
        }
    }

    /// Adds the frame codec and the request handler to a client pipeline.
    public static func configurePipeline(
        _ pipeline: ChannelPipeline.SynchronousOperations, peer: String, maxFrameSize: Int = 104_857_600
    ) throws {
        try pipeline.addHandler(ByteToMessageHandler(KafkaFrameDecoder(limits: KafkaFrameLimits(maxFrameSize: maxFrameSize))))
        try pipeline.addHandler(MessageToByteHandler(KafkaFrameEncoder()))
        try pipeline.addHandler(KafkaClientChannelHandler(peer: peer))
    }

    /// Sends ApiVersions at our highest version; a broker that does not know it answers with a v0 body
    /// carrying UNSUPPORTED_VERSION and its own range, and we retry at the version it supports.
    static func negotiateVersions(
        channel: Channel, clientId: String, timeout: TimeAmount, peer: String
    ) async throws -> [KafkaApiKey: ClosedRange<Int16>] {
        var version = ClientAPIVersions.ranges[.apiVersions]!.upperBound
        for _ in 0..<2 {
            let request = ApiVersionsRequest(clientSoftwareName: "rampart-client", clientSoftwareVersion: "0.1.0")
            let frame = try await roundTrip(request, version: version, channel: channel, clientId: clientId,
                                            timeout: timeout, expectsResponse: true, peer: peer)
            // The error code is the body's first field at every version; header v0 is 4 bytes.
            guard let rawError = frame.getInteger(at: frame.readerIndex + 4, endianness: .big, as: Int16.self) else {
                throw KafkaClientError.malformedResponse("\(peer): ApiVersions response is truncated")
            }
            let decodeVersion: Int16 = rawError == KafkaErrorCode.unsupportedVersion.rawValue ? 0 : version
            let response: ApiVersionsResponse
            do {
                response = try ApiVersionsResponse.decodeResponse(from: frame, version: decodeVersion).body
            } catch {
                throw KafkaClientError.malformedResponse("\(peer): ApiVersions v\(decodeVersion) response: \(error)")
            }
            if rawError == KafkaErrorCode.unsupportedVersion.rawValue {
                guard let theirs = response.apiKeys.first(where: { $0.apiKey == KafkaApiKey.apiVersions.rawValue }),
                      let next = ClientAPIVersions.negotiate(client: ClientAPIVersions.ranges[.apiVersions]!,
                                                             broker: theirs.minVersion...max(theirs.minVersion, theirs.maxVersion)),
                      next < version
                else {
                    throw KafkaClientError.unsupportedVersion("\(peer): no ApiVersions version in common with the broker")
                }
                version = next
                continue
            }
            try KafkaClientError.check(rawError, "\(peer): ApiVersions")
            var result: [KafkaApiKey: ClosedRange<Int16>] = [:]
            for entry in response.apiKeys where entry.minVersion <= entry.maxVersion {
                if let key = KafkaApiKey(rawValue: entry.apiKey) { result[key] = entry.minVersion...entry.maxVersion }
            }
            return result
        }
        throw KafkaClientError.unsupportedVersion("\(peer): ApiVersions negotiation did not converge")
    }

    /// The version this connection uses for `apiKey`.
    public func version(for apiKey: KafkaApiKey) throws -> Int16 {
        guard let client = ClientAPIVersions.ranges[apiKey] else {
            throw KafkaClientError.unsupportedVersion("the rampart client does not implement \(apiKey.name)")
        }
        guard let broker = brokerVersions[apiKey] else {
            throw KafkaClientError.unsupportedVersion("\(peerName) does not support \(apiKey.name)")
        }
        guard let version = ClientAPIVersions.negotiate(client: client, broker: broker) else {
            throw KafkaClientError.unsupportedVersion(
                "\(apiKey.name): \(peerName) supports v\(broker.lowerBound)-\(broker.upperBound), this client v\(client.lowerBound)-\(client.upperBound)")
        }
        return version
    }

    /// Whether the broker supports `apiKey` at a version this client implements.
    public func supports(_ apiKey: KafkaApiKey) -> Bool { (try? version(for: apiKey)) != nil }

    private var peerName: String { nodeId >= 0 ? "broker \(nodeId) at \(address)" : "broker at \(address)" }

    /// Sends a request at the negotiated version (or `version`) and returns the decoded response. On a
    /// SASL connection whose session lifetime is nearly over, re-authenticates first (KIP-368).
    ///
    /// - Parameter timeout: overrides the request timeout (JoinGroup waits for the rebalance).
    public func send<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16? = nil, timeout: TimeAmount? = nil
    ) async throws -> Request.Response {
        let apiKey = Request.apiKey
        let useVersion = try version ?? self.version(for: apiKey)
        try await reauthenticator?.enter()
        let frame: ByteBuffer
        do {
            frame = try await Self.roundTrip(request, version: useVersion, channel: channel, clientId: clientId,
                                             timeout: timeout ?? requestTimeout, expectsResponse: true, peer: peerName)
            await reauthenticator?.leave()
        } catch {
            await reauthenticator?.leave()
            throw error
        }
        do {
            return try Request.Response.decodeResponse(from: frame, version: useVersion).body
        } catch {
            throw KafkaClientError.malformedResponse("\(peerName): \(apiKey.name) v\(useVersion) response: \(error)")
        }
    }

    /// Sends a request that gets no answer (Produce with acks=0); returns once it is written.
    public func sendWithoutResponse<Request: KafkaRequestMessage>(_ request: Request, version: Int16? = nil) async throws {
        let useVersion = try version ?? self.version(for: Request.apiKey)
        try await reauthenticator?.enter()
        do {
            _ = try await Self.roundTrip(request, version: useVersion, channel: channel, clientId: clientId,
                                         timeout: requestTimeout, expectsResponse: false, peer: peerName)
            await reauthenticator?.leave()
        } catch {
            await reauthenticator?.leave()
            throw error
        }
    }

    static func roundTrip<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, channel: Channel, clientId: String, timeout: TimeAmount,
        expectsResponse: Bool, peer: String
    ) async throws -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: 256)
        do {
            try request.encodeRequest(version: version, correlationId: 0, clientId: clientId, to: &buffer)
        } catch {
            throw KafkaClientError.invalidArgument("cannot encode \(Request.apiKey.name) v\(version): \(error)")
        }
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let outbound = OutboundKafkaRequest(frame: buffer, apiKey: Request.apiKey, expectsResponse: expectsResponse,
                                            timeout: timeout, promise: promise)
        // Normally the handler completes `promise`; once the channel is closed and its pipeline torn down,
        // the write fails before reaching it and this is what ends the wait.
        channel.writeAndFlush(outbound).whenFailure { error in
            promise.fail(error as? KafkaClientError
                ?? KafkaClientError.closed("\(peer): cannot send \(Request.apiKey.name): \(error)"))
        }
        return try await promise.futureResult.get()
    }

    /// Closes the socket; outstanding requests fail with `closed`.
    public func close() async {
        try? await channel.close()
    }
}
