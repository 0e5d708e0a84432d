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
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
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

    /// Hands bytes received from the network to OpenSSL.
    func feed(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                // Memory BIOs grow as needed; a write only fails on allocation failure.
                let written = BIO_write(networkToSSL, raw.baseAddress! + offset, Int32(clamping: raw.count - offset))
                guard written > 0 else { return }
                offset += Int(written)
            }
        }
    }

    /// Takes the ciphertext OpenSSL produced so far, or nil if there is none.
    func takeOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = BIO_ctrl_pending(sslToNetwork)
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { raw in
            Int(max(0, BIO_read(sslToNetwork, raw.baseAddress, Int32(clamping: pending))))
        }
        return buffer
    }

    /// Advances the handshake.
    func handshake() -> TLSOperationResult {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        return rc == 1 ? .complete : classify(rc, operation: "TLS handshake")
    }

    /// Decrypts into `buffer` (up to 16 KiB, one record); `.complete` means bytes were appended.
    func read(into buffer: inout ByteBuffer) -> TLSOperationResult {
        ERR_clear_error()
        var rc: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 * 1024) { raw in
            rc = SSL_read(ssl, raw.baseAddress, Int32(clamping: raw.count))
            return Int(max(rc, 0))
        }
        return rc > 0 ? .complete : classify(rc, operation: "TLS read")
    }

    /// Encrypts all of `plaintext` (memory BIOs never block, so OpenSSL takes it whole).
    func write(_ plaintext: ByteBuffer) -> TLSOperationResult {
        guard plaintext.readableBytes > 0 else { return .complete }
        ERR_clear_error()
        let rc = plaintext.withUnsafeReadableBytes { raw in
            SSL_write(ssl, raw.baseAddress, Int32(clamping: raw.count))
        }
        return rc > 0 ? .complete : classify(rc, operation: "TLS write")
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
