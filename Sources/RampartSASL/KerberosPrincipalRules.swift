/// Kafka's `sasl.kerberos.principal.to.local.rules`: how a Kerberos principal (`alice@REALM`,
/// `kafka/host@REALM`) becomes the short name of `User:<name>` — the MIT `auth_to_local` syntax with
/// Kafka's `/L` and `/U` suffixes, applied as Kafka's `KerberosShortNamer` does:
///
/// - `DEFAULT`: the first component, when the realm is the default realm;
/// - `RULE:[n:format](regex)s/pattern/replacement/g/L`: applies to principals of `n` components;
///   `format` builds a string from `$0` (the realm) and `$1`, `$2` (the components), which must match
///   `regex` entirely; the optional sed substitution (first match, or every one with `g`; `$1` in the
///   replacement names a group) and `/L` or `/U` (lower or upper case) give the name.
///
/// The first rule that applies wins; a result containing `/` or `@` is an error, as is a principal
/// no rule applies to (it cannot log in).
public struct KerberosPrincipalRules: Sendable, CustomStringConvertible {
    struct Rule: Sendable {
        var isDefault = false
        var components = 0
        var format = ""
        var match: String?
        var from: String?
        var to = ""
        var global = false
        var lowercase = false
        var uppercase = false
        var text = ""
    }

    let rules: [Rule]
    /// The realm `DEFAULT` accepts.
    public let defaultRealm: String
    public let description: String

    /// Parses a comma-separated rule list; the error names the rule that does not parse or whose
    /// regular expression does not compile.
    public init(_ text: String, defaultRealm: String) throws(SASLError) {
        self.defaultRealm = defaultRealm
        self.description = text
        var rules: [Rule] = []
        for item in text.split(separator: ",") {
            var remaining = Substring(item.drop { $0.isWhitespace })
            while let last = remaining.last, last.isWhitespace { remaining.removeLast() }
            while !remaining.isEmpty {
                rules.append(try Self.parseRule(&remaining))
                remaining = remaining.drop { $0.isWhitespace }
            }
        }
        guard !rules.isEmpty else { throw SASLError("sasl.kerberos.principal.to.local.rules: no rule (use DEFAULT)") }
        self.rules = rules
    }

    private static func parseRule(_ input: inout Substring) throws(SASLError) -> Rule {
        let start = input
        func fail(_ why: String) -> SASLError {
            SASLError("sasl.kerberos.principal.to.local.rules: '\(start.prefix(80))': \(why)")
        }
        if input.hasPrefix("DEFAULT") {
            input = input.dropFirst("DEFAULT".count)
            return Rule(isDefault: true, text: "DEFAULT")
        }
        guard input.hasPrefix("RULE:[") else { throw fail("expected DEFAULT or RULE:[n:format]") }
        input = input.dropFirst("RULE:[".count)
        var rule = Rule()
        let digits = input.prefix { $0.isASCII && $0.isNumber }
        guard let count = Int(digits) else { throw fail("no component count in RULE:[n:format]") }
        rule.components = count
        input = input.dropFirst(digits.count)
        guard input.first == ":" else { throw fail("expected ':' after the component count") }
        input = input.dropFirst()
        guard let close = input.firstIndex(of: "]") else { throw fail("unterminated [n:format]") }
        rule.format = String(input[..<close])
        input = input[input.index(after: close)...]
        if input.first == "(" {
            guard let end = input.firstIndex(of: ")") else { throw fail("unterminated (regex)") }
            rule.match = String(input[input.index(after: input.startIndex)..<end])
            input = input[input.index(after: end)...]
        }
        if input.hasPrefix("s/") {
            input = input.dropFirst(2)
            guard let slash = input.firstIndex(of: "/") else { throw fail("unterminated s/pattern/replacement/") }
            rule.from = String(input[..<slash])
            input = input[input.index(after: slash)...]
            guard let end = input.firstIndex(of: "/") else { throw fail("unterminated s/pattern/replacement/") }
            rule.to = String(input[..<end])
            input = input[input.index(after: end)...]
            if input.first == "g" {
                rule.global = true
                input = input.dropFirst()
            }
        }
        if input.first == "/" { input = input.dropFirst() }
        if input.first == "L" {
            rule.lowercase = true
            input = input.dropFirst()
        } else if input.first == "U" {
            rule.uppercase = true
            input = input.dropFirst()
        }
        guard input.isEmpty || input.first!.isWhitespace || input.hasPrefix("RULE:") || input.hasPrefix("DEFAULT") else {
            throw fail("unexpected '\(input.prefix(20))'")
        }
        for pattern in [rule.match, rule.from].compactMap({ $0 }) {
            do {
                _ = try Regex(pattern)
            } catch {
                throw fail("the regular expression '\(pattern)' does not compile")
            }
        }
        rule.text = String(start[..<input.startIndex])
        return rule
    }

