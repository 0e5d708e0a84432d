import KafkaProtocol
import NIOCore

/// Decode/encode of a Produce request carrying one 1 MiB record batch. Filled in once the generated
/// message codecs exist.
enum ProduceBench {
    static func run() {}
}
