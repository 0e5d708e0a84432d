import NIOCore

/// Events `TLSHandler` sends down the pipeline with `fireUserInboundEventTriggered`.
public enum TLSUserEvent: Sendable, Equatable {
    /// The handshake finished; application data may flow.
    case handshakeCompleted(TLSHandshakeResult)
    /// The peer sent close_notify; the handler answered with its own and is closing the channel.
    case closeNotifyReceived
}

/// What a completed handshake negotiated.
public struct TLSHandshakeResult: Sendable, Equatable {
    /// The protocol version, e.g. `TLSv1.3`.
    public var protocolVersion: String
    /// The cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    public var cipherSuite: String?
    /// The peer certificate's subject DN in RFC 2253 form, or nil when the peer sent none. For a server
    /// this is the mTLS identity, mapped to a principal by `ssl.principal.mapping.rules`.
    public var peerSubject: String?
}

/// Runs TLS over a channel: below it ciphertext, above it plaintext `ByteBuffer`s.
///
/// The handshake starts when the channel becomes active (clients send their ClientHello then).
/// Writes issued before the handshake completes are held, in order, and sent once it does; a flush
/// before then is remembered. Closing sends close_notify first; a peer's close_notify is answered and
/// closes the channel. A handshake that does not complete within the configuration's timeout, or
/// fails, fires a `TLSError` and closes the channel.
public final class TLSHandler: ChannelDuplexHandler {
    /// Ciphertext from the network.
    public typealias InboundIn = ByteBuffer
    /// Plaintext for the next handler.
    public typealias InboundOut = ByteBuffer
    /// Plaintext from the handlers above.
    public typealias OutboundIn = ByteBuffer
    /// Ciphertext for the network.
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case idle, handshaking, active, closed
    }

    private typealias PendingWrite = (data: ByteBuffer, promise: EventLoopPromise<Void>?)

    private let connection: TLSConnection
    private let handshakeTimeout: TimeAmount
    private var state: State = .idle
    private var unflushed: [PendingWrite] = []
    /// Flushed plaintext not yet encrypted, in order (the first may be partly taken).
    private var toEncrypt = CircularBuffer<PendingWrite>()
    /// Encrypted chunks handed to the channel, oldest first; each is reused once written.
    private var chunksInFlight = CircularBuffer<ByteBuffer>()
    private var spareChunks: [ByteBuffer] = []
    private var sending = false
    private var flushedBeforeHandshake: [PendingWrite] = []
    private var timeoutTask: Scheduled<Void>?

    /// A handler for one connection of `context`; `serverHostname` overrides the configuration's
    /// `hostnameToVerify` for this connection (clients only).
    public init(context: TLSContext, serverHostname: String? = nil) throws {
        self.connection = try TLSConnection(context: context, serverHostname: serverHostname)
        self.handshakeTimeout = context.configuration.handshakeTimeout
    }

    /// Starts the handshake if the channel is already active.
    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            startHandshake(context: context)
        }
    }

    /// Starts the handshake.
    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    /// Fails held writes; a handshake cut short is reported as an error.
    public func channelInactive(context: ChannelHandlerContext) {
        cancelTimeout()
        let wasHandshaking = state == .handshaking || state == .idle
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        if wasHandshaking {
            context.fireErrorCaught(TLSError(kind: .handshakeFailed, message: "connection closed during the TLS handshake"))
        }
        context.fireChannelInactive()
    }

    /// Feeds ciphertext to OpenSSL and passes on the plaintext it yields.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if state == .closed { return }
        if state == .idle { startHandshake(context: context) }
        connection.receive(bytes) {
            switch state {
            case .closed, .idle:
                return
            case .handshaking:
                runHandshake(context: context)
            case .active:
                readPlaintext(context: context)
            }
        }
    }

    /// Holds a plaintext write until the next flush.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        unflushed.append((unwrapOutboundIn(data), promise))
    }

    /// Encrypts and sends held writes, or marks them to be sent once the handshake completes.
    public func flush(context: ChannelHandlerContext) {
        let writes = unflushed
        unflushed.removeAll()
        switch state {
        case .active:
            encryptAndSend(writes, context: context)
        case .idle, .handshaking:
            flushedBeforeHandshake.append(contentsOf: writes)
        case .closed:
            writes.forEach { $0.promise?.fail(ChannelError.ioOnClosedChannel) }
        }
    }

    /// Sends close_notify (after an established session) and closes the channel.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        cancelTimeout()
        let wasActive = state == .active
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        if wasActive {
            connection.shutdown()
            sendOutput(context: context, promise: nil)
        }
        context.close(mode: mode, promise: promise)
    }

    /// A lower bound on the ciphertext still to arrive before the handlers above can receive
    /// `plaintext` more bytes: what a reader of the socket may wait for (e.g. as `SO_RCVLOWAT`) without
    /// waiting for bytes that will never come. 0 when `plaintext` is 0. Call it on the event loop,
    /// between reads (every complete record received has then been decrypted).
    public func ciphertextAwaited(forPlaintext plaintext: Int) -> Int {
        guard state == .active else { return 0 }
        return connection.receivedFraming.ciphertextAwaited(forPlaintext: plaintext)
    }

    // MARK: - Handshake

    private func startHandshake(context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .handshaking
        let loop = context.eventLoop.assumeIsolated()
        timeoutTask = loop.scheduleTask(in: handshakeTimeout) { [self] in
            guard state == .handshaking || state == .idle else { return }
            fail(context: context, TLSError(
                kind: .handshakeTimeout,
                message: "TLS handshake not completed within \(handshakeTimeout.nanoseconds / 1_000_000) ms"
            ))
        }
        runHandshake(context: context)
    }

    private func runHandshake(context: ChannelHandlerContext) {
        switch connection.handshake() {
        case .wantRead:
            sendOutput(context: context, promise: nil)
        case .complete:
            cancelTimeout()
            state = .active
            sendOutput(context: context, promise: nil)
            let result = TLSHandshakeResult(
                protocolVersion: connection.protocolVersion,
                cipherSuite: connection.cipherSuite,
                peerSubject: connection.peerSubjectRFC2253
            )
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(result))
            let held = flushedBeforeHandshake
            flushedBeforeHandshake.removeAll()
            if !held.isEmpty, state == .active {
                encryptAndSend(held, context: context)
            }
            // Application data may have arrived in the same read as the peer's Finished.
            if state == .active {
                readPlaintext(context: context)
            }
        case .closed:
            fail(context: context, TLSError(kind: .handshakeFailed, message: "peer closed the TLS session during the handshake"))
        case .failed(let error):
            sendOutput(context: context, promise: nil)  // the alert telling the peer why
            fail(context: context, error)
        }
    }

    // MARK: - Data

    /// Decrypts every complete record OpenSSL holds, passing the plaintext on in chunks of up to
    /// 256 KiB (one `channelRead` per chunk, not per record, so a large request crosses the pipeline a
    /// few times rather than once per record). Each chunk's buffer is sized once from the ciphertext
    /// waiting (plaintext is never longer, plus a record OpenSSL may hold), so it is not regrown and
    /// copied as records arrive.
    private func readPlaintext(context: ChannelHandlerContext) {
        func newBuffer() -> ByteBuffer {
            let expected = connection.pendingCiphertext + Self.maximumRecord
            return context.channel.allocator.buffer(capacity: min(max(expected, Self.maximumRecord), Self.maximumReadChunk))
        }
        var buffer = newBuffer()
        func deliver() {
            guard buffer.readableBytes > 0 else { return }
            context.fireChannelRead(wrapInboundOut(buffer))
            buffer = newBuffer()
        }
        connection.clearErrors()
        while state == .active {
            switch connection.read(into: &buffer) {
            case .complete:
                if buffer.writableBytes == 0 { deliver() }
            case .wantRead:
                deliver()
                // Reading can produce output (e.g. a TLS 1.3 KeyUpdate answer).
                sendOutput(context: context, promise: nil)
                return
            case .closed:
                deliver()
                cancelTimeout()
                state = .closed
                failPendingWrites(ChannelError.outputClosed)
                connection.shutdown()
                sendOutput(context: context, promise: nil)
                context.fireUserInboundEventTriggered(TLSUserEvent.closeNotifyReceived)
                context.close(promise: nil)
            case .failed(let error):
                deliver()
                sendOutput(context: context, promise: nil)
                fail(context: context, error)
            }
        }
    }

    private static let maximumReadChunk = 256 * 1024
    /// Plaintext encrypted into one buffer sent on its own.
    static let chunkPlaintext = 256 * 1024
    /// Encrypted chunks sent to the channel and not yet written to the socket, at most.
    static let maximumChunksInFlight = 4
    /// The most plaintext one TLS record holds, with room for OpenSSL's record header read ahead.
    private static let maximumRecord = 16 * 1024 + 512

    /// Queues flushed writes for encryption and starts sending them.
    private func encryptAndSend(_ writes: [PendingWrite], context: ChannelHandlerContext) {
        guard !writes.isEmpty else { return }
        toEncrypt.append(contentsOf: writes)
        sendEncrypted(context: context)
    }

    /// Encrypts queued writes in chunks of up to `chunkPlaintext` bytes, each into a buffer sent on its
    /// own, while fewer than `maximumChunksInFlight` are waiting in the channel; the rest stays plaintext
    /// until a chunk has gone to the socket. A 50 MB Fetch answer thus passes through a few buffers
    /// reused while they are still in the CPU's cache, instead of one fresh 50 MB buffer whose every page
    /// is faulted in and which the kernel copies from cold memory. A write's promise completes when the
    /// chunk holding its last byte has been written. Re-entered from a chunk's completion; runs one loop.
    private func sendEncrypted(context: ChannelHandlerContext) {
        guard !sending else { return }
        sending = true
        defer { sending = false }
        while state == .active, chunksInFlight.count < Self.maximumChunksInFlight, !toEncrypt.isEmpty {
            var pieces: [ByteBuffer] = []
            var promises: [EventLoopPromise<Void>] = []
            var size = 0
            while size < Self.chunkPlaintext, var first = toEncrypt.first {
                let room = Self.chunkPlaintext - size
                if first.data.readableBytes <= room {
                    toEncrypt.removeFirst()
                    size += first.data.readableBytes
                    pieces.append(first.data)
                    if let promise = first.promise { promises.append(promise) }
                } else {
                    pieces.append(first.data.readSlice(length: room)!)
                    size += room
                    toEncrypt[toEncrypt.startIndex] = first
                }
            }
            // A small answer gets a buffer its size; `encrypt` grows a spare that is too small.
            var buffer = spareChunks.popLast()
                ?? context.channel.allocator.buffer(capacity: TLSConnection.ciphertextRoom(plaintext: size, writes: pieces.count))
            buffer.clear()
            if let error = connection.encrypt(pieces, into: &buffer) {
                promises.forEach { $0.fail(error) }
                fail(context: context, error)
                return
            }
            guard buffer.readableBytes > 0 else {
                promises.forEach { $0.succeed() }
                continue
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            chunksInFlight.append(buffer)
            buffer = ByteBuffer()  // the queue and the channel hold the only references
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                var chunk = chunksInFlight.removeFirst()
                switch result {
                case .success:
                    promises.forEach { $0.succeed() }
                    chunk.clear()
                    if spareChunks.count < Self.maximumChunksInFlight { spareChunks.append(chunk) }
                    sendEncrypted(context: context)
                case .failure(let error):
                    promises.forEach { $0.fail(error) }
                }
            }
            context.writeAndFlush(wrapOutboundOut(chunksInFlight.last!), promise: written)
        }
        if toEncrypt.isEmpty, chunksInFlight.isEmpty {
            spareChunks.removeAll()
        }
    }

    /// Writes and flushes whatever ciphertext OpenSSL produced; completes `promise` when it is sent.
    private func sendOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let output = connection.takeOutput(allocator: context.channel.allocator) else {
            promise?.succeed()
            return
        }
        context.writeAndFlush(wrapOutboundOut(output), promise: promise)
    }

    // MARK: - Failure

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        cancelTimeout()
        state = .closed
        failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func failPendingWrites(_ error: Error) {
        let writes = Array(toEncrypt) + flushedBeforeHandshake + unflushed
        toEncrypt.removeAll()
        flushedBeforeHandshake.removeAll()
        unflushed.removeAll()
        writes.forEach { $0.promise?.fail(error) }
    }

    private func cancelTimeout() {
        timeoutTask?.cancel()
        timeoutTask = nil
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
