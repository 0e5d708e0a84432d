import Foundation
import Logging

/// Installs the process's log handler: Kafka-style text lines or one JSON object per line, on stderr.
enum LoggingSetup {
    static func bootstrap(format: String, level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, json: format == "json")
            handler.logLevel = logLevel
            return handler
        }
    }
}

/// A log handler writing one line per message to stderr.
struct LineLogHandler: LogHandler {
    let label: String
    let json: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let timestamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                    formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let line: String
        if json {
            var object: [String: String] = ["ts": timestamp, "level": "\(event.level)", "logger": label, "msg": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(timestamp) \(event.level.rawValue.uppercased()) [\(label)] \(event.message)\(meta)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
