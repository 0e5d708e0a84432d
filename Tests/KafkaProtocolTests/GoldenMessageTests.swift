import Foundation
import KafkaProtocol
import NIOCore
import Testing

/// Golden bytes from an independent implementation: kafka-python 3.0.12 encoded every message listed in
/// `Fixtures/messages/manifest.json` (see `Tests/fixtures/make_protocol_fixtures.py`). Each fixture must
/// decode with the generated type to exactly the manifest's values, consuming every byte, and re-encode to
/// the same bytes.
@Suite struct GoldenMessageTests {
    @Test func manifestCoversEveryFixtureAndResolvesEveryMessage() throws {
        let entries = try GoldenFixtures.loadEntries()
        #expect(entries.count >= 300, "only \(entries.count) manifest entries")
        for entry in entries {
            let type = GoldenFixtures.messageType(named: entry.message)
            #expect(type != nil, "no generated type named \(entry.message)")
            if let type, let apiKey = entry.apiKey {
                #expect(GoldenFixtures.apiKey(of: type) == apiKey, "\(entry.message): API key")
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: GoldenFixtures.directory.path)
            .filter { $0.hasSuffix(".bin") }
        #expect(Set(files) == Set(entries.map(\.file)), "fixture files and manifest entries differ")
    }

    @Test(arguments: GoldenFixtures.entriesOrEmpty)
    func decodesToManifestValuesAndReencodesIdentically(_ entry: GoldenEntry) throws {
        let type = try #require(GoldenFixtures.messageType(named: entry.message), "no type \(entry.message)")
        try Self.check(type, entry)
    }

    private static func check<Message: KafkaMessage>(_: Message.Type, _ entry: GoldenEntry) throws {
        let bytes = try GoldenFixtures.bytes(of: entry)
        var buffer = ByteBuffer(bytes: bytes)
        let decoded = try Message(from: &buffer, version: entry.version)
        #expect(buffer.readableBytes == 0, "\(entry): \(buffer.readableBytes) of \(bytes.count) bytes left unread")

        var mismatches: [String] = []
        GoldenValues.compare(decoded, to: entry.values, at: entry.message, into: &mismatches)
        #expect(mismatches.isEmpty, Comment(rawValue: "\(entry):\n" + mismatches.joined(separator: "\n")))

        var out = ByteBuffer()
        try decoded.encode(to: &out, version: entry.version)
        let reencoded = Array(out.readableBytesView)
        #expect(reencoded == bytes, Comment(rawValue: "\(entry): " + GoldenValues.describeDifference(bytes, reencoded)))
    }
}

/// One manifest entry: a message body kafka-python encoded, and the values it holds.
struct GoldenEntry: Sendable, Decodable, CustomTestStringConvertible, CustomStringConvertible {
    let message: String
    let apiKey: Int16?
    let version: Int16
    let file: String
    let values: JSONValue
    let notes: [String]?

    var description: String { "\(message) v\(version) (\(file))" }
    var testDescription: String { description }
}

/// A JSON value; numbers without a fraction decode as `.int` (exact for every Int64).
enum JSONValue: Sendable, Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

enum GoldenFixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("messages")
    }

    static func loadEntries() throws -> [GoldenEntry] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode([GoldenEntry].self, from: data)
    }

    /// For `@Test(arguments:)`; a manifest that fails to load fails `manifestCoversEveryFixture…`.
    static var entriesOrEmpty: [GoldenEntry] { (try? loadEntries()) ?? [] }

    static func bytes(of entry: GoldenEntry) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(entry.file)))
    }

    /// Every generated message type by its schema name.
    static let typesByName: [String: any KafkaMessage.Type] = {
        var types: [any KafkaMessage.Type] = KafkaProtocolDataTypes.all
        for apiKey in KafkaApiKey.allCases {
            types.append(apiKey.requestType)
            types.append(apiKey.responseType)
        }
        return Dictionary(types.map { ($0.messageName, $0) }, uniquingKeysWith: { first, _ in first })
    }()

    static func messageType(named name: String) -> (any KafkaMessage.Type)? {
        typesByName[name]
    }

    static func apiKey(of type: any KafkaMessage.Type) -> Int16? {
        if let request = type as? any KafkaRequestMessage.Type { return request.apiKey.rawValue }
        if let response = type as? any KafkaResponseMessage.Type { return response.apiKey.rawValue }
        return nil
    }
}

