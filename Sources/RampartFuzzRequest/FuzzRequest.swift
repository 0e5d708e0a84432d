// Fuzz target for the broker's request path: frame splitting, request header + body decoding for every
// API and version, re-encoding, and record batch parsing with bounded decompression.
//
// Built with libFuzzer (`make fuzz`, which passes -sanitize=fuzzer,address and -DRAMPART_FUZZ) it
// exports LLVMFuzzerTestOneInput. Built normally it replays files given on the command line, so a
// crash artefact can be debugged without the fuzzer: `swift run rampart-fuzz-request crash-…`.
import KafkaProtocol
import NIOCore
#if RAMPART_FUZZ
import CRampartShims
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Runs one input through every decoder the broker exposes to the network. Traps only on a violated
/// invariant (decode → encode → decode → encode must reproduce the same bytes); every decode error is
/// an expected outcome.
func fuzzOne(_ bytes: UnsafeRawBufferPointer) {
    let input = ByteBuffer(bytes: bytes)

    // 1. As a stream of frames, as a connection would see it.
    var stream = input
    var frames = 0
    while frames < 64, let frame = try? KafkaFrameDecoder.nextFrame(from: &stream, limit: 1 << 20) {
        checkRequest(frame)
        frames += 1
    }

    // 2. As one frame body.
    checkRequest(input)

    // 3. As a records field.
    if let batches = try? RecordBatchReader.readAll(input, allowPartialTrailingBatch: true) {
        for batch in batches {
            _ = try? batch.validate()
            if let iterator = try? batch.records(maxUncompressedSize: 1 << 20) {
                var records = iterator
                var count = 0
                while count < 10_000, let record = try? records.next() {
                    _ = record.key?.readableBytes
                    count += 1
                }
            }
        }
    }
}

func checkRequest(_ frame: ByteBuffer) {
    guard let decoded = try? KafkaRequestDecoder.decode(frame: frame) else { return }
    var first = ByteBuffer()
    do {
        try decoded.body.encodeRequest(version: decoded.apiVersion, correlationId: decoded.correlationId,
                                       clientId: decoded.header.clientId, to: &first)
    } catch {
        // A decoded message must be encodable at the version it was decoded at.
        fatalError("re-encoding \(decoded.apiKey.name) v\(decoded.apiVersion) failed: \(error)")
    }
    guard let again = try? KafkaRequestDecoder.decode(frame: first) else {
        fatalError("re-decoding \(decoded.apiKey.name) v\(decoded.apiVersion) failed")
    }
    var second = ByteBuffer()
    try! again.body.encodeRequest(version: again.apiVersion, correlationId: again.correlationId,
                                  clientId: again.header.clientId, to: &second)
    precondition(first == second, "\(decoded.apiKey.name) v\(decoded.apiVersion) does not round-trip")
}

/// Writes one seed per API and version: a request frame body with a default-valued message.
func writeSeeds(to directory: String) {
    var count = 0
    for apiKey in KafkaApiKey.allCases {
        let type = apiKey.requestType
        for version in type.validVersions {
            var frame = ByteBuffer()
            guard (try? type.init().encodeRequest(version: version, correlationId: 7, clientId: "seed", to: &frame)) != nil else { continue }
            let path = "\(directory)/\(apiKey.name)_v\(version).bin"
            guard let file = fopen(path, "wb") else { continue }
            frame.withUnsafeReadableBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
            count += 1
        }
    }
    print("wrote \(count) seeds to \(directory)")
}

#if RAMPART_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// SwiftPM links executables with `main` aliased to this symbol; hand over to libFuzzer's driver.
@_cdecl("RampartFuzzRequest_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in LLVMFuzzerTestOneInput(data, size) }
}
#else
@main
struct ReplayFuzzInputs {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        if paths.first == "--write-seeds", let directory = paths.dropFirst().first {
            writeSeeds(to: directory)
            return
        }
        if paths.isEmpty {
            print("usage: rampart-fuzz-request FILE… (replays fuzz inputs; `make fuzz` runs the fuzzer)")
            return
        }
        for path in paths {
            guard let file = fopen(path, "rb") else {
                print("cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, file)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(file)
            bytes.withUnsafeBytes { fuzzOne($0) }
            print("\(path): ok (\(bytes.count) bytes)")
        }
    }
}
#endif
