import NIOCore
import Testing

@testable import RampartTLS

@Suite struct TLSRecordFramingTests {
    /// A header cut anywhere still gives the record's length: 5 + 0x0102 bytes.
    @Test func headerCutByteByByte() {
        var framing = TLSRecordFraming()
        let record: [UInt8] = [23, 3, 3, 0x01, 0x02] + [UInt8](repeating: 0, count: 0x0102)
        for (index, byte) in record.enumerated() {
            withUnsafeBytes(of: byte) { framing.advance(over: $0) }
            let received = index + 1
            if received == record.count {
                #expect(framing.receivedOfRecord == 0 && framing.remainingOfRecord == 0)
            } else if received < 5 {
                #expect(framing.remainingOfRecord == 5 - received)
            } else {
                #expect(framing.remainingOfRecord == record.count - received)
            }
        }
    }

    /// The property the socket's low-water mark relies on: fed a real TLS stream in pieces of every
    /// size, the bound on ciphertext still to come never exceeds what the peer actually still sends,
    /// and is positive while plaintext is awaited.
    @Test(arguments: [TLSConfiguration.ProtocolVersion.tlsv1_2, .tlsv1_3])
    func boundNeverExceedsTheCiphertextStillToCome(version: TLSConfiguration.ProtocolVersion) throws {
        let (client, server) = try handshakenSessions(client: try clientContext(protocols: [version]))
        let allocator = ByteBufferAllocator()
        // Writes of mixed sizes: records from a few bytes to the 16 KiB maximum.
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let writes = (0..<60).map { index in ByteBuffer(repeating: UInt8(index), count: 1 + next(40_000)) }
        let plaintextTotal = writes.reduce(0) { $0 + $1.readableBytes }
        var ciphertext = allocator.buffer(capacity: 0)
        #expect(client.encrypt(writes, into: &ciphertext) == nil)

        var received = ByteBuffer()
        var checked = 0
        while ciphertext.readableBytes > 0 {
            let piece = ciphertext.readSlice(length: min(ciphertext.readableBytes, 1 + next(9_000)))!
            server.receive(piece) {
                server.clearErrors()
                while true {
                    received.reserveCapacity(minimumWritableBytes: 16 * 1024)
                    guard case .complete = server.read(into: &received) else { break }
                }
            }
            let awaitedPlaintext = plaintextTotal - received.readableBytes
            let bound = server.receivedFraming.ciphertextAwaited(forPlaintext: awaitedPlaintext)
            #expect(bound <= ciphertext.readableBytes)
            #expect((bound > 0) == (awaitedPlaintext > 0))
            checked += 1
        }
        #expect(received.readableBytes == plaintextTotal)
        #expect(checked > 100)
    }
}
