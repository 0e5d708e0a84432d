import NIOCore
import NIOEmbedded
import Testing

@testable import RampartTLS

@Suite struct TLSLifecycleTests {
    @Test func closeSendsCloseNotifyAndPeerCloses() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        _ = try pair.handshake()
        try pair.client.close().wait()
        try pair.interact()
        #expect(pair.serverRecorder.events.contains(.closeNotifyReceived))
        #expect(!pair.server.isActive)
        #expect(pair.serverRecorder.errors.isEmpty)
    }

    @Test func closeNotifyAfterDataDeliversTheDataFirst() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        _ = try pair.handshake()
        pair.server.write(bytes("last words"), promise: nil)
        pair.server.flush()
        try pair.server.close().wait()
        try pair.interact()
        #expect(pair.clientRecorder.received == bytes("last words"))
        #expect(pair.clientRecorder.events.contains(.closeNotifyReceived))
        #expect(!pair.client.isActive)
    }

    @Test func closeDuringHandshakeFailsHeldWrites() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        let write = pair.client.writeAndFlush(bytes("never sent"))
        try pair.client.close().wait()
        #expect(throws: (any Error).self) { try write.wait() }
        try pair.interact()
        #expect(pair.serverRecorder.handshake == nil)
    }

    @Test func plaintextKafkaRequestIsRefused() throws {
        let server = EmbeddedChannel()
        let recorder = Recorder()
        try server.pipeline.syncOperations.addHandlers([try TLSHandler(context: try serverContext()), recorder])
        try server.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9093)).wait()
        // ApiVersions v3 from a plaintext Kafka client: size, api key 18, version 3, correlation id, client id.
        var request = ByteBuffer()
        request.writeInteger(Int32(33))
        request.writeInteger(Int16(18))
        request.writeInteger(Int16(3))
        request.writeInteger(Int32(1))
        request.writeInteger(Int16(7))
        request.writeString("rdkafka")
        request.writeBytes([0, 11] + Array("librdkafka".utf8) + [7] + Array("2.6.1".utf8) + [0, 0])
        try server.writeInbound(request)
        #expect(recorder.tlsErrors.first?.kind == .handshakeFailed)
        #expect(recorder.received.readableBytes == 0)
        #expect(!server.isActive)
    }

    @Test func handshakeTimeoutClosesTheConnection() throws {
        let server = EmbeddedChannel()
        let recorder = Recorder()
        let context = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKey,
            handshakeTimeout: .seconds(5)
        ))
        try server.pipeline.syncOperations.addHandlers([try TLSHandler(context: context), recorder])
        try server.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9093)).wait()
        server.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(server.isActive)
        server.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(recorder.tlsErrors.first?.kind == .handshakeTimeout)
        #expect(!server.isActive)
    }

    @Test func completedHandshakeCancelsTheTimeout() throws {
        let pair = try ChannelPair(client: try clientContext(), server: try serverContext())
        _ = try pair.handshake()
        pair.server.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(pair.server.isActive)
        #expect(pair.serverRecorder.errors.isEmpty)
    }
}

