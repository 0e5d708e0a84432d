import Foundation

/// A contiguous, possibly empty range of API versions as written in the schemas: `"0+"`, `"3-5"`,
/// `"2"` or `"none"`.
public struct VersionRange: Hashable, Sendable, CustomStringConvertible {
    /// The highest version a schema can name; `"N+"` means `N...highest`.
    public static let highest: Int16 = Int16.max

    /// The versions, or nil when the range is empty (`"none"`).
    public let bounds: ClosedRange<Int16>?

    public static let none = VersionRange(bounds: nil)

    public init(bounds: ClosedRange<Int16>?) {
        self.bounds = bounds
    }

    public init(_ lower: Int16, _ upper: Int16) {
        self.bounds = lower <= upper ? lower...upper : nil
    }

    /// Parses the schema notation. Throws on anything else.
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s == "none" || s.isEmpty {
            self = .none
        } else if s.hasSuffix("+") {
            guard let lower = Int16(s.dropLast()) else { throw CodegenError.invalidSchema("bad version range \"\(text)\"") }
            self.init(lower, Self.highest)
        } else if let dash = s.firstIndex(of: "-") {
            guard let lower = Int16(s[..<dash]), let upper = Int16(s[s.index(after: dash)...]), lower <= upper else {
                throw CodegenError.invalidSchema("bad version range \"\(text)\"")
            }
            self.init(lower, upper)
        } else {
            guard let only = Int16(s) else { throw CodegenError.invalidSchema("bad version range \"\(text)\"") }
            self.init(only, only)
        }
    }

    public var isEmpty: Bool { bounds == nil }

    public func intersection(_ other: VersionRange) -> VersionRange {
        guard let a = bounds, let b = other.bounds else { return .none }
        return VersionRange(max(a.lowerBound, b.lowerBound), min(a.upperBound, b.upperBound))
    }

    public func contains(_ version: Int16) -> Bool { bounds?.contains(version) ?? false }

    /// Whether every version of `other` is in this range.
    public func covers(_ other: VersionRange) -> Bool {
        guard let b = other.bounds else { return true }
        guard let a = bounds else { return false }
        return a.lowerBound <= b.lowerBound && a.upperBound >= b.upperBound
    }

    public var description: String {
        guard let b = bounds else { return "none" }
        if b.upperBound == Self.highest { return "\(b.lowerBound)+" }
        if b.lowerBound == b.upperBound { return "\(b.lowerBound)" }
        return "\(b.lowerBound)-\(b.upperBound)"
    }

    /// A Swift boolean expression over `variable` that is true exactly for the versions of this range,
    /// assuming `variable` is known to lie in `context`. Returns `"true"` or `"false"` when the answer does
    /// not depend on the version.
    public func condition(in context: VersionRange, variable: String = "version") -> String {
        let effective = intersection(context)
        guard let e = effective.bounds else { return "false" }
        guard let c = context.bounds else { return "false" }
        let needLower = e.lowerBound > c.lowerBound
        let needUpper = e.upperBound < c.upperBound
        switch (needLower, needUpper) {
        case (false, false): return "true"
        case (true, false): return "\(variable) >= \(e.lowerBound)"
        case (false, true): return "\(variable) <= \(e.upperBound)"
        case (true, true):
            if e.lowerBound == e.upperBound { return "\(variable) == \(e.lowerBound)" }
            return "\(variable) >= \(e.lowerBound) && \(variable) <= \(e.upperBound)"
        }
    }

    /// Swift source for the range as `ClosedRange<Int16>` (`"0...11"`), or `"nil"` when empty.
    public var swiftLiteral: String {
        guard let b = bounds else { return "nil" }
        return "\(b.lowerBound)...\(b.upperBound)"
    }
}