/// Compares generated values with manifest JSON through `Mirror`: properties are the lowerCamelCase of
/// the schema's field names; bytes and records are lowercase hex, UUIDs 32 hex digits.
enum GoldenValues {
    static func compare(_ actual: Any, to expected: JSONValue, at path: String, into mismatches: inout [String]) {
        let mirror = Mirror(reflecting: actual)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else {
                if expected != .null { mismatches.append("\(path): nil, expected \(expected)") }
                return
            }
            compare(wrapped, to: expected, at: path, into: &mismatches)
            return
        }
        if expected == .null {
            mismatches.append("\(path): \(actual), expected null")
            return
        }
        switch actual {
        case let buffer as ByteBuffer:
            expectEqual(hex(Array(buffer.readableBytesView)), expected, path, &mismatches)
        case let uuid as KafkaUUID:
            expectEqual(hex(uuid), expected, path, &mismatches)
        case let string as String:
            expectEqual(string, expected, path, &mismatches)
        case let bool as Bool:
            if expected != .bool(bool) { mismatches.append("\(path): \(bool), expected \(expected)") }
        case let double as Double:
            let wanted: Double? = switch expected {
            case .double(let value): value
            case .int(let value): Double(value)
            default: nil
            }
            if wanted != double { mismatches.append("\(path): \(double), expected \(expected)") }
        case let integer as any BinaryInteger:
            let value = Int64(exactly: integer)
            if value == nil || expected != .int(value!) { mismatches.append("\(path): \(integer), expected \(expected)") }
        default:
            compareComposite(actual, mirror, to: expected, at: path, into: &mismatches)
        }
    }

    private static func compareComposite(
        _ actual: Any, _ mirror: Mirror, to expected: JSONValue, at path: String, into mismatches: inout [String]
    ) {
        switch (mirror.displayStyle, expected) {
        case (.collection?, .array(let elements)):
            let actualElements = mirror.children.map(\.value)
            guard actualElements.count == elements.count else {
                mismatches.append("\(path): \(actualElements.count) elements, expected \(elements.count)")
                return
            }
            for (index, (element, wanted)) in zip(actualElements, elements).enumerated() {
                compare(element, to: wanted, at: "\(path)[\(index)]", into: &mismatches)
            }
        case (.struct?, .object(let fields)):
            var properties: [String: Any] = [:]
            for child in mirror.children {
                if let label = child.label { properties[label] = child.value }
            }
            for name in fields.keys.sorted() {
                let property = lowerCamel(name)
                guard let value = properties[property] else {
                    mismatches.append("\(path).\(property): no such property on \(type(of: actual))")
                    continue
                }
                compare(value, to: fields[name]!, at: "\(path).\(property)", into: &mismatches)
            }
        default:
            mismatches.append("\(path): \(type(of: actual)) \(actual) cannot be compared with \(expected)")
        }
    }

    private static func expectEqual(_ actual: String, _ expected: JSONValue, _ path: String, _ mismatches: inout [String]) {
        if expected != .string(actual) { mismatches.append("\(path): \"\(actual)\", expected \(expected)") }
    }

    /// `TopicData` → `topicData`, as the generator names properties.
    static func lowerCamel(_ name: String) -> String {
        guard let first = name.first else { return name }
        return first.lowercased() + name.dropFirst()
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hex(_ uuid: KafkaUUID) -> String {
        String(format: "%016llx%016llx", uuid.mostSignificantBits, uuid.leastSignificantBits)
    }

    /// Where two encodings part, with a little context on each side.
    static func describeDifference(_ expected: [UInt8], _ actual: [UInt8]) -> String {
        guard expected != actual else { return "identical" }
        let common = zip(expected, actual).prefix { $0 == $1 }.count
        let from = max(0, common - 4)
        let expectedSlice = hex(Array(expected[from..<min(expected.count, common + 12)]))
        let actualSlice = hex(Array(actual[from..<min(actual.count, common + 12)]))
        return "re-encoded \(actual.count) bytes vs kafka-python's \(expected.count); first difference at byte "
            + "\(common): kafka-python \(expectedSlice)…, Rampart \(actualSlice)… (from byte \(from))"
    }
}
