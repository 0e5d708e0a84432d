internal import COpenSSL
internal import CRampartOpenSSLShims
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of one OpenSSL operation on a `TLSConnection`.
enum TLSOperationResult {
    /// The operation finished (handshake done, bytes read or written).
    case complete
    /// OpenSSL needs more bytes from the peer.
    case wantRead
    /// The peer sent close_notify.
    case closed
    /// The operation failed; the session is unusable.
    case failed(TLSError)
}

/// One TLS session: an `SSL*` reading ciphertext from one memory BIO and writing ciphertext to
/// another, so the NIO handler moves the bytes and OpenSSL never touches a socket. Used on one
/// event loop only.
final class TLSConnection {
    /// The `SSL*`, owned by this object (and owning both BIOs).
    private let ssl: OpaquePointer
    private let networkToSSL: OpaquePointer
    private let sslToNetwork: OpaquePointer
    /// Keeps the shared `SSL_CTX` alive as long as the session.
    let context: TLSContext

    /// A session for `context`; for clients `serverHostname` is verified and sent as SNI.
    init(context: TLSContext, serverHostname: String?) throws {
        ERR_clear_error()
        guard let ssl = SSL_new(context.handle) else {
            throw TLSError.fromQueue(.internalFailure, "SSL_new failed")
        }
        guard let input = rampart_borrowed_bio_new(), let output = rampart_lent_output_bio_new() else {
            SSL_free(ssl)
            throw TLSError.fromQueue(.internalFailure, "BIO_new failed")
        }
        SSL_set_bio(ssl, input, output)
        self.ssl = ssl
        self.networkToSSL = input
        self.sslToNetwork = output
        self.context = context
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let host = serverHostname ?? context.configuration.hostnameToVerify {
                guard rampart_ssl_set_server_name(ssl, host) == 1, rampart_ssl_set_expected_host(ssl, host) == 1 else {
                    throw TLSError.fromQueue(.invalidConfiguration, "cannot verify host name '\(host)'")
                }
            }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// The record boundaries of everything received, to bound how much more must arrive.
    private(set) var receivedFraming = TLSRecordFraming()

    /// Received bytes OpenSSL has not read yet (kept between `receive` calls; usually none, as reads
    /// run until OpenSSL asks for more).
    private var unread: ByteBuffer?

    /// Lends bytes received from the network to OpenSSL while `body` runs (handshake steps and reads
    /// take them from where they lie, uncopied); bytes left unread are kept for the next call.
    func receive(_ bytes: ByteBuffer, _ body: () -> Void) {
        bytes.withUnsafeReadableBytes { receivedFraming.advance(over: $0) }
        var input = bytes
        if var held = unread {
            held.writeImmutableBuffer(bytes)
            input = held
            unread = nil
        }
        let remaining = input.withUnsafeReadableBytes { raw in
            rampart_borrowed_bio_lend(networkToSSL, raw.baseAddress, raw.count)
            body()
            return rampart_borrowed_bio_take_back(networkToSSL)
        }
        if remaining > 0 {
            unread = input.getSlice(at: input.writerIndex - remaining, length: remaining)
        }
    }

    /// Takes the ciphertext OpenSSL produced so far (handshake messages, alerts, close_notify), or nil
    /// if there is none.
    func takeOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = rampart_lent_output_bio_overflow_length(sslToNetwork)
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        appendOutput(to: &buffer)
        return buffer
    }

    private func appendOutput(to buffer: inout ByteBuffer) {
        let pending = rampart_lent_output_bio_overflow_length(sslToNetwork)
        guard pending > 0 else { return }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { raw in
            rampart_lent_output_bio_drain_overflow(sslToNetwork, raw.baseAddress, raw.count)
        }
    }

