import Foundation

/// Naming and literal helpers for emitted Swift.
enum SwiftNames {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "_", "Type", "Protocol", "package", "consume", "borrowing",
    ]

    /// `TopicData` → `topicData`, `KRaftVersion` → `kRaftVersion` (as Kafka's Java generator does).
    static func lowerCamel(_ name: String) -> String {
        guard let first = name.first else { return name }
        return first.lowercased() + name.dropFirst()
    }

    /// A lowerCamel identifier, backquoted when it is a keyword.
    static func identifier(_ name: String) -> String {
        let id = lowerCamel(name)
        return keywords.contains(id) ? "`\(id)`" : id
    }

    /// A type name, backquoted if needed.
    static func typeName(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    /// A Swift string literal for `s`.
    static func stringLiteral(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Doc-comment text on one line (schema `about` strings are single sentences, sometimes with stray
    /// whitespace).
    static func docText(_ s: String) -> String {
        s.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }
}

/// Accumulates indented lines.
struct SourceWriter {
    private(set) var lines: [String] = []
    private var depth = 0

    mutating func line(_ text: String = "") {
        if text.isEmpty {
            lines.append("")
        } else {
            lines.append(String(repeating: "    ", count: depth) + text)
        }
    }

    mutating func open(_ text: String) {
        line(text + " {")
        depth += 1
    }

    mutating func close(_ suffix: String = "") {
        depth -= 1
        line("}" + suffix)
    }

    /// Opens a block whose opening line already ends with `{` (a closure with parameters).
    mutating func openRaw(_ text: String) {
        line(text)
        depth += 1
    }

    mutating func indent() { depth += 1 }
    mutating func dedent() { depth -= 1 }

    /// `} else {` style continuation.
    mutating func reopen(_ text: String) {
        depth -= 1
        line("} " + text + " {")
        depth += 1
    }

    mutating func doc(_ text: String) {
        line("/// " + text)
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}
