/// Kafka's `ssl.principal.mapping.rules`: maps a client certificate's subject DN (RFC 2253) to the
/// short name of its principal.
///
/// The value is a list of rules separated by commas (or new lines), tried in order; the first rule
/// whose pattern matches the *whole* DN gives the name:
/// - `DEFAULT` keeps the DN as it is;
/// - `RULE:pattern/replacement/` replaces the matches of `pattern` (a regular expression; `\/` for a
///   slash) by `replacement` (`$1` … refer to groups, `\` escapes), and `RULE:pattern/replacement/L` or
///   `/U` also lower- or upper-cases the result.
///
/// When no rule matches, the DN has no principal and the connection is refused, as in Kafka.
public struct PrincipalMappingRules: Sendable, CustomStringConvertible {
    /// One parsed rule.
    public enum Rule: Sendable {
        /// `DEFAULT`: the DN itself.
        case keepDistinguishedName
        /// `RULE:pattern/replacement/[LU]`.
        case replace(pattern: String, replacement: String, caseChange: CaseChange)
    }

    /// The optional `L` / `U` flag of a rule.
    public enum CaseChange: Sendable {
        case none, lower, upper
    }

    /// An error in a rule, naming the rule and what is wrong with it.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The rules, in the order they are tried.
    public let rules: [Rule]
    private let compiled: [CompiledRule]

    /// Kafka's default: the DN unchanged.
    public static let `default` = try! PrincipalMappingRules(parsing: "DEFAULT")

    /// Parses a `ssl.principal.mapping.rules` value; an empty value means `DEFAULT`.
    public init(parsing value: String) throws {
        var parser = RuleParser(Array(value.unicodeScalars))
        var rules = try parser.parseAll()
        if rules.isEmpty { rules = [.keepDistinguishedName] }
        self.rules = rules
        self.compiled = try rules.map(CompiledRule.init)
    }

    /// The short name for `distinguishedName`, or nil when no rule applies.
    public func map(_ distinguishedName: String) -> String? {
        for rule in compiled {
            if let name = rule.apply(distinguishedName) { return name }
        }
        return nil
    }

    /// The rules written back in Kafka's syntax.
    public var description: String {
        rules.map { rule in
            switch rule {
            case .keepDistinguishedName: "DEFAULT"
            case .replace(let pattern, let replacement, let caseChange):
                "RULE:\(pattern)/\(replacement)/" + (caseChange == .lower ? "L" : caseChange == .upper ? "U" : "")
            }
        }.joined(separator: ",")
    }
}

/// A rule with its pattern compiled.
private struct CompiledRule: @unchecked Sendable {
    // Regex<AnyRegexOutput> is not Sendable; it is immutable once built and only read here.
    let regex: Regex<AnyRegexOutput>?
    let rule: PrincipalMappingRules.Rule

    init(_ rule: PrincipalMappingRules.Rule) throws {
        self.rule = rule
        switch rule {
        case .keepDistinguishedName:
            regex = nil
        case .replace(let pattern, _, _):
            do {
                regex = try Regex(pattern)
            } catch {
                throw PrincipalMappingRules.ParseError(description: "ssl.principal.mapping.rules: invalid pattern '\(pattern)': \(error)")
            }
        }
    }

    func apply(_ dn: String) -> String? {
        guard case .replace(_, let replacement, let caseChange) = rule, let regex else { return dn }
        // Kafka applies a rule only when its pattern matches the whole DN, then replaces every match
        // (Java's replaceAll), which for an anchored pattern is the whole DN once.
        guard (try? regex.wholeMatch(in: dn)) != nil else { return nil }
        var result = ""
        var position = dn.startIndex
        for match in dn.matches(of: regex) {
            result += dn[position..<match.range.lowerBound]
            result += Self.expand(replacement, match.output)
            position = match.range.upperBound
        }
        result += dn[position...]
        switch caseChange {
        case .none: return result
        case .lower: return result.lowercased()
        case .upper: return result.uppercased()
        }
    }

    /// Java's replacement syntax: `$n` is group n (a reference to a group the pattern does not have
    /// stays literal, as Kafka escapes those), `\c` is the character c.
    static func expand(_ replacement: String, _ groups: AnyRegexOutput) -> String {
        var out = ""
        let chars = Array(replacement)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count {
                out.append(chars[i + 1])
                i += 2
            } else if c == "$", i + 1 < chars.count, let first = chars[i + 1].wholeNumberValue, first < groups.count {
                // Take as many digits as still name an existing group, as Java does.
                var number = first
                var j = i + 2
                while j < chars.count, let digit = chars[j].wholeNumberValue, number * 10 + digit < groups.count {
                    number = number * 10 + digit
                    j += 1
                }
                if let substring = groups[number].substring { out += substring }
                i = j
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }
}

/// Splits a rules value into rules: `DEFAULT` or `RULE:` + two `/`-terminated parts (backslash
/// escapes kept, so the pattern reaches the regex engine as written) + an optional `L`/`U`.
private struct RuleParser {
    let scalars: [Unicode.Scalar]
    var index = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseAll() throws -> [PrincipalMappingRules.Rule] {
        var rules: [PrincipalMappingRules.Rule] = []
        skipSeparators()
        while index < scalars.count {
            let start = index
            let rule = try parseRule()
            rules.append(rule)
            skipWhitespace()
            if index < scalars.count {
                guard scalars[index] == "," || scalars[index] == "\n" else {
                    throw error("unexpected text after the rule starting at '\(text(from: start))'")
                }
            }
            skipSeparators()
        }
        return rules
    }

    private mutating func parseRule() throws -> PrincipalMappingRules.Rule {
        if consume("DEFAULT") { return .keepDistinguishedName }
        let start = index
        guard consume("RULE:") else {
            throw error("'\(text(from: start))' is not a rule (expected DEFAULT or RULE:pattern/replacement/[LU])")
        }
        guard let pattern = part(), let replacement = part() else {
            throw error("'\(text(from: start))' is not a rule: RULE:pattern/replacement/ needs both parts, each ended by '/'")
        }
        guard !pattern.isEmpty else { throw error("'\(text(from: start))' has an empty pattern") }
        var caseChange = PrincipalMappingRules.CaseChange.none
        if index < scalars.count {
            if scalars[index] == "L" { caseChange = .lower; index += 1 } else if scalars[index] == "U" { caseChange = .upper; index += 1 }
        }
        return .replace(pattern: pattern, replacement: replacement, caseChange: caseChange)
    }

    /// Text up to the next unescaped `/`, which is consumed; nil when there is none.
    private mutating func part() -> String? {
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let c = scalars[index]
            if c == "\\", index + 1 < scalars.count {
                out.append(c)
                out.append(scalars[index + 1])
                index += 2
                continue
            }
            index += 1
            if c == "/" { return String(out) }
            out.append(c)
        }
        return nil
    }

    private mutating func consume(_ word: String) -> Bool {
        let target = Array(word.unicodeScalars)
        guard index + target.count <= scalars.count, Array(scalars[index..<index + target.count]) == target else { return false }
        index += target.count
        return true
    }

    private mutating func skipWhitespace() {
        while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" || scalars[index] == "\r" { index += 1 }
    }

    private mutating func skipSeparators() {
        while index < scalars.count, [" ", "\t", "\r", "\n", ","].contains(scalars[index]) { index += 1 }
    }

    private func text(from start: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<min(scalars.count, start + 60)])
        return String(view)
    }

    private func error(_ message: String) -> PrincipalMappingRules.ParseError {
        PrincipalMappingRules.ParseError(description: "ssl.principal.mapping.rules: \(message)")
    }
}
