import ArgumentParser
import Foundation
import KafkaClient
import KafkaProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `rampart produce`: kafka-console-producer. Each stdin line is a record; lines that arrive together
/// are sent together (one batch per partition), so piped input is batched and typed input is sent at once.
struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Send lines from standard input as records (like kafka-console-producer).",
        discussion: """
            Reader properties (--property): parse.key=true with key.separator (default TAB) splits each line \
            into key and value; parse.headers=true reads headers before the key/value, as \
            'k1:v1,k2:v2<TAB>' (headers.delimiter, headers.separator, headers.key.separator); \
            null.marker makes a matching key or value null.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to produce to.") var topic: String
    @Option(help: "Acknowledgements: all, -1, 0 or 1.") var acks: String = "all"
    @Option(name: .customLong("compression-codec"), help: "none, gzip, snappy, lz4 or zstd.") var compressionCodec: String = "none"
    @Option(name: .customLong("property"), help: "A line reader property key=value (repeatable).") var properties: [String] = []
    @Option(name: .customLong("producer-property"), help: "A producer property key=value (repeatable).") var producerProperties: [String] = []
    @Option(help: "Send to this partition instead of using the partitioner.") var partition: Int32?

    func run() async throws {
        let extra: [String: String]
        do {
            extra = try parseKeyValues(producerProperties, option: "--producer-property")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try await runClientCommand(connection, extra: extra) { cluster in
            let reader = try LineReaderOptions(try parseKeyValues(properties, option: "--property"))
            var producerConfig = try ProducerConfig(properties: cluster.config.properties)
            if !extra.keys.contains("acks") {
                guard let parsed = try? ProducerConfig.parseAcks(acks) else {
                    throw ValidationError("--acks '\(acks)' is not one of all, -1, 0, 1")
                }
                producerConfig.acks = parsed
            }
            if !extra.keys.contains("compression.type") {
                do {
                    producerConfig.compression = try ProducerConfig.parseCompression(compressionCodec)
                } catch {
                    throw ValidationError("--compression-codec '\(compressionCodec)' is not one of none, gzip, snappy, lz4, zstd")
                }
            }
            let producer = KafkaProducer(cluster: cluster, config: producerConfig)
            var pending = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 65_536)
            var lineNumber = 0
            while true {
                let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ValidationError("reading standard input failed (errno \(errno))")
                }
                if count == 0 { break }
                pending += chunk[0..<count]
                var records: [ProducerRecord] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    lineNumber += 1
                    records.append(try reader.record(from: line, topic: topic, partition: partition, lineNumber: lineNumber))
                }
                if !records.isEmpty { try await producer.send(records) }
            }
            if !pending.isEmpty {
                lineNumber += 1
                try await producer.send([try reader.record(from: pending, topic: topic, partition: partition, lineNumber: lineNumber)])
            }
        }
    }
}

/// How the console producer turns a line into a record (`--property` of kafka-console-producer).
struct LineReaderOptions {
    var parseKey = false
    var keySeparator: [UInt8] = Array("\t".utf8)
    var parseHeaders = false
    var headersDelimiter: [UInt8] = Array("\t".utf8)
    var headersSeparator: [UInt8] = Array(",".utf8)
    var headersKeySeparator: [UInt8] = Array(":".utf8)
    var nullMarker: [UInt8]?
    var ignoreError = false

    init(_ properties: [String: String]) throws {
        for (key, value) in properties {
            switch key {
            case "parse.key": parseKey = try Self.bool(key, value)
            case "key.separator": keySeparator = Array(value.utf8)
            case "parse.headers": parseHeaders = try Self.bool(key, value)
            case "headers.delimiter": headersDelimiter = Array(value.utf8)
            case "headers.separator": headersSeparator = Array(value.utf8)
            case "headers.key.separator": headersKeySeparator = Array(value.utf8)
            case "null.marker": nullMarker = Array(value.utf8)
            case "ignore.error": ignoreError = try Self.bool(key, value)
            default: throw ValidationError("--property: unknown reader property '\(key)'")
            }
        }
        for (name, separator) in [("key.separator", keySeparator), ("headers.delimiter", headersDelimiter),
                                  ("headers.separator", headersSeparator), ("headers.key.separator", headersKeySeparator)]
        where separator.isEmpty {
            throw ValidationError("--property \(name) must not be empty")
        }
    }

    private static func bool(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw ValidationError("--property \(key): '\(value)' is not true or false")
        }
    }

    func record(from line: [UInt8], topic: String, partition: Int32?, lineNumber: Int) throws -> ProducerRecord {
        var rest = line[...]
        var headers: [(key: String, value: [UInt8]?)] = []
        if parseHeaders {
            guard let range = rest.firstRange(of: headersDelimiter) else {
                if ignoreError { return ProducerRecord(topic: topic, partition: partition, value: Array(rest)) }
                throw ValidationError("line \(lineNumber): no headers delimiter found")
            }
            let headerText = rest[..<range.lowerBound]
            rest = rest[range.upperBound...]
            if !headerText.isEmpty {
                for pair in headerText.split(separator: headersSeparator) {
                    if let colon = pair.firstRange(of: headersKeySeparator) {
                        let value = Array(pair[colon.upperBound...])
                        headers.append((String(decoding: pair[..<colon.lowerBound], as: UTF8.self), value == nullMarker ? nil : value))
                    } else {
                        headers.append((String(decoding: pair, as: UTF8.self), nil))
                    }
                }
            }
        }
        var key: [UInt8]?
        if parseKey {
            guard let range = rest.firstRange(of: keySeparator) else {
                if ignoreError { return ProducerRecord(topic: topic, partition: partition, value: Array(rest), headers: headers) }
                throw ValidationError("line \(lineNumber): no key separator found (parse.key=true)")
            }
            key = Array(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
            if key == nullMarker { key = nil }
        }
        let value: [UInt8]? = Array(rest) == nullMarker ? nil : Array(rest)
        return ProducerRecord(topic: topic, partition: partition, key: key, value: value, headers: headers)
    }
}
