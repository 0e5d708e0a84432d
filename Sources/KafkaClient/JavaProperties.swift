/// A parser for Java `.properties` files, the format of Kafka's `--command-config` client files.
///
/// Supports `key=value`, `key: value` and `key value`; `#` and `!` comment lines; a backslash at the end
/// of a line continuing it; and the escapes `\t \n \r \f \\ \uXXXX` (any other escaped character stands
/// for itself). A key given twice is an error naming it, since the first value would be silently lost.
public enum JavaProperties {
    /// Parses properties text. `source` names the file in errors.
    public static func parse(_ text: String, source: String = "properties") throws -> [String: String] {
        var result: [String: String] = [:]
        var logical = ""
        var lineNumber = 0
        var startLine = 0
        var continuing = false
        // "\r\n" is one Character in Swift, so it is a separator of its own.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNumber += 1
            var line = Substring(rawLine)
            if continuing {
                while let first = line.first, first == " " || first == "\t" || first == "\u{0C}" { line.removeFirst() }
            } else {
                while let first = line.first, first == " " || first == "\t" || first == "\u{0C}" { line.removeFirst() }
                if line.isEmpty || line.first == "#" || line.first == "!" { continue }
                startLine = lineNumber
                logical = ""
            }
            // An odd number of trailing backslashes continues the line.
            var trailing = 0
            for ch in line.reversed() { if ch == "\\" { trailing += 1 } else { break } }
            if trailing % 2 == 1 {
                logical += line.dropLast()
                continuing = true
                continue
            }
            logical += line
            continuing = false
            let (key, value) = try split(logical, source: source, line: startLine)
            guard result[key] == nil else {
                throw KafkaClientError.configuration("\(source):\(startLine): '\(key)' is given more than once")
            }
            result[key] = value
        }
        if continuing {
            let (key, value) = try split(logical, source: source, line: startLine)
            guard result[key] == nil else {
                throw KafkaClientError.configuration("\(source):\(startLine): '\(key)' is given more than once")
            }
            result[key] = value
        }
        return result
    }

    private static func split(_ line: String, source: String, line number: Int) throws -> (String, String) {
        let chars = Array(line)
        var index = 0
        var keyRaw = ""
        // The key ends at the first unescaped '=', ':' or whitespace.
        while index < chars.count {
            let ch = chars[index]
            if ch == "\\", index + 1 < chars.count {
                keyRaw.append(ch)
                keyRaw.append(chars[index + 1])
                index += 2
                continue
            }
            if ch == "=" || ch == ":" || ch == " " || ch == "\t" || ch == "\u{0C}" { break }
            keyRaw.append(ch)
            index += 1
        }
        while index < chars.count, chars[index] == " " || chars[index] == "\t" || chars[index] == "\u{0C}" { index += 1 }
        if index < chars.count, chars[index] == "=" || chars[index] == ":" {
            index += 1
            while index < chars.count, chars[index] == " " || chars[index] == "\t" || chars[index] == "\u{0C}" { index += 1 }
        }
        let key = try unescape(keyRaw, source: source, line: number)
        let value = try unescape(String(chars[index...]), source: source, line: number)
        guard !key.isEmpty else { throw KafkaClientError.configuration("\(source):\(number): a line has no key") }
        return (key, value)
    }

    private static func unescape(_ text: String, source: String, line: Int) throws -> String {
        guard text.contains("\\") else { return text }
        var out = ""
        var iterator = Array(text).makeIterator()
        while let ch = iterator.next() {
            guard ch == "\\" else { out.append(ch); continue }
            guard let next = iterator.next() else { break }
            switch next {
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "f": out.append("\u{0C}")
            case "u":
                var hex = ""
                for _ in 0..<4 { if let h = iterator.next() { hex.append(h) } }
                guard hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                    throw KafkaClientError.configuration("\(source):\(line): malformed \\u escape '\\u\(hex)'")
                }
                out.unicodeScalars.append(scalar)
            default: out.append(next)
            }
        }
        return out
    }
}