@Suite struct TLSContextTests {
    @Test func keyNotMatchingCertificateNamesTheFiles() throws {
        let error = try #require(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(
                role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.clientKey
            ))
        }
        #expect(error.kind == .keyMismatch)
        #expect(error.message.contains(certs.clientKey))
        #expect(error.message.contains(certs.serverCertificate))
    }

    @Test func missingFileIsNamed() throws {
        let path = "\(certs.directory)/nope.pem"
        let error = try #require(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(
                role: .server, certificateChainPath: path, privateKeyPath: certs.serverKey
            ))
        }
        #expect(error.kind == .fileNotReadable)
        #expect(error.message == "certificate chain \(path): does not exist")
    }

    @Test func notPEMIsReported() throws {
        let error = try #require(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(
                role: .server, certificateChainPath: "\(certs.directory)/openssl.cnf", privateKeyPath: certs.serverKey
            ))
        }
        #expect(error.kind == .invalidFile)
        #expect(error.message.contains("openssl.cnf"))
    }

    @Test func encryptedKeyNeedsTheRightPassword() throws {
        func load(_ password: String?) throws -> TLSContext {
            try TLSContext(configuration: TLSConfiguration(
                role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKeyEncrypted,
                privateKeyPassword: password.map(TLSConfiguration.KeyPassword.init)
            ))
        }
        _ = try load("s3cret")
        let wrong = try #require(throws: TLSError.self) { try load("hunter2-guess") }
        #expect(wrong.kind == .invalidFile)
        #expect(wrong.message.contains(certs.serverKeyEncrypted))
        #expect(!wrong.description.contains("hunter2"))
        let missing = try #require(throws: TLSError.self) { try load(nil) }
        #expect(missing.message.contains("no password is set"))
        #expect("\(TLSConfiguration.KeyPassword("s3cret"))" == "<redacted>")
    }

    @Test func requiredClientAuthNeedsTrustStore() throws {
        let error = try #require(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(
                role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKey,
                clientAuthentication: .required
            ))
        }
        #expect(error.kind == .invalidConfiguration)
    }

    @Test func protocolsAndCipherSuitesParse() throws {
        #expect(try TLSConfiguration.parseProtocols("TLSv1.3, TLSv1.2") == [.tlsv1_2, .tlsv1_3])
        #expect(throws: TLSError.self) { try TLSConfiguration.parseProtocols("TLSv1.1") }
        #expect(TLSConfiguration.parseCipherSuites("TLS_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256")
            == ["TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"])
        #expect(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(role: .client, cipherSuites: ["NOT-A-CIPHER"]))
        }
    }

    @Test func cipherSuiteIsHonoured() throws {
        let server = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKey,
            cipherSuites: ["TLS_CHACHA20_POLY1305_SHA256"]
        ))
        let pair = try ChannelPair(client: try clientContext(), server: server)
        #expect(try pair.handshake().client?.cipherSuite == "TLS_CHACHA20_POLY1305_SHA256")
    }

    /// Bytes lent to OpenSSL and not read during `receive` are kept and read in front of the next
    /// bytes: a ClientHello received in two pieces, the first left unread, still gets its answer.
    @Test func bytesLeftUnreadAreReadWithTheNextOnes() throws {
        let client = try TLSConnection(context: try clientContext(), serverHostname: nil)
        let server = try TLSConnection(context: try serverContext(), serverHostname: nil)
        guard case .wantRead = client.handshake(), var hello = client.takeOutput(allocator: ByteBufferAllocator()) else {
            Issue.record("the client produced no ClientHello")
            return
        }
        let first = hello.readSlice(length: hello.readableBytes / 2)!
        server.receive(first) {}
        #expect(server.pendingCiphertext == first.readableBytes)
        var step: TLSOperationResult?
        server.receive(hello) { step = server.handshake() }
        guard case .wantRead = step else {
            Issue.record("the server did not take the whole ClientHello: \(String(describing: step))")
            return
        }
        #expect(server.pendingCiphertext == 0)
        #expect((server.takeOutput(allocator: ByteBufferAllocator())?.readableBytes ?? 0) > 0)
    }

    /// Records that do not fit the space reserved in the output buffer follow, in order, from the
    /// overflow: the peer reads every byte. With room for one record only, most go that way.
    @Test func recordsBeyondTheReservedRoomStillGoOutInOrder() throws {
        let (client, server) = try handshakenSessions(client: try clientContext())
        let allocator = ByteBufferAllocator()
        let plaintext = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var encrypted = allocator.buffer(capacity: 0)
        let failure = client.encrypt([plaintext, ByteBuffer(string: "tail")], into: &encrypted, room: 17 * 1024)
        let output: ByteBuffer? = encrypted.readableBytes > 0 ? encrypted : nil
        #expect(failure == nil)
        var received = ByteBuffer()
        server.receive(try #require(output)) {
            server.clearErrors()
            while case .complete = server.read(into: &received) {
                if received.writableBytes == 0 { received.reserveCapacity(minimumWritableBytes: 16 * 1024) }
            }
        }
        var expected = plaintext
        expected.writeString("tail")
        #expect(received == expected)
    }

    /// Without `ssl.cipher.suites` a TLS 1.3 server prefers AES-128-GCM, though OpenSSL's default
    /// client order puts AES-256-GCM first.
    @Test func defaultTLS13SuiteIsAES128GCM() throws {
        let server = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: certs.serverCertificate, privateKeyPath: certs.serverKey))
        let pair = try ChannelPair(client: try clientContext(), server: server)
        let result = try pair.handshake().client
        #expect(result?.protocolVersion == "TLSv1.3")
        #expect(result?.cipherSuite == "TLS_AES_128_GCM_SHA256")
    }
}
