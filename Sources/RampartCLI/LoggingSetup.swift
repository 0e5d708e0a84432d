import Foundation
import Logging
import RampartServer

/// Installs the process's log handler: Kafka-style text lines or one JSON object per line, on stderr.
enum LoggingSetup {
    /// `overrides`: `rampart.log.level.overrides`, e.g. `RampartStorage=debug,RampartSASL=warning`.
    static func bootstrap(format: String, level: String, overrides: String? = nil) throws {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        let subsystems = try parseOverrides(overrides ?? "")
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, json: format == "json")
            handler.subsystemLevels = subsystems
            handler.defaultLevel = logLevel
            // The handler must see the most verbose level any subsystem asked for; `log` filters.
            handler.logLevel = subsystems.values.reduce(logLevel) { min($0, $1) }
            return handler
        }
    }

    /// Parses `subsystem=level` pairs separated by commas; a subsystem is a module (`RampartStorage`,
    /// `RampartBroker`, `RampartSASL`, …) or a logger label prefix (`rampart.storage`).
    static func parseOverrides(_ text: String) throws -> [String: Logger.Level] {
        var result: [String: Logger.Level] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let level = Logger.Level(rawValue: parts[1].lowercased()) else {
                throw LoggingSetupError(description: "rampart.log.level.overrides: '\(pair)' is not subsystem=level (levels: trace, debug, info, notice, warning, error, critical)")
            }
            result[parts[0]] = level
        }
        return result
    }
}

/// A logging setting that stops start-up.
struct LoggingSetupError: Error, CustomStringConvertible {
    let description: String
}

/// A log handler writing one line per message to stderr.
struct LineLogHandler: LogHandler {
    let label: String
    let json: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    /// The level of messages no subsystem override covers.
    var defaultLevel: Logger.Level = .info
    /// Levels by module (the event's source) or logger label prefix.
    var subsystemLevels: [String: Logger.Level] = [:]

    /// The level that applies to a message from `source` logged through this handler's label.
    func threshold(source: String) -> Logger.Level {
        if subsystemLevels.isEmpty { return logLevel }
        if let level = subsystemLevels[source] { return level }
        let prefix = subsystemLevels.keys.filter { label == $0 || label.hasPrefix($0 + ".") }.max { $0.count < $1.count }
        return prefix.flatMap { subsystemLevels[$0] } ?? defaultLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level >= threshold(source: event.source) else { return }
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let timestamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                    formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let line = Self.render(timestamp: timestamp, level: event.level, label: label, message: "\(event.message)",
                               metadata: merged.mapValues { "\($0)" }, json: json)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// One log line, without its newline. Values may come from clients (client ids, topic names,
    /// SASL user names): JSON lines are escaped JSON objects, and text lines escape control characters
    /// and quote metadata values holding spaces, quotes or `=`, so no value can start a forged line or
    /// pass for another field. The fixed fields (`ts`, `level`, `logger`, `msg`) win over metadata keys
    /// of the same name.
    static func render(timestamp: String, level: Logger.Level, label: String, message: String,
                       metadata: [String: String], json: Bool) -> String {
        let fixed = ["ts", "level", "logger", "msg"]
        if json {
            var fields = [("ts", timestamp), ("level", level.rawValue), ("logger", label), ("msg", message)]
            for key in metadata.keys.sorted() where !fixed.contains(key) { fields.append((key, metadata[key]!)) }
            return "{" + fields.map { "\"\(JSONText.escape($0.0))\":\"\(JSONText.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        let meta = metadata.sorted { $0.key < $1.key }.map { " \(textEscape($0.key, quoteIfNeeded: true))=\(textEscape($0.value, quoteIfNeeded: true))" }
        return "\(timestamp) \(level.rawValue.uppercased()) [\(textEscape(label, quoteIfNeeded: false))] \(textEscape(message, quoteIfNeeded: false))\(meta.joined())"
    }

    /// Text-line content: control characters as `\n`, `\r`, `\t`, `\u{…}`; with `quoteIfNeeded`, a
    /// value that is empty or holds spaces, quotes or `=` is quoted (inner quotes and backslashes escaped).
    static func textEscape(_ text: String, quoteIfNeeded: Bool) -> String {
        var out = ""
        var needsQuotes = quoteIfNeeded && text.isEmpty
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where JSONText.isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16))}"
            case "\"", "\\":
                if quoteIfNeeded { needsQuotes = true; out += "\\" }
                out.unicodeScalars.append(scalar)
            case " ", "=":
                if quoteIfNeeded { needsQuotes = true }
                out.unicodeScalars.append(scalar)
            default:
                if scalar.properties.isWhitespace { needsQuotes = needsQuotes || quoteIfNeeded }
                out.unicodeScalars.append(scalar)
            }
        }
        return needsQuotes ? "\"\(out)\"" : out
    }
}