    /// The short name of `principal` (`primary[/instance]@REALM`), or an error saying why there is none.
    public func shortName(_ principal: String) throws(SASLError) -> String {
        var name = Substring(principal)
        var realm: String?
        if let at = name.lastIndex(of: "@") {
            realm = String(name[name.index(after: at)...])
            name = name[..<at]
        }
        let components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.isEmpty, components.count <= 2, !components[0].isEmpty else {
            throw SASLError("'\(principal)' is not a Kerberos principal name")
        }
        guard let realm else {
            // Kafka: a principal without a realm is its own short name (if it has one component).
            guard components.count == 1 else { throw SASLError("no rule applies to '\(principal)'") }
            return components[0]
        }
        let parameters = [realm] + components
        for rule in rules {
            if let result = try apply(rule, parameters) { return result }
        }
        throw SASLError("no rule of sasl.kerberos.principal.to.local.rules applies to '\(principal)'")
    }

    private func apply(_ rule: Rule, _ parameters: [String]) throws(SASLError) -> String? {
        var result: String?
        if rule.isDefault {
            if parameters[0] == defaultRealm { result = parameters[1] }
        } else if parameters.count - 1 == rule.components {
            let base = try Self.substituteParameters(rule.format, parameters, rule: rule.text)
            var matches = true
            if let pattern = rule.match { matches = base.wholeMatch(of: try Self.regex(pattern)) != nil }
            if matches {
                if let pattern = rule.from {
                    result = Self.substitute(base, try Self.regex(pattern), with: rule.to, global: rule.global)
                } else {
                    result = base
                }
            }
        }
        guard var name = result else { return nil }
        if name.contains("/") || name.contains("@") {
            throw SASLError("non-simple name '\(name)' after rule \(rule.text)")
        }
        if rule.lowercase { name = name.lowercased() }
        if rule.uppercase { name = name.uppercased() }
        return name
    }

    private static func regex(_ pattern: String) throws(SASLError) -> Regex<AnyRegexOutput> {
        do {
            return try Regex(pattern)
        } catch {
            throw SASLError("the regular expression '\(pattern)' does not compile")
        }
    }

    /// `$0`, `$1`, … in a rule's format.
    private static func substituteParameters(_ format: String, _ parameters: [String], rule: String) throws(SASLError) -> String {
        var out = ""
        var characters = Substring(format)
        while let character = characters.popFirst() {
            guard character == "$", let digit = characters.first, let index = digit.wholeNumberValue else {
                out.append(character)
                continue
            }
            characters.removeFirst()
            guard index < parameters.count else { throw SASLError("rule \(rule): $\(index) is out of range") }
            out += parameters[index]
        }
        return out
    }

    /// Java's `replaceFirst`/`replaceAll`: `$n` in `replacement` is group n, `\x` is x.
    static func substitute(_ base: String, _ regex: Regex<AnyRegexOutput>, with replacement: String, global: Bool) -> String {
        var out = ""
        var position = base.startIndex
        for match in base.matches(of: regex) {
            out += base[position..<match.range.lowerBound]
            var characters = Substring(replacement)
            while let character = characters.popFirst() {
                if character == "\\", let escaped = characters.popFirst() {
                    out.append(escaped)
                } else if character == "$", let digit = characters.first, let group = digit.wholeNumberValue, group < match.output.count {
                    characters.removeFirst()
                    if let captured = match.output[group].substring { out += captured }
                } else {
                    out.append(character)
                }
            }
            position = match.range.upperBound
            if !global { break }
        }
        return out + base[position...]
    }
}
