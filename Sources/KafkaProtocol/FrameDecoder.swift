import NIOCore

/// Size limits shared between a connection's frame decoder and its state machine, which raises the
/// limit once the client has authenticated. Used only on the channel's event loop.
public final class KafkaFrameLimits {
    /// The largest frame accepted once authenticated (`socket.request.max.bytes`, Kafka default 104857600).
    public let maxFrameSize: Int
    /// The largest frame accepted before authentication completes (Kafka's 524288 on SASL listeners);
    /// nil when the listener has no authentication phase.
    public let preAuthenticationMaxFrameSize: Int?
    /// Set by the connection when authentication has completed.
    public var isAuthenticated: Bool

    public static let defaultMaxFrameSize = 104_857_600
    public static let defaultPreAuthenticationMaxFrameSize = 524_288

    public init(maxFrameSize: Int = defaultMaxFrameSize, preAuthenticationMaxFrameSize: Int? = nil) {
        precondition(maxFrameSize > 0, "maxFrameSize must be positive")
        self.maxFrameSize = maxFrameSize
        self.preAuthenticationMaxFrameSize = preAuthenticationMaxFrameSize
        self.isAuthenticated = preAuthenticationMaxFrameSize == nil
    }

    /// The limit in force now.
    public var currentLimit: Int {
        if !isAuthenticated, let pre = preAuthenticationMaxFrameSize { return min(pre, maxFrameSize) }
        return maxFrameSize
    }
}

/// How much of the frame being received is still to come, written by `KafkaFrameDecoder` after each
/// decode and read by whatever sizes the socket's reads (the server sets `SO_RCVLOWAT` from it, so a
/// large request wakes the event loop once rather than once per TCP segment). Used only on the
/// channel's event loop.
public final class KafkaFrameProgress {
    /// Bytes of the current frame not yet received; 0 when no frame has started or its size prefix is
    /// still incomplete.
    public internal(set) var bytesAwaited = 0

    public init() {}
}

/// A frame whose length prefix was refused. The decoder never allocates the claimed size.
public struct KafkaFrameError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The length the peer claimed.
    public let claimedSize: Int64
    /// The limit in force when the frame arrived.
    public let limit: Int

    public init(claimedSize: Int64, limit: Int) {
        self.claimedSize = claimedSize
        self.limit = limit
    }

    public var description: String {
        if claimedSize < 0 { return "invalid frame: negative size \(claimedSize)" }
        return "invalid frame: size \(claimedSize) exceeds the limit of \(limit) bytes"
    }
}

/// Splits a byte stream into Kafka frames: a big-endian int32 size followed by that many bytes.
/// Emits each frame's payload (without the size) as a `ByteBuffer` slice. A negative size or one over
/// the limit in force throws `KafkaFrameError`; the pipeline's handler closes the connection.
public struct KafkaFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private let limits: KafkaFrameLimits
    private let progress: KafkaFrameProgress?

    /// A decoder enforcing `limits`; with `progress`, it records after each decode how many bytes of an
    /// incomplete frame are still awaited.
    public init(limits: KafkaFrameLimits, progress: KafkaFrameProgress? = nil) {
        self.limits = limits
        self.progress = progress
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(from: &buffer, limit: limits.currentLimit) else {
            progress?.bytesAwaited = Self.bytesAwaited(in: buffer)
            return .needMoreData
        }
        // The decoder is not called again when the buffer is left empty: reset before handing on.
        progress?.bytesAwaited = 0
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// The bytes still to come for the incomplete frame at the front of `buffer`: 0 while its size
    /// prefix is incomplete (or the buffer is empty).
    static func bytesAwaited(in buffer: ByteBuffer) -> Int {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self), size >= 0 else { return 0 }
        return max(0, 4 + Int(size) - buffer.readableBytes)
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        // A partial frame at EOF is dropped: the peer went away mid-request.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Reads one complete frame from `buffer`, or returns nil (consuming nothing) if it is incomplete.
    /// The size is validated as soon as its 4 bytes are present, before the body arrives.
    public static func nextFrame(from buffer: inout ByteBuffer, limit: Int) throws -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        guard size >= 0, Int(size) <= limit else { throw KafkaFrameError(claimedSize: Int64(size), limit: limit) }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))!
    }
}

/// Prefixes each outbound buffer with its int32 size.
public struct KafkaFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.reserveCapacity(4 + data.readableBytes)
        out.writeInteger(Int32(data.readableBytes), endianness: .big)
        out.writeImmutableBuffer(data)
    }
}
