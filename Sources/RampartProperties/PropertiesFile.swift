import Foundation

/// A parsed Java `.properties` file (the format of Kafka's `server.properties` and of client
/// `--command-config` files): `key=value`,
/// `key: value` or `key value`; `#` and `!` comment lines; a trailing backslash continues a line;
/// `\t`, `\n`, `\r`, `\f`, `\uXXXX` and `\<char>` escapes. Keys keep their line numbers for errors.
public struct PropertiesFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    /// Entries in file order. A key given twice is reported by `parse`, not silently overridden.
    public private(set) var entries: [Entry] = []

    public init(entries: [Entry]) { self.entries = entries }

    /// The values by key.
    public var dictionary: [String: String] {
        Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Parses properties text. `source` names the file in errors.
    public static func parse(_ text: String, source: String) throws -> PropertiesFile {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        var logical = ""
        var startLine = 0
        var continuing = false
        var lineNumber = 0
        func add(_ entry: Entry) throws {
            if let previous = seen[entry.key] {
                throw PropertiesError("\(source):\(entry.line): key '\(entry.key)' is set twice (first on line \(previous))")
            }
            seen[entry.key] = entry.line
            entries.append(entry)
        }
        // "\r\n" is a single Character in Swift, so it is a separator of its own.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNumber += 1
            var line = Substring(rawLine)
            if continuing {
                line = line.drop { $0 == " " || $0 == "\t" || $0 == "\u{0C}" }
            } else {
                line = line.drop { $0 == " " || $0 == "\t" || $0 == "\u{0C}" }
                if line.isEmpty || line.first == "#" || line.first == "!" { continue }
                startLine = lineNumber
                logical = ""
            }
            // An odd number of trailing backslashes continues the line.
            let trailing = line.reversed().prefix { $0 == "\\" }.count
            if trailing % 2 == 1 {
                logical += line.dropLast()
                continuing = true
                continue
            }
            logical += line
            continuing = false
            try add(parseLogicalLine(logical, line: startLine, source: source))
        }
        if continuing {
            try add(parseLogicalLine(logical, line: startLine, source: source))
        }
        return PropertiesFile(entries: entries)
    }

    /// Reads and parses a file.
    public static func load(path: String) throws -> PropertiesFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PropertiesError("cannot read config file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PropertiesError("config file \(path) is not valid UTF-8")
        }
        return try parse(text, source: path)
    }

    private static func parseLogicalLine(_ line: String, line number: Int, source: String) throws -> Entry {
        var key = ""
        var iterator = Array(line.unicodeScalars)[...]
        // Key: up to the first unescaped '=', ':' or whitespace.
        var separatorFound = false
        while let c = iterator.first {
            iterator = iterator.dropFirst()
            if c == "\\" {
                guard let next = iterator.first else { break }
                iterator = iterator.dropFirst()
                key.unicodeScalars.append(try unescape(next, rest: &iterator, line: number, source: source))
                continue
            }
            if c == "=" || c == ":" { separatorFound = true; break }
            if c == " " || c == "\t" || c == "\u{0C}" { break }
            key.unicodeScalars.append(c)
        }
        // Skip whitespace, then one '=' or ':' if not yet seen, then whitespace.
        while let c = iterator.first, c == " " || c == "\t" || c == "\u{0C}" { iterator = iterator.dropFirst() }
        if !separatorFound, let c = iterator.first, c == "=" || c == ":" {
            iterator = iterator.dropFirst()
            while let c = iterator.first, c == " " || c == "\t" || c == "\u{0C}" { iterator = iterator.dropFirst() }
        }
        var value = ""
        while let c = iterator.first {
            iterator = iterator.dropFirst()
            if c == "\\" {
                guard let next = iterator.first else { break }
                iterator = iterator.dropFirst()
                value.unicodeScalars.append(try unescape(next, rest: &iterator, line: number, source: source))
            } else {
                value.unicodeScalars.append(c)
            }
        }
        guard !key.isEmpty else { throw PropertiesError("\(source):\(number): a line has a value but no key") }
        return Entry(key: key, value: value, line: number)
    }

    private static func unescape(
        _ c: Unicode.Scalar, rest: inout ArraySlice<Unicode.Scalar>, line: Int, source: String
    ) throws -> Unicode.Scalar {
        switch c {
        case "t": return "\t"
        case "n": return "\n"
        case "r": return "\r"
        case "f": return "\u{0C}"
        case "u":
            let hex = String(String.UnicodeScalarView(rest.prefix(4)))
            guard hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                throw PropertiesError("\(source):\(line): malformed \\u escape")
            }
            rest = rest.dropFirst(4)
            return scalar
        default: return c
        }
    }
}

/// A properties file that cannot be read or parsed: names the file, the line and the problem.
public struct PropertiesError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
