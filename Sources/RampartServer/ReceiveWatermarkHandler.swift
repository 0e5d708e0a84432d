import KafkaProtocol
import NIOCore
import RampartTLS

#if canImport(Glibc)
import Glibc
#endif

/// Sets the socket's receive low-water mark (`SO_RCVLOWAT`) to the bytes a large request still needs,
/// so the event loop wakes once when they are there instead of once per TCP segment. Clients such as
/// librdkafka send each TLS record of a Produce request with its own `send`, about 1.8 KB on the wire:
/// without the mark, a 1 MB request costs hundreds of wake-ups, reads and passes through the pipeline.
///
/// Placed first in the pipeline. After each burst of reads it takes the bytes the frame decoder still
/// awaits (`KafkaFrameProgress`), turns them into a lower bound on the ciphertext still to arrive when
/// the connection is TLS (`TLSHandler.ciphertextAwaited`), and sets the mark to that bound, capped, or
/// back to 1 byte once no large frame is in progress. The bound never exceeds what the peer must still
/// send for the request, so a reader never waits for bytes that will not come. Linux wakes a reader
/// below the mark anyway at end of stream and under memory pressure.
final class ReceiveWatermarkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Frames whose remainder is below this are read as they come.
    static let smallest = 32 * 1024
    /// The highest mark set: a burst of reads takes at most this much before the request is handed on.
    static let largest = 512 * 1024

    private let progress: KafkaFrameProgress
    /// The connection's TLS handler (also in the pipeline; it holds nothing back), nil on plaintext.
    private let tls: TLSHandler?
    private var current = 1
    private var disabled = false

    init(progress: KafkaFrameProgress, tls: TLSHandler?) {
        self.progress = progress
        self.tls = tls
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        update(context: context)
    }

    /// The mark when at least `ciphertextAwaited` more bytes must arrive on the socket before the frame
    /// in progress can complete: that many, capped, or 1 byte for a small remainder.
    static func watermark(ciphertextAwaited: Int) -> Int {
        ciphertextAwaited >= smallest ? min(ciphertextAwaited, largest) : 1
    }

    private func update(context: ChannelHandlerContext) {
        guard !disabled else { return }
        let plaintext = progress.bytesAwaited
        let awaited = tls?.ciphertextAwaited(forPlaintext: plaintext) ?? plaintext
        let mark = Self.watermark(ciphertextAwaited: awaited)
        guard mark != current, let options = context.channel.syncOptions else { return }
        do {
            try options.setOption(ChannelOptions.socketOption(.init(rawValue: SO_RCVLOWAT)), value: SocketOptionValue(mark))
            current = mark
        } catch {
            // A channel without the option (e.g. in tests) reads as before. A mark that can no longer be
            // lowered could leave a small request unread: such a socket is closing anyway; close it.
            disabled = true
            if current != 1 { context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension ReceiveWatermarkHandler: Sendable {}