    /// Encrypts `plaintexts` in order, OpenSSL writing the records straight into `buffer` (after any
    /// ciphertext produced before, e.g. a KeyUpdate answer), which is grown once to the room they need;
    /// returns the error of a write that failed (the session is then unusable; later writes were not
    /// encrypted). `room` overrides the space reserved (tests: what does not fit still goes out, after).
    func encrypt(_ plaintexts: [ByteBuffer], into buffer: inout ByteBuffer, room: Int? = nil) -> TLSError? {
        appendOutput(to: &buffer)
        let total = plaintexts.reduce(0) { $0 + $1.readableBytes }
        let room = room ?? Self.ciphertextRoom(plaintext: total, writes: plaintexts.count)
        var failure: TLSError?
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { raw in
            rampart_lent_output_bio_lend(sslToNetwork, raw.baseAddress, raw.count)
            ERR_clear_error()
            for plaintext in plaintexts where plaintext.readableBytes > 0 {
                let rc = plaintext.withUnsafeReadableBytes { raw in
                    SSL_write(ssl, raw.baseAddress, Int32(clamping: raw.count))
                }
                if rc <= 0, case .failed(let error) = classify(rc, operation: "TLS write") {
                    failure = error
                    break
                }
            }
            return rampart_lent_output_bio_take_back(sslToNetwork)
        }
        appendOutput(to: &buffer)
        return failure
    }

    /// The ciphertext room for `plaintext` bytes given in `writes` writes: per record a header, the tag,
    /// the content type or an explicit nonce — under 64 bytes.
    static func ciphertextRoom(plaintext: Int, writes: Int) -> Int {
        plaintext + (plaintext / (16 * 1024) + writes) * 64 + 256
    }

    /// Advances the handshake.
    func handshake() -> TLSOperationResult {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        return rc == 1 ? .complete : classify(rc, operation: "TLS handshake")
    }

    /// Ciphertext received and not yet taken by OpenSSL, in bytes.
    var pendingCiphertext: Int { Int(BIO_ctrl_pending(networkToSSL)) + (unread?.readableBytes ?? 0) }

    /// Empties this thread's OpenSSL error queue, as `read` needs before a run of reads.
    func clearErrors() {
        ERR_clear_error()
    }

    /// Decrypts into the writable bytes of `buffer` (at least one; at most one record); `.complete`
    /// means bytes were appended. A record larger than the space stays in OpenSSL for the next read.
    /// The thread's error queue must be empty (`clearErrors`): a successful read leaves it so, and a run
    /// of reads ends at the first result that is not `.complete`.
    func read(into buffer: inout ByteBuffer) -> TLSOperationResult {
        var rc: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1) { raw in
            rc = SSL_read(ssl, raw.baseAddress, Int32(clamping: raw.count))
            return Int(max(rc, 0))
        }
        return rc > 0 ? .complete : classify(rc, operation: "TLS read")
    }

    /// Queues close_notify (read it with `takeOutput`). We do not wait for the peer's reply.
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The negotiated protocol, e.g. `TLSv1.3`.
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    var cipherSuite: String? {
        guard let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    /// The peer certificate's subject in RFC 2253 form (`CN=alice,OU=eng,O=Example`), or nil when the
    /// peer sent no certificate.
    var peerSubjectRFC2253: String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        guard let subject = rampart_x509_name_rfc2253(X509_get_subject_name(certificate)) else { return nil }
        defer { free(subject) }
        return String(cString: subject)
    }

    private func classify(_ rc: Int32, operation: String) -> TLSOperationResult {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case let code:
            var message = "\(operation) failed (SSL error \(code))"
            let verifyResult = SSL_get_verify_result(ssl)
            if verifyResult != X509_V_OK {
                message += ": certificate verification: \(String(cString: X509_verify_cert_error_string(verifyResult)))"
            }
            let kind: TLSError.Kind = SSL_is_init_finished(ssl) == 1 ? .protocolFailure : .handshakeFailed
            return .failed(TLSError.fromQueue(kind, message))
        }
    }
}
